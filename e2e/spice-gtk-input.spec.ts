/**
 * spice-gtk's own inputs channel (driven through SpiceClientGLib by
 * e2e/tools/spice_gtk_client.py over the relay's TCP port) reaches the source
 * with exactly the decoded values, and its display channel holds the test
 * pattern pixel for pixel.
 *
 * What spice-gtk 0.42 puts on the wire (seen with a TCP tap):
 *  - key press / release: KEY_DOWN / KEY_UP with a u32 code (0x1E, 0x9E; 0xCBE0 for E0 CB);
 *  - key press-and-release: one KEY_SCANCODE with the raw bytes (1E 9E; E0 4B E0 CB),
 *    since the server advertises KEY_SCANCODE;
 *  - on inputs channel up: KEY_MODIFIERS with its lock state (0);
 *  - buttons: MOUSE_PRESS / MOUSE_RELEASE, the mask with the button's bit for 1-3, none for the wheel;
 *  - position / motion: MOUSE_POSITION / MOUSE_MOTION, at most 8 unacknowledged; beyond
 *    that spice-gtk keeps the latest position (or the summed motion) until MOUSE_MOTION_ACK.
 */
import { expect, test } from '@playwright/test';
import type { InputEvent } from '../src/server/input-sink.ts';
import { comparePixels, freePort } from './harness.ts';
import { expectedFrame, pauseAndSettle, resume, useHostedSession } from './pages.ts';
import { MOUSE_MODE_CLIENT, MOUSE_MODE_SERVER, SpiceGtkClientError, startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession();

let client: SpiceGtkClient | undefined;

test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

async function connect(): Promise<SpiceGtkClient> {
  await clearEvents();
  client = await startSpiceGtkClient({ port: session.stack().tcpPort });
  // spice-gtk announces its lock state (none) as soon as the inputs channel is up; wait
  // for it so it cannot land among the events a test is about to check.
  await expect.poll(events).toContainEqual({ kind: 'modifiers', modifiers: 0 });
  return client;
}

function events(): Promise<InputEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.inputs.events);
}

async function clearEvents(): Promise<void> {
  await session.host().page.evaluate(() => void window.spiceHost!.inputs.events.splice(0));
}

/** Waits until `count` events have arrived (more would be a failure too), returns them. */
async function settle(count: number): Promise<InputEvent[]> {
  await expect.poll(async () => (await events()).length, { timeout: 5000 }).toBeGreaterThanOrEqual(count);
  await session.host().page.waitForTimeout(100);
  return events();
}

test('spice-gtk keys: plain, E0-extended and modifier keys, as KEY_DOWN/KEY_UP and as KEY_SCANCODE', async () => {
  const c = await connect();
  expect(c.ready).toMatchObject({ width: 1024, height: 768, mouseMode: MOUSE_MODE_CLIENT });
  await clearEvents();

  // KEY_DOWN / KEY_UP.
  expect(await c.key(0x1e, true)).toBe(0x1e); // A
  await c.key(0x1e, false);
  expect(await c.key(0xe04b, true)).toBe(0x14b); // Left arrow, spice-gtk's form
  await c.key([0xe0, 0x4b], false);
  await c.key(0x2a, true); // Left Shift held around an A
  await c.key(0x1e, true);
  await c.key(0x1e, false);
  await c.key(0x2a, false);
  // KEY_SCANCODE (spice-gtk's atomic press and release).
  await c.keyPressRelease(0x1e);
  await c.keyPressRelease(0xe04b);
  await c.keyPressRelease(0x2a);

  expect(await settle(14)).toEqual([
    { kind: 'keyDown', scancode: [0x1e] },
    { kind: 'keyUp', scancode: [0x9e] },
    { kind: 'keyDown', scancode: [0xe0, 0x4b] },
    { kind: 'keyUp', scancode: [0xe0, 0xcb] },
    { kind: 'keyDown', scancode: [0x2a] },
    { kind: 'keyDown', scancode: [0x1e] },
    { kind: 'keyUp', scancode: [0x9e] },
    { kind: 'keyUp', scancode: [0xaa] },
    { kind: 'keyDown', scancode: [0x1e] },
    { kind: 'keyUp', scancode: [0x9e] },
    { kind: 'keyDown', scancode: [0xe0, 0x4b] },
    { kind: 'keyUp', scancode: [0xe0, 0xcb] },
    { kind: 'keyDown', scancode: [0x2a] },
    { kind: 'keyUp', scancode: [0xaa] },
  ]);

  // Lock state (KEY_MODIFIERS): caps + num.
  await clearEvents();
  await c.keyLocks(4 | 2);
  expect(await settle(1)).toEqual([{ kind: 'modifiers', modifiers: 6 }]);
});

test('spice-gtk absolute positions and left, right and wheel buttons (client mouse mode)', async () => {
  const c = await connect();
  expect(await c.mouseMode()).toBe(MOUSE_MODE_CLIENT);
  await clearEvents();

  await c.position(100, 50);
  expect(await c.button(1, true)).toBe(1);
  await c.position(120, 60); // dragging: the mask rides along
  expect(await c.button(1, false)).toBe(0);
  expect(await c.button(3, true)).toBe(4);
  expect(await c.button(3, false)).toBe(0);
  expect(await c.button(4, true)).toBe(0); // wheel up: spice-gtk gives the wheel no mask bit
  await c.button(4, false);
  await c.button(5, true); // wheel down
  await c.button(5, false);
  await c.position(1023, 767);

  const expected: InputEvent[] = [
    { kind: 'position', x: 100, y: 50, buttons: 0, displayId: 0 },
    { kind: 'press', button: 1, buttons: 1 },
    { kind: 'position', x: 120, y: 60, buttons: 1, displayId: 0 },
    { kind: 'release', button: 1, buttons: 0 },
    { kind: 'press', button: 3, buttons: 4 },
    { kind: 'release', button: 3, buttons: 0 },
    { kind: 'press', button: 4, buttons: 0 },
    { kind: 'release', button: 4, buttons: 0 },
    { kind: 'press', button: 5, buttons: 0 },
    { kind: 'release', button: 5, buttons: 0 },
    { kind: 'position', x: 1023, y: 767, buttons: 0, displayId: 0 },
  ];
  expect(await settle(expected.length)).toEqual(expected);
});

test('more than 8 spice-gtk positions and motions get through: MOUSE_MOTION_ACK flows', async () => {
  const c = await connect();
  await clearEvents();

  // Positions: spice-gtk sends 8, then keeps only the latest until the server acknowledges.
  const sent: { x: number; y: number }[] = [];
  for (let i = 0; i < 30; i++) {
    sent.push({ x: 200 + i * 5, y: 300 + i * 3 });
    await c.position(200 + i * 5, 300 + i * 3);
  }
  await expect
    .poll(async () => (await events()).filter((e) => e.kind === 'position').at(-1), { timeout: 5000 })
    .toEqual({ kind: 'position', x: 345, y: 387, buttons: 0, displayId: 0 });
  const positions = (await events()).filter((e) => e.kind === 'position');
  expect(positions.length).toBeGreaterThan(8);
  // Every one was sent, in order (coalescing drops some, never invents or reorders).
  let at = -1;
  for (const p of positions) {
    const i = sent.findIndex((s, j) => j > at && s.x === p.x && s.y === p.y);
    expect(i, `position ${p.x},${p.y} out of order or never sent`).toBeGreaterThan(at);
    at = i;
  }

  // Relative motion in server mouse mode. spice-gtk counts positions and motions in one
  // window, so some of these are held back and summed: what proves the ACKs is that the
  // whole displacement arrives, since without them at most 8 of the 20 steps could.
  await c.requestMouseMode(MOUSE_MODE_SERVER);
  expect(await c.mouseMode()).toBe(MOUSE_MODE_SERVER);
  await clearEvents();
  for (let i = 0; i < 20; i++) await c.motion(1, -2);
  const motions = async (): Promise<Extract<InputEvent, { kind: 'motion' }>[]> =>
    (await events()).filter((e): e is Extract<InputEvent, { kind: 'motion' }> => e.kind === 'motion');
  await expect.poll(async () => (await motions()).reduce((s, e) => s + e.dx, 0), { timeout: 5000 }).toBe(20);
  const m = await motions();
  expect(m.reduce((s, e) => s + e.dy, 0)).toBe(-40);
  expect(m.every((e) => e.dx >= 1 && e.dy === -2 * e.dx && e.buttons === 0), JSON.stringify(m)).toBe(true);

  await c.requestMouseMode(MOUSE_MODE_CLIENT);
  expect(await c.mouseMode()).toBe(MOUSE_MODE_CLIENT);
});

test("spice-gtk's display channel holds the test pattern frame pixel for pixel", async () => {
  const c = await connect();
  const frame = await pauseAndSettle(session.host());
  const expected = expectedFrame(frame);
  let last = { diff: -1, first: '' };
  await expect
    .poll(
      async () => {
        const shot = await c.screenshot();
        expect([shot.width, shot.height]).toEqual([1024, 768]);
        last = comparePixels(shot.rgb, expected, 1024);
        return last.diff;
      },
      { timeout: 10_000, message: `spice-gtk's primary surface differs from frame ${frame}` },
    )
    .toBe(0);
  await resume(session.host());
});

test('the spice-gtk tool fails clearly when nothing listens', async () => {
  const port = await freePort();
  const err = await startSpiceGtkClient({ port, connectTimeoutMs: 5000 }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SpiceGtkClientError);
  expect((err as SpiceGtkClientError).exitCode).toBe(2);
  expect((err as SpiceGtkClientError).message).toMatch(/main channel 0: could not connect/);
});
