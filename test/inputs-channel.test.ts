/**
 * The inputs channel validates and bounds what clients send, and releases what
 * a client holds when it leaves; the main channel refuses bogus mouse modes.
 * Driven over in-memory streams with the real link, ticket and framing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MouseMode, MsgInputs, MsgMain, MsgcInputs, MsgcMain } from '../src/protocol/constants.ts';
import {
  encodeKey,
  encodeMouseButton,
  encodeMouseMotion,
  encodeMousePosition,
} from '../src/protocol/inputs-messages.ts';
import { decodeMouseMode, encodeMouseModeRequest } from '../src/protocol/main-messages.ts';
import { MAX_KEY_SCANCODE_BYTES } from '../src/server/inputs-channel.ts';
import { setLogLevel, setLogSink } from '../src/util/logger.ts';
import { linkInputs, linkMain, makeServer, msg } from './helpers/server-session.ts';

setLogLevel('silent');

/** Captures warnings while a test runs. */
function captureWarnings(): string[] {
  const lines: string[] = [];
  setLogLevel('warn');
  setLogSink((level, scope, message) => void lines.push(`${level} [${scope}] ${message}`));
  return lines;
}

afterEach(() => {
  setLogSink(null);
  setLogLevel('silent');
});

const position = (x: number, y: number, displayId = 0, buttons = 0): Uint8Array =>
  msg(MsgcInputs.MOUSE_POSITION, encodeMousePosition({ x, y, buttons, displayId }));
const motion = (dx: number, dy: number, buttons = 0): Uint8Array => msg(MsgcInputs.MOUSE_MOTION, encodeMouseMotion({ dx, dy, buttons }));
const key = (type: number, scancode: number[]): Uint8Array => msg(type, encodeKey(scancode));
const button = (type: number, b: number, buttons: number): Uint8Array => msg(type, encodeMouseButton({ button: b, buttons }));

describe('inputs channel: validation and bounds', () => {
  it('positions are clamped to the primary surface, other displays ignored, motions bounded, masks cut to known buttons', async () => {
    const warnings = captureWarnings();
    const { server: sp, sink, surface } = makeServer({ surface: { width: 720, height: 400 } });
    const server = await sp;
    const { inputs } = await linkInputs(server);
    inputs.clientSend(position(5000, 5000));
    inputs.clientSend(position(0xffffffff, 10, 0, 0xffff));
    inputs.clientSend(position(719, 399));
    inputs.clientSend(position(3, 4, 1)); // a second display that does not exist
    inputs.clientSend(motion(0x7fffffff, -0x80000000));
    inputs.clientSend(motion(-5, 7, 1));
    expect(sink.events).toEqual([
      { kind: 'position', x: 719, y: 399, buttons: 0, displayId: 0 },
      { kind: 'position', x: 719, y: 10, buttons: 0x7f, displayId: 0 },
      { kind: 'position', x: 719, y: 399, buttons: 0, displayId: 0 },
      { kind: 'motion', dx: 720, dy: -400, buttons: 0 },
      { kind: 'motion', dx: -5, dy: 7, buttons: 1 },
    ]);
    // Six motion messages, ignored ones included: the client still gets its ACK after four.
    expect((await inputs.readMessage()).type).toBe(MsgInputs.MOUSE_MOTION_ACK);

    // The surface changes (a mode switch): the new size bounds from then on.
    surface.current = { width: 1920, height: 1080 };
    sink.events.length = 0;
    inputs.clientSend(position(5000, 5000));
    // No surface at all: pointer input has nothing to point at.
    surface.current = null;
    inputs.clientSend(position(1, 1));
    inputs.clientSend(motion(1, 1));
    expect(sink.events).toEqual([{ kind: 'position', x: 1919, y: 1079, buttons: 0, displayId: 0 }]);
    expect(server.stats().inputsChannels).toBe(1);
    expect(warnings.join('\n')).toMatch(/MOUSE_POSITION ignored: expected display 0 \(the only one\), got 1/);
    expect(warnings.join('\n')).toMatch(/MOUSE_POSITION ignored: no primary surface yet/);
  });

  it('buttons outside 1..7 are ignored; KEY_MODIFIERS keeps only lock bits; long KEY_SCANCODE runs are ignored whole', async () => {
    const warnings = captureWarnings();
    const { server: sp, sink } = makeServer();
    const server = await sp;
    const { inputs } = await linkInputs(server);
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 0, 0));
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 200, 0xffff));
    inputs.clientSend(button(MsgcInputs.MOUSE_RELEASE, 8, 0));
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 7, 0xff40));
    inputs.clientSend(msg(MsgcInputs.KEY_MODIFIERS, [0xff, 0xff]));
    inputs.clientSend(msg(MsgcInputs.KEY_SCANCODE, new Array(MAX_KEY_SCANCODE_BYTES + 1).fill(0x1e)));
    inputs.clientSend(msg(MsgcInputs.KEY_SCANCODE, [0xe0, 0x37, 0xe0, 0xb7, 0xe0])); // a lone prefix at the end is no key
    expect(sink.events).toEqual([
      { kind: 'press', button: 7, buttons: 0x40 },
      { kind: 'modifiers', modifiers: 7 },
      { kind: 'keyDown', scancode: [0xe0, 0x37] },
      { kind: 'keyUp', scancode: [0xe0, 0xb7] },
    ]);
    const log = warnings.join('\n');
    expect(log).toMatch(/MOUSE_PRESS ignored: expected button 1\.\.7, got 0/);
    expect(log).toMatch(/MOUSE_RELEASE ignored: expected button 1\.\.7, got 8/);
    expect(log).toMatch(/KEY_MODIFIERS 0xffff: bits beyond 0x7 ignored/);
    expect(log).toMatch(new RegExp(`KEY_SCANCODE ignored: expected at most ${MAX_KEY_SCANCODE_BYTES} bytes, got ${MAX_KEY_SCANCODE_BYTES + 1}`));
    // The second bad press is logged at debug only: a client cannot flood the log.
    expect(log.match(/MOUSE_PRESS ignored/g)).toHaveLength(1);
    expect(server.stats().inputsChannels).toBe(1);
  });
});

describe('inputs channel: what a client holds is released when it leaves', () => {
  it('held keys (plain and E0, from KEY_DOWN and KEY_SCANCODE) and buttons get their releases when inputs closes', async () => {
    const { server: sp, sink } = makeServer();
    const server = await sp;
    const { inputs } = await linkInputs(server);
    inputs.clientSend(key(MsgcInputs.KEY_DOWN, [0x2a])); // Left Shift
    inputs.clientSend(key(MsgcInputs.KEY_DOWN, [0xe0, 0x4b, 0xdf])); // Left arrow, with spice-html5's stray byte
    inputs.clientSend(key(MsgcInputs.KEY_DOWN, [0xe0, 0x4b])); // auto-repeat: still one key
    inputs.clientSend(msg(MsgcInputs.KEY_SCANCODE, [0x1d])); // Left Ctrl, raw
    inputs.clientSend(msg(MsgcInputs.KEY_SCANCODE, [0x1e, 0x9e])); // A pressed and released: not held
    inputs.clientSend(key(MsgcInputs.KEY_DOWN, [0x10]));
    inputs.clientSend(key(MsgcInputs.KEY_UP, [0x90])); // Q released: not held
    inputs.clientSend(msg(MsgcInputs.KEY_SCANCODE, [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5])); // Pause: nothing stays held
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 1, 1));
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 3, 5));
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 2, 7));
    inputs.clientSend(button(MsgcInputs.MOUSE_RELEASE, 2, 5));
    inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 4, 5)); // the wheel is never held
    expect(sink.events).toHaveLength(17);
    sink.events.length = 0;

    inputs.clientClose();
    await expect.poll(() => server.stats().inputsChannels).toBe(0);
    expect(sink.events).toEqual([
      { kind: 'keyUp', scancode: [0xaa] },
      { kind: 'keyUp', scancode: [0xe0, 0xcb] },
      { kind: 'keyUp', scancode: [0x9d] },
      { kind: 'release', button: 1, buttons: 4 },
      { kind: 'release', button: 3, buttons: 0 },
    ]);
    // The client's main channel is still there; the released keys stay released.
    expect(server.stats().clients).toBe(1);
  });

  it('the whole client leaving (its main channel closes) releases what it holds, and only that', async () => {
    const { server: sp, sink } = makeServer();
    const server = await sp;
    const leaving = await linkInputs(server);
    const staying = await linkInputs(server);
    leaving.inputs.clientSend(key(MsgcInputs.KEY_DOWN, [0xe0, 0x1d])); // Right Ctrl
    leaving.inputs.clientSend(button(MsgcInputs.MOUSE_PRESS, 1, 1));
    staying.inputs.clientSend(key(MsgcInputs.KEY_DOWN, [0x38])); // Alt
    sink.events.length = 0;
    leaving.main.clientClose();
    await expect.poll(() => server.stats().clients).toBe(1);
    expect(leaving.inputs.closed).toBe(true);
    expect(sink.events).toEqual([
      { kind: 'keyUp', scancode: [0xe0, 0x9d] },
      { kind: 'release', button: 1, buttons: 0 },
    ]);
    sink.events.length = 0;
    staying.inputs.clientClose();
    await expect.poll(() => server.stats().inputsChannels).toBe(0);
    expect(sink.events).toEqual([{ kind: 'keyUp', scancode: [0xb8] }]);
  });
});

describe('main channel: mouse mode requests', () => {
  it('only SERVER or CLIENT, and only a supported one; refused ones are logged and never announced', async () => {
    const warnings = captureWarnings();
    const { server: sp } = makeServer({ absoluteMouse: false });
    const server = await sp;
    const { main, init } = await linkMain(server);
    expect(init).toMatchObject({ supportedMouseModes: MouseMode.SERVER, currentMouseMode: MouseMode.SERVER });
    for (const mode of [0xffff, 3, 0, MouseMode.CLIENT, MouseMode.SERVER]) {
      main.clientSend(msg(MsgcMain.MOUSE_MODE_REQUEST, encodeMouseModeRequest(mode)));
    }
    // ATTACH_CHANNELS as a barrier: what follows PING and NOTIFY is its reply, no MOUSE_MODE before it.
    main.clientSend(msg(MsgcMain.ATTACH_CHANNELS, []));
    const types: number[] = [];
    for (let m = await main.readMessage(); ; m = await main.readMessage()) {
      types.push(m.type);
      if (m.type === MsgMain.CHANNELS_LIST) break;
    }
    expect(types).not.toContain(MsgMain.MOUSE_MODE);
    expect(server.mouseMode).toBe(MouseMode.SERVER);
    const log = warnings.join('\n');
    expect(log).toMatch(/mouse mode request 65535 ignored: expected 1 \(server\) or 2 \(client\)/);
    expect(log).toMatch(/mouse mode request 2 ignored: the source supports only server mode now/);
    expect(log).not.toMatch(/mouse mode request 3 ignored/); // same kind as 65535: debug level

    // A later client is told the real mode.
    const later = await linkMain(server);
    expect(later.init).toMatchObject({ supportedMouseModes: MouseMode.SERVER, currentMouseMode: MouseMode.SERVER });

    // Once the source takes positions, CLIENT is valid and announced to everyone.
    server.setAbsoluteMouse(true);
    main.clientSend(msg(MsgcMain.MOUSE_MODE_REQUEST, encodeMouseModeRequest(MouseMode.SERVER)));
    let m = await later.main.readMessage();
    while (m.type !== MsgMain.MOUSE_MODE) m = await later.main.readMessage();
    expect(decodeMouseMode(m.body)).toEqual({ supported: 3, current: MouseMode.CLIENT });
    m = await later.main.readMessage();
    while (m.type !== MsgMain.MOUSE_MODE) m = await later.main.readMessage();
    expect(decodeMouseMode(m.body)).toEqual({ supported: 3, current: MouseMode.SERVER });
  });
});
