/**
 * The real spicy window (spice-gtk's SpiceDisplay widget) under Xvfb, driven
 * with xdotool like a user would: a pointer move and a click on the picture
 * and typed keys reach the source with the exact decoded values.
 *
 * SpiceDisplay sends a quickly released key as one KEY_SCANCODE (press and
 * release bytes together) and a key held across another as KEY_DOWN/KEY_UP;
 * focus changes make it resend the lock state (KEY_MODIFIERS), which this
 * test leaves out of its comparisons.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import type { InputEvent } from '../src/server/input-sink.ts';
import { locate, run, startXvfb, type Xvfb } from './harness.ts';
import { expectedFrame, pauseAndSettle, resume, useHostedSession } from './pages.ts';

const session = useHostedSession();
let xvfb: Xvfb;

test.beforeAll(async () => {
  xvfb = await startXvfb();
});
test.afterAll(async () => {
  await xvfb?.stop();
});

async function xdotool(...args: string[]): Promise<string> {
  const r = await run('xdotool', args, 10_000, { DISPLAY: xvfb.display });
  if (r.code !== 0) throw new Error(`xdotool ${args.join(' ')} failed (${r.code} ${r.signal}): ${r.stderr}`);
  return r.stdout.trim();
}

/** Input events except lock-state syncs, which SpiceDisplay sends on focus changes. */
function events(): Promise<InputEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.inputs.events.filter((e) => e.kind !== 'modifiers'));
}

test('spicy under Xvfb: an xdotool pointer move, click and typed keys reach the source', async () => {
  const frame = await pauseAndSettle(session.host());
  const expected = expectedFrame(frame);
  let spicy: ChildProcess | undefined;
  let spicyErr = '';
  // spicy's own settings, not the user's: no scaling (the picture at 1:1, so pointer
  // coordinates are exact), no toolbar or status bar.
  const config = await mkdtemp(join(tmpdir(), 'spicy-config-'));
  await mkdir(join(config, 'spicy'));
  await writeFile(
    join(config, 'spicy', 'settings'),
    '[general]\ngrab-keyboard=true\ngrab-mouse=true\nscaling=false\nresize-guest=false\nauto-clipboard=false\nsync-modifiers=true\n[ui]\ntoolbar=false\nstatusbar=false\n',
  );
  try {
    spicy = spawn('spicy', ['-h', '127.0.0.1', '-p', String(session.stack().tcpPort)], {
      env: { ...process.env, DISPLAY: xvfb.display, XDG_CONFIG_HOME: config },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    spicy.stderr!.on('data', (d: Buffer) => (spicyErr += d.toString()));

    // The display window (it sizes itself to the 1024×768 surface plus the menu bar).
    let win = '';
    await expect
      .poll(async () => (win = (await xdotool('search', '--name', '^spice display').catch(() => '')).split('\n')[0] ?? ''), {
        timeout: 15_000,
        message: `no spicy display window\n${spicyErr}`,
      })
      .not.toBe('');
    await xdotool('windowfocus', '--sync', win);

    // Where the picture is on the X screen (this also proves it is shown at 1:1).
    let at: { x: number; y: number } | null = null;
    await expect
      .poll(async () => (at = locate(await xvfb.grab(), expected, 1024)) !== null, {
        timeout: 15_000,
        message: `the frame never appeared unscaled on the X screen\n${spicyErr}`,
      })
      .toBe(true);
    const origin = at!;

    await session.host().page.evaluate(() => void window.spiceHost!.inputs.events.splice(0));
    await xdotool('mousemove', String(origin.x + 100), String(origin.y + 50));
    await expect
      .poll(events, { timeout: 5000 })
      .toEqual([{ kind: 'position', x: 100, y: 50, buttons: 0, displayId: 0 }]);
    await xdotool('click', '1');
    await xdotool('key', 'a', 'Left');
    await xdotool('key', 'shift+a');
    await expect.poll(async () => (await events()).length, { timeout: 5000 }).toBeGreaterThanOrEqual(11);
    await session.host().page.waitForTimeout(100);
    expect(await events()).toEqual([
      { kind: 'position', x: 100, y: 50, buttons: 0, displayId: 0 },
      { kind: 'press', button: 1, buttons: 1 },
      { kind: 'release', button: 1, buttons: 0 },
      { kind: 'keyDown', scancode: [0x1e] },
      { kind: 'keyUp', scancode: [0x9e] },
      { kind: 'keyDown', scancode: [0xe0, 0x4b] },
      { kind: 'keyUp', scancode: [0xe0, 0xcb] },
      { kind: 'keyDown', scancode: [0x2a] },
      { kind: 'keyDown', scancode: [0x1e] },
      { kind: 'keyUp', scancode: [0xaa] },
      { kind: 'keyUp', scancode: [0x9e] },
    ]);
  } finally {
    spicy?.kill('SIGTERM');
    await resume(session.host());
    await rm(config, { recursive: true, force: true });
  }
});
