/**
 * `npm run test:stress`: the whole e2e suite (or the Playwright arguments
 * given) while two processes burn CPU, as on a slow, shared machine. The
 * burners are started here and stopped when the suite ends, however it ends.
 * Exits with Playwright's status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const BURNERS = 2;
const ROOT = join(import.meta.dirname, '..');

const burners: ChildProcess[] = [];
for (let i = 0; i < BURNERS; i++) {
  // A busy loop in a separate process: one core's worth of competition each.
  burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}
const stopBurners = (): void => {
  for (const b of burners) if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
};
process.on('exit', stopBurners);

const started = Date.now();
process.stdout.write(`test:stress: ${BURNERS} CPU burners running (pids ${burners.map((b) => b.pid).join(', ')})\n`);
const suite = spawn(process.execPath, [join(ROOT, 'node_modules', '@playwright', 'test', 'cli.js'), 'test', ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
});
// Ctrl+C / SIGTERM: Playwright gets it (it shares our process group on a terminal, not otherwise) and we stop the burners.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => suite.kill(sig));
suite.on('exit', (code, signal) => {
  stopBurners();
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  process.stdout.write(`test:stress: suite ${code === 0 ? 'passed' : `failed (${code ?? signal})`} in ${minutes} min under ${BURNERS} CPU burners\n`);
  process.exit(code ?? 1);
});
