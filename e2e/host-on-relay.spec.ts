/**
 * One relay, many sessions: `npm run host -- --relay URL` hosts a second
 * session on a relay that already serves one, with the operator's key; both
 * are reached by spice-gtk (the TCP port, and CONNECT through the relay).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { comparePixels, freePort, spicyScreenshot } from './harness.ts';
import { expectedFrame, pauseAndSettle, resume, useHostedSession } from './pages.ts';

const ROOT = join(import.meta.dirname, '..');
const session = useHostedSession();

test('npm run host --relay hosts session "lab" beside "default"; spicy-screenshot reaches both', async () => {
  const stack = session.stack();
  const dir = mkdtempSync(join(tmpdir(), 'host-on-relay-'));
  const keyFile = join(dir, 'relay.key');
  writeFileSync(keyFile, `${stack.relay.relayKey}\n`, { mode: 0o600 });
  const port = await freePort();
  stack.relay.allowOrigin(`http://127.0.0.1:${port}`); // the operator lets this page server's pages host
  const args = ['scripts/run.mjs', 'scripts/host.ts', '--headless', '--relay', stack.relayUrl, '--session', 'lab', '--relay-key-file', keyFile, '--port', String(port)];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  try {
    await expect.poll(() => out, { timeout: 90_000 }).toContain('is hosting session "lab"');
    expect(out).toContain(`SPICE_PROXY=http://127.0.0.1:${stack.relayPort} remote-viewer spice://lab:5900`);
    expect(out).not.toContain(stack.relay.relayKey!);
    expect(stack.relay.stats().sessions).toBe(2);
    // "lab" through the relay as a proxy: the test pattern at its size.
    const lab = await spicyScreenshot(5900, undefined, { host: 'lab', env: { SPICE_PROXY: `http://127.0.0.1:${stack.relayPort}` } });
    expect(lab.image, lab.result.stderr).not.toBeNull();
    expect(`${lab.image!.width}x${lab.image!.height}`).toBe('1024x768');
    // "default" on the TCP port, exact, untouched by the other session.
    const frame = await pauseAndSettle(session.host());
    const shot = await spicyScreenshot(stack.tcpPort);
    expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
    await resume(session.host());
  } finally {
    proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  expect(await exited).toBe(0);
  // It stopped hosting on purpose: the relay frees "lab" at once and keeps serving "default".
  await expect.poll(() => stack.relay.stats().sessions, { timeout: 10_000 }).toBe(1);
});

test('--relay without the relay\'s key, or with a password meant for the relay, says what to do', async () => {
  const base = ['scripts/run.mjs', 'scripts/host.ts', '--headless', '--relay', session.stack().relayUrl, '--port', String(await freePort())];
  for (const [extra, message] of [
    [[], /--relay: expected the relay's key in --relay-key-file FILE or SPICE_RELAY_KEY/],
    [['--password', 'x'], /--relay: the relay checks passwords; give it one there/],
  ] as const) {
    const proc = spawn(process.execPath, [...base, ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPICE_RELAY_KEY: '' } });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    expect(await new Promise<number | null>((r) => proc.on('exit', (code) => r(code)))).toBe(2);
    expect(out).toMatch(message);
  }
});
