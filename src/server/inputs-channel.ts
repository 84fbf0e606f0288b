/**
 * InputsChannelClient (spice-server inputs-channel.cpp): parses every client
 * input message, checks it against what the session really has (the primary
 * surface, one display, the known buttons and lock keys), bounds it, and hands
 * it to an InputSink. It remembers which keys and buttons its client holds and
 * releases them when the channel goes away, as spice-server does.
 */
import {
  INPUT_MOTION_ACK_BUNCH,
  KEY_MODIFIERS_ALL,
  MOUSE_BUTTON_MASK_ALL,
  MouseButton,
  MsgInputs,
  MsgcInputs,
} from '../protocol/constants.ts';
import {
  decodeKey,
  decodeKeyModifiers,
  decodeKeyScancode,
  decodeMouseButton,
  decodeMouseMotion,
  decodeMousePosition,
  encodeInputsInit,
  encodeKeyModifiers,
  splitScancodeRun,
} from '../protocol/inputs-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { ByteStream } from './byte-stream.ts';
import type { SurfaceSize } from './dispatcher.ts';
import type { InputSink } from './input-sink.ts';
import { KbdState, MouseButtonState } from './input-state.ts';
import { RedChannelClient, type RedChannelClientOptions } from './red-channel-client.ts';

/**
 * Longest KEY_SCANCODE run taken. Real clients send one key press and release
 * (at most Print Screen's 8 bytes); a longer run is ignored whole rather than
 * cut, which could leave half a key sequence behind.
 */
export const MAX_KEY_SCANCODE_BYTES = 16;

/** What the inputs channel asks of the server. */
export interface InputsChannelHost {
  /** The guest's lock state, for INIT. */
  keyModifiers(): number;
  /** The primary surface pointer input is checked against (null: none yet, pointer input ignored). */
  primarySurface(): SurfaceSize | null;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export class InputsChannelClient extends RedChannelClient {
  private motionCount = 0;
  private readonly kbd = new KbdState();
  private readonly mouse = new MouseButtonState();

  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly sink: InputSink,
    private readonly host: InputsChannelHost,
  ) {
    super(stream, { ...opts, ackWindow: 0, maxMessageSize: 1024 });
  }

  protected onStart(): void {
    this.send(MsgInputs.INIT, encodeInputsInit(this.host.keyModifiers()));
  }

  /** Tells the client the guest's lock state changed. */
  sendKeyModifiers(modifiers: number): void {
    this.send(MsgInputs.KEY_MODIFIERS, encodeKeyModifiers(modifiers));
  }

  private countMotion(): void {
    // Both clients stop after 8 unacknowledged motions; spice-server acks every 4.
    // Counted for ignored motions too, or the client would wait for an ACK that never comes.
    if (++this.motionCount % INPUT_MOTION_ACK_BUNCH === 0) this.send(MsgInputs.MOUSE_MOTION_ACK, new Uint8Array(0));
  }

  private keyDown(scancode: readonly number[]): void {
    this.kbd.push(scancode);
    this.sink.keyDown(scancode);
  }

  private keyUp(scancode: readonly number[]): void {
    this.kbd.push(scancode);
    this.sink.keyUp(scancode);
  }

  /** The surface pointer input is checked against, or null (the message is ignored, with a logged reason). */
  private surfaceFor(what: string): SurfaceSize | null {
    const s = this.host.primarySurface();
    if (!s || s.width < 1 || s.height < 1) {
      this.ignore(`${what} surface`, `${what} ignored: no primary surface yet`);
      return null;
    }
    return s;
  }

  protected handleMessage(type: number, body: Uint8Array): void {
    switch (type) {
      case MsgcInputs.KEY_DOWN: {
        const k = decodeKey(body, 'KEY_DOWN');
        if (k.scancode.length) this.keyDown(k.scancode);
        break;
      }
      case MsgcInputs.KEY_UP: {
        const k = decodeKey(body, 'KEY_UP');
        if (k.scancode.length) this.keyUp(k.scancode);
        break;
      }
      case MsgcInputs.KEY_MODIFIERS: {
        const { modifiers } = decodeKeyModifiers(body);
        if (modifiers & ~KEY_MODIFIERS_ALL) {
          this.ignore('KEY_MODIFIERS', `KEY_MODIFIERS 0x${modifiers.toString(16)}: bits beyond 0x${KEY_MODIFIERS_ALL.toString(16)} ignored`);
        }
        this.sink.setKeyModifiers(modifiers & KEY_MODIFIERS_ALL);
        break;
      }
      case MsgcInputs.KEY_SCANCODE: {
        // Raw bytes: split into keys (E0/E1 prefix + one byte, else one byte), make vs break by bit 7.
        const { bytes } = decodeKeyScancode(body);
        if (bytes.length > MAX_KEY_SCANCODE_BYTES) {
          this.ignore('KEY_SCANCODE', `KEY_SCANCODE ignored: expected at most ${MAX_KEY_SCANCODE_BYTES} bytes, got ${bytes.length}`);
          break;
        }
        for (const key of splitScancodeRun(bytes)) {
          if (key[key.length - 1]! & 0x80) this.keyUp(key);
          else this.keyDown(key);
        }
        break;
      }
      case MsgcInputs.MOUSE_MOTION: {
        const m = decodeMouseMotion(body);
        this.countMotion();
        const s = this.surfaceFor('MOUSE_MOTION');
        if (!s) break;
        // A move longer than the surface only pins the pointer to an edge: bound it there.
        this.sink.mouseMotion(clamp(m.dx, -s.width, s.width), clamp(m.dy, -s.height, s.height), m.buttons & MOUSE_BUTTON_MASK_ALL);
        break;
      }
      case MsgcInputs.MOUSE_POSITION: {
        const p = decodeMousePosition(body);
        this.countMotion();
        if (p.displayId !== 0) {
          this.ignore('MOUSE_POSITION display', `MOUSE_POSITION ignored: expected display 0 (the only one), got ${p.displayId}`);
          break;
        }
        const s = this.surfaceFor('MOUSE_POSITION');
        if (!s) break;
        this.sink.mousePosition(clamp(p.x, 0, s.width - 1), clamp(p.y, 0, s.height - 1), p.buttons & MOUSE_BUTTON_MASK_ALL, 0);
        break;
      }
      case MsgcInputs.MOUSE_PRESS:
      case MsgcInputs.MOUSE_RELEASE: {
        const press = type === MsgcInputs.MOUSE_PRESS;
        const what = press ? 'MOUSE_PRESS' : 'MOUSE_RELEASE';
        const b = decodeMouseButton(body, what);
        if (b.button < MouseButton.LEFT || b.button > MouseButton.EXTRA) {
          this.ignore(what, `${what} ignored: expected button ${MouseButton.LEFT}..${MouseButton.EXTRA}, got ${b.button}`);
          break;
        }
        const buttons = b.buttons & MOUSE_BUTTON_MASK_ALL;
        if (press) {
          this.mouse.press(b.button);
          this.sink.mousePress(b.button, buttons);
        } else {
          this.mouse.release(b.button);
          this.sink.mouseRelease(b.button, buttons);
        }
        break;
      }
      default:
        throw new ProtocolError(`inputs channel: unknown message type ${type}`);
    }
  }

  /** What the client held stays pressed in the source unless released here (spice-server does the same). */
  protected override onDisconnected(_reason: string): void {
    const keys = this.kbd.releaseAll();
    const buttons = this.mouse.releaseAll();
    for (const k of keys) this.sink.keyUp(k);
    for (const b of buttons) this.sink.mouseRelease(b.button, b.buttons);
    if (keys.length || buttons.length) this.log.info(`released ${keys.length} key(s) and ${buttons.length} button(s) the client held`);
  }
}
