/**
 * Hostile or careless input cannot hurt the session (issue 8, part 5), against
 * the text guest, which echoes typing:
 *  - 100 MOUSE_POSITION (and MOUSE_MOTION) messages with huge values from a raw
 *    client reach the source clamped to the surface, and the guest still echoes
 *    a real client's typing within seconds (they used to freeze v86 for a minute);
 *  - keys and buttons held by a client that leaves are released for the next one;
 *  - a MOUSE_MODE_REQUEST for a mode that does not exist is ignored with a logged
 *    reason, and later clients are told the real mode.
 */
import { expect, test } from '@playwright/test';
import { ChannelType, MouseMode, MsgMain, MsgcInputs, MsgcMain } from '../src/protocol/constants.ts';
import { encodeMouseMotion, encodeMousePosition } from '../src/protocol/inputs-messages.ts';
import { encodeMouseModeRequest } from '../src/protocol/main-messages.ts';
import type { InputEvent } from '../src/server/input-sink.ts';
import { openHtml5, useHostedSession, vgaText } from './pages.ts';
import { connectRawSession } from './raw-spice-client.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';
import { textOf } from './vga-text.ts';

const session = useHostedSession('&fda=/guests/text.img');

/** The guest's text screen; '' when the v86 worker does not answer within 2 s (it is busy). */
async function screen(): Promise<string> {
  const read = vgaText(session.host()).then((d) => (d ? textOf(d).join('\n') : ''));
  const late = new Promise<string>((r) => setTimeout(() => r(''), 2000));
  return Promise.race([read, late]);
}

function events(): Promise<InputEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.inputs.events);
}

async function clearEvents(): Promise<void> {
  await session.host().page.evaluate(() => void window.spiceHost!.inputs.events.splice(0));
}

async function surfaceSize(): Promise<{ width: number; height: number }> {
  return session.host().page.evaluate(async () => {
    const s = await window.spiceHost!.vm!.stats();
    return { width: s.width, height: s.height };
  });
}

/** spice-gtk's make code for each lower-case letter used here. */
const SCANCODES: Record<string, number> = { a: 0x1e, f: 0x21, e: 0x12, o: 0x18, k: 0x25, q: 0x10, s: 0x1f };

test.beforeAll(async () => {
  await expect.poll(screen, { timeout: 60_000 }).toContain('Type here>');
});

test('100 MOUSE_POSITION with huge coordinates: clamped, and typing still echoes within seconds', async () => {
  const typist = await startSpiceGtkClient({ port: session.stack().tcpPort });
  const attacker = await connectRawSession(session.stack().tcpPort);
  try {
    const inputs = await attacker.link(ChannelType.INPUTS);
    await clearEvents();
    const huge = 0xffffffff;
    const attack = [];
    for (let i = 0; i < 100; i++) {
      const far = i % 2 === 1;
      attack.push({
        type: MsgcInputs.MOUSE_POSITION,
        body: encodeMousePosition({ x: far ? huge : 0, y: far ? huge : 0, buttons: 0, displayId: 0 }),
      });
    }
    for (let i = 0; i < 100; i++) {
      const d = i % 2 === 0 ? 0x7fffffff : -0x80000000;
      attack.push({ type: MsgcInputs.MOUSE_MOTION, body: encodeMouseMotion({ dx: d, dy: d, buttons: 0 }) });
    }
    inputs.sendAll(attack); // 1.7 KB of positions, 1.6 KB of motions, in one write
    // The server has taken them all once the last motion is recorded.
    await expect.poll(async () => (await events()).filter((e) => e.kind === 'motion').length, { timeout: 15_000 }).toBe(100);

    // A real client types; the guest echoes it promptly.
    for (const ch of 'safe') await typist.keyPressRelease(SCANCODES[ch]!);
    await expect.poll(screen, { timeout: 15_000 }).toMatch(/Type here>.*safe/);

    // What reached the source is inside the surface.
    const { width, height } = await surfaceSize();
    const got = await events();
    const positions = got.filter((e): e is Extract<InputEvent, { kind: 'position' }> => e.kind === 'position');
    expect(positions.length).toBe(100);
    expect(positions.filter((p) => p.x > width - 1 || p.y > height - 1 || p.x < 0 || p.y < 0)).toEqual([]);
    expect(positions.at(-1)).toMatchObject({ x: width - 1, y: height - 1 });
    const motions = got.filter((e): e is Extract<InputEvent, { kind: 'motion' }> => e.kind === 'motion');
    expect(motions.filter((m) => Math.abs(m.dx) > width || Math.abs(m.dy) > height)).toEqual([]);
  } finally {
    attacker.close();
    await typist.close();
  }
});

test('keys and buttons a client holds are released when it leaves', async ({ browser }) => {
  // spice-html5: Shift and Left arrow (E0-prefixed) held, and the left button, then the page goes away.
  const html5 = await openHtml5(browser, session.stack());
  const canvas = html5.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: 20_000 });
  await canvas.click();
  await clearEvents();
  await html5.page.keyboard.down('Shift');
  await html5.page.keyboard.down('ArrowLeft');
  const box = (await canvas.boundingBox())!;
  await html5.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await html5.page.mouse.down();
  await expect.poll(events, { timeout: 10_000 }).toEqual(
    expect.arrayContaining([
      { kind: 'keyDown', scancode: [0x2a] },
      { kind: 'keyDown', scancode: [0xe0, 0x4b] },
      expect.objectContaining({ kind: 'press', button: 1 }),
    ]),
  );
  await clearEvents();
  await html5.page.context().close();
  await expect.poll(events, { timeout: 15_000 }).toEqual(
    expect.arrayContaining([
      { kind: 'keyUp', scancode: [0xaa] },
      { kind: 'keyUp', scancode: [0xe0, 0xcb] },
      { kind: 'release', button: 1, buttons: 0 },
    ]),
  );

  // spice-gtk: a key and the right button held, then the client quits.
  const holder = await startSpiceGtkClient({ port: session.stack().tcpPort });
  await holder.key(0x2a, true); // Left Shift
  await holder.button(3, true);
  await expect.poll(events, { timeout: 10_000 }).toEqual(
    expect.arrayContaining([{ kind: 'keyDown', scancode: [0x2a] }, { kind: 'press', button: 3, buttons: 4 }]),
  );
  await clearEvents();
  await holder.close();
  await expect.poll(events, { timeout: 15_000 }).toEqual(
    expect.arrayContaining([{ kind: 'keyUp', scancode: [0xaa] }, { kind: 'release', button: 3, buttons: 0 }]),
  );

  // The guest agrees: Shift is up, so the next client's q is a lower-case q.
  const typist = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    for (const ch of 'ok') await typist.keyPressRelease(SCANCODES[ch]!);
    await expect.poll(screen, { timeout: 15_000 }).toMatch(/Type here>.*ok/);
  } finally {
    await typist.close();
  }
});

test('MOUSE_MODE_REQUEST for a mode that does not exist is ignored, and later clients are told the real mode', async () => {
  const attacker = await connectRawSession(session.stack().tcpPort);
  try {
    // The text guest has no absolute pointer: only server mode is supported.
    expect(attacker.init).toMatchObject({ supportedMouseModes: MouseMode.SERVER, currentMouseMode: MouseMode.SERVER });
    for (const mode of [0xffff, MouseMode.SERVER | MouseMode.CLIENT, 0, MouseMode.CLIENT]) {
      attacker.main.send(MsgcMain.MOUSE_MODE_REQUEST, encodeMouseModeRequest(mode));
    }
    const logs = (): string => session.host().logs.join('\n');
    await expect.poll(logs, { timeout: 10_000 }).toMatch(/mouse mode request 65535 ignored/);
    await expect.poll(logs, { timeout: 10_000 }).toMatch(/mouse mode request 2 ignored/);

    const later = await connectRawSession(session.stack().tcpPort);
    expect(later.init).toMatchObject({ supportedMouseModes: MouseMode.SERVER, currentMouseMode: MouseMode.SERVER });
    later.close();
    const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
    try {
      expect(gtk.ready.mouseMode).toBe(MouseMode.SERVER);
      expect(await gtk.mouseMode()).toBe(MouseMode.SERVER);
    } finally {
      await gtk.close();
    }
    // Nobody was told about a mode change, the requester included.
    expect(attacker.main.takeMessages().filter((m) => m.type === MsgMain.MOUSE_MODE)).toEqual([]);
  } finally {
    attacker.close();
  }
});
