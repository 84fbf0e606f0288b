// Bootstrap for worker_threads running TypeScript: registers tsx in this
// thread, then imports the .ts entry named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
