/**
 * A raw display viewer of our own (used beside the real clients): it links
 * main and display over TCP, reads every display message as it comes and
 * acknowledges them as spice-gtk does (ACK_SYNC after SET_ACK, an ACK every
 * window), so the server treats it as a live viewer. It counts what it got;
 * it does not decode pictures (the real clients check pixels).
 */
import { ChannelType, MsgCommon, MsgcCommon, MsgcDisplay, MsgDisplay } from '../src/protocol/constants.ts';
import { MINI_HEADER_SIZE } from '../src/protocol/data-header.ts';
import { connectRawSession, RawChannel } from './raw-spice-client.ts';

export interface RawViewer {
  readonly sessionId: number;
  /** Display messages received (all types). */
  readonly messages: () => number;
  /** Messages that paint (DRAW_COPY, COPY_BITS, STREAM_DATA) received. */
  readonly updates: () => number;
  /** Display bytes received. */
  readonly bytes: () => number;
  close(): void;
}

/** Connects a viewer to the relay's TCP port from `localAddress` (a loopback address). */
export async function startRawViewer(port: number, localAddress?: string): Promise<RawViewer> {
  const session = await connectRawSession(port, undefined, localAddress);
  session.main.sock.removeAllListeners('data');
  session.main.sock.on('data', () => {}); // main channel traffic is small: keep it flowing, unread
  const display = await session.link(ChannelType.DISPLAY);
  // Whatever the link left unread, then a parser of our own over the socket.
  let buf: Buffer = Buffer.from(display.takeRest());
  display.sock.removeAllListeners('data');
  display.send(MsgcDisplay.INIT, new Uint8Array(14)); // no caches: pixmap cache 0, glz dictionary 0
  let messages = 0;
  let updates = 0;
  let bytes = 0;
  let window = 0;
  let sinceAck = 0;
  const take = (): void => {
    while (buf.length >= MINI_HEADER_SIZE) {
      const type = buf.readUInt16LE(0);
      const size = buf.readUInt32LE(2);
      if (buf.length < MINI_HEADER_SIZE + size) break;
      const body = buf.subarray(MINI_HEADER_SIZE, MINI_HEADER_SIZE + size);
      buf = buf.subarray(MINI_HEADER_SIZE + size);
      messages++;
      if (type === MsgDisplay.DRAW_COPY || type === MsgDisplay.COPY_BITS || type === MsgDisplay.STREAM_DATA) updates++;
      if (type === MsgCommon.SET_ACK) {
        window = body.readUInt32LE(4);
        sinceAck = 0;
        display.sock.write(RawChannel.frame(MsgcCommon.ACK_SYNC, body.subarray(0, 4)));
      } else if (window > 0 && ++sinceAck >= window) {
        sinceAck = 0;
        display.sock.write(RawChannel.frame(MsgcCommon.ACK));
      }
    }
  };
  display.sock.on('data', (d: Buffer) => {
    bytes += d.length;
    buf = buf.length ? Buffer.concat([buf, d]) : Buffer.from(d);
    take();
  });
  take();
  return {
    sessionId: session.init.sessionId,
    messages: () => messages,
    updates: () => updates,
    bytes: () => bytes,
    close: () => session.close(),
  };
}
