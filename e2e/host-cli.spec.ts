/** `npm run host -- --headless --guest PATH`: the command-line way to serve a VM, end to end. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { freePort, spicyScreenshot } from './harness.ts';

const ROOT = join(import.meta.dirname, '..');

function startHost(args: string[]): { out: () => string; exited: Promise<number | null>; stop(): void } {
  // As `npm run host` runs it: tsx registered in-process, no wrapper process in between.
  const proc = spawn(process.execPath, ['scripts/run.mjs', 'scripts/host.ts', '--headless', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return {
    out: () => out,
    exited: new Promise((r) => proc.on('exit', (code) => r(code))),
    stop: () => proc.kill('SIGTERM'),
  };
}

test('--guest with a disk image path boots it; clients see it; SIGTERM exits cleanly', async () => {
  const [port, relayPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
  const host = startHost(['--guest', 'guests/text.img', '--port', String(port), '--relay-port', String(relayPort), '--tcp-port', String(tcpPort)]);
  try {
    await expect.poll(host.out, { timeout: 60_000 }).toContain('is hosting session "default"');
    expect(host.out()).toContain(`remote-viewer spice://127.0.0.1:${tcpPort}`);
    expect(host.out()).toMatch(/serving \/local\/0-text\.img/);
    // The text guest's 80x25 screen in a 9x16 font.
    let size = '';
    await expect
      .poll(
        async () => {
          const shot = await spicyScreenshot(tcpPort);
          size = shot.image ? `${shot.image.width}x${shot.image.height}` : shot.result.stderr;
          return size;
        },
        { timeout: 30_000 },
      )
      .toBe('720x400');
  } finally {
    host.stop();
  }
  expect(await host.exited).toBe(0);
});

test('--guest with a missing file fails with a clear message', async () => {
  const host = startHost(['--guest', 'no/such/disk.img', '--port', String(await freePort()), '--relay-port', String(await freePort()), '--tcp-port', 'off']);
  expect(await host.exited).toBe(2);
  expect(host.out()).toMatch(/no such file: .*no\/such\/disk\.img/);
});
