/**
 * A child process of `npm run bench`: N raw display viewers (e2e/raw-viewer.ts)
 * on one session, kept apart from the relay's process so the relay's CPU is
 * its own. Prints `ready` once all are linked; on each `report` line from
 * stdin prints a JSON line of per-viewer counters; exits on `quit`.
 *   node scripts/run.mjs bench/viewer-swarm.ts PORT N
 */
import { createInterface } from 'node:readline';
import { startRawViewer, type RawViewer } from '../e2e/raw-viewer.ts';

const port = Number(process.argv[2]);
const n = Number(process.argv[3]);
const viewers: RawViewer[] = [];
for (let at = 0; at < n; at += 20) {
  const batch = Array.from({ length: Math.min(20, n - at) }, (_, k) => startRawViewer(port, `127.0.2.${at + k + 1}`));
  viewers.push(...(await Promise.all(batch)));
}
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'report') {
    process.stdout.write(JSON.stringify(viewers.map((v) => ({ messages: v.messages(), updates: v.updates(), bytes: v.bytes() }))) + '\n');
  } else if (line === 'quit') {
    for (const v of viewers) v.close();
    process.exit(0);
  }
}
