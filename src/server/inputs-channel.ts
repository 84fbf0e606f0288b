/** InputsChannelClient (spice-server inputs-channel.cpp): parses every client input message into an InputSink. */
import { INPUT_MOTION_ACK_BUNCH, MsgInputs, MsgcInputs } from '../protocol/constants.ts';
import {
  decodeKey,
  decodeKeyModifiers,
  decodeKeyScancode,
  decodeMouseButton,
  decodeMouseMotion,
  decodeMousePosition,
  encodeInputsInit,
  encodeKeyModifiers,
} from '../protocol/inputs-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { ByteStream } from './byte-stream.ts';
import type { InputSink } from './input-sink.ts';
import { RedChannelClient, type RedChannelClientOptions } from './red-channel-client.ts';

export class InputsChannelClient extends RedChannelClient {
  private motionCount = 0;

  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly sink: InputSink,
    private readonly modifiers: () => number,
  ) {
    super(stream, { ...opts, ackWindow: 0, maxMessageSize: 1024 });
  }

  protected onStart(): void {
    this.send(MsgInputs.INIT, encodeInputsInit(this.modifiers()));
  }

  /** Tells the client the guest's lock state changed. */
  sendKeyModifiers(modifiers: number): void {
    this.send(MsgInputs.KEY_MODIFIERS, encodeKeyModifiers(modifiers));
  }

  private countMotion(): void {
    // Both clients stop after 8 unacknowledged motions; spice-server acks every 4.
    if (++this.motionCount % INPUT_MOTION_ACK_BUNCH === 0) this.send(MsgInputs.MOUSE_MOTION_ACK, new Uint8Array(0));
  }

  protected handleMessage(type: number, body: Uint8Array): void {
    switch (type) {
      case MsgcInputs.KEY_DOWN: {
        const k = decodeKey(body, 'KEY_DOWN');
        if (k.scancode.length) this.sink.keyDown(k.scancode);
        break;
      }
      case MsgcInputs.KEY_UP: {
        const k = decodeKey(body, 'KEY_UP');
        if (k.scancode.length) this.sink.keyUp(k.scancode);
        break;
      }
      case MsgcInputs.KEY_MODIFIERS:
        this.sink.setKeyModifiers(decodeKeyModifiers(body).modifiers);
        break;
      case MsgcInputs.KEY_SCANCODE: {
        // Raw bytes: split into keys (E0/E1 prefix + one byte, else one byte), make vs break by bit 7.
        const bytes = decodeKeyScancode(body).bytes;
        for (let i = 0; i < bytes.length; ) {
          const prefixed = (bytes[i] === 0xe0 || bytes[i] === 0xe1) && i + 1 < bytes.length;
          const key = prefixed ? [bytes[i]!, bytes[i + 1]!] : [bytes[i]!];
          i += key.length;
          const last = key[key.length - 1]!;
          if (last & 0x80) this.sink.keyUp(key);
          else this.sink.keyDown(key);
        }
        break;
      }
      case MsgcInputs.MOUSE_MOTION: {
        const m = decodeMouseMotion(body);
        this.sink.mouseMotion(m.dx, m.dy, m.buttons);
        this.countMotion();
        break;
      }
      case MsgcInputs.MOUSE_POSITION: {
        const p = decodeMousePosition(body);
        this.sink.mousePosition(p.x, p.y, p.buttons, p.displayId);
        this.countMotion();
        break;
      }
      case MsgcInputs.MOUSE_PRESS: {
        const b = decodeMouseButton(body, 'MOUSE_PRESS');
        this.sink.mousePress(b.button, b.buttons);
        break;
      }
      case MsgcInputs.MOUSE_RELEASE: {
        const b = decodeMouseButton(body, 'MOUSE_RELEASE');
        this.sink.mouseRelease(b.button, b.buttons);
        break;
      }
      default:
        throw new ProtocolError(`inputs channel: unknown message type ${type}`);
    }
  }
}
