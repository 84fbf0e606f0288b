/**
 * A deliberately slow SPICE client for flow-control tests (ours, used beside
 * the real clients): it links the main and display channels over TCP, then
 * reads its display socket at a trickle.
 */
import { ChannelType } from '../src/protocol/constants.ts';
import { connectRawSession } from './raw-spice-client.ts';

export interface SlowClient {
  /** Display bytes read so far. */
  readonly bytesRead: () => number;
  close(): void;
}

/** Links main + display, then reads the display socket at `bytesPerSecond`. */
export async function startSlowClient(port: number, bytesPerSecond: number): Promise<SlowClient> {
  const session = await connectRawSession(port);
  const main = session.main;
  const display = await session.link(ChannelType.DISPLAY);
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
      session.close();
    },
  };
}
