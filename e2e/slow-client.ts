/**
 * A deliberately slow SPICE client for flow-control tests (ours, used beside
 * the real clients): it links the main and display channels over TCP, then
 * reads its display socket at a trickle.
 */
import { encodeMiniHeader } from '../src/protocol/data-header.ts';
import { linkChannel, type Reader } from './raw-spice-link.ts';

async function link(port: number, type: number, connectionId: number): Promise<Reader> {
  const { result, reader } = await linkChannel(port, type, connectionId);
  if (result !== 0) throw new Error(`link of channel ${type}: expected result 0, got ${result}`);
  return reader;
}

export interface SlowClient {
  /** Display bytes read so far. */
  readonly bytesRead: () => number;
  close(): void;
}

/** Links main + display, then reads the display socket at `bytesPerSecond`. */
export async function startSlowClient(port: number, bytesPerSecond: number): Promise<SlowClient> {
  const main = await link(port, 1, 0);
  const init = await main.read(6);
  const body = await main.read(init.readUInt32LE(2));
  const sessionId = body.readUInt32LE(0);
  main.sock.write(encodeMiniHeader(104, 0)); // ATTACH_CHANNELS
  const display = await link(port, 2, sessionId);
  // From now on read by hand, a little at a time: the kernel buffers fill and the server must hold back.
  display.sock.removeAllListeners('data');
  display.sock.pause();
  let read = 0;
  const chunk = Math.max(1, Math.round(bytesPerSecond / 10));
  const timer = setInterval(() => {
    let got = 0;
    while (got < chunk) {
      const d = display.sock.read(Math.min(chunk - got, 65536)) as Buffer | null;
      if (!d) break;
      got += d.length;
    }
    read += got;
  }, 100);
  main.sock.on('data', () => {}); // main channel traffic is small: keep it flowing
  return {
    bytesRead: () => read,
    close() {
      clearInterval(timer);
      display.sock.destroy();
      main.sock.destroy();
    },
  };
}
