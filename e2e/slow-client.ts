/**
 * A deliberately slow SPICE client for flow-control tests (ours, used beside
 * the real clients): it links the main and display channels over TCP, then
 * reads its display socket at a trickle.
 */
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import net from 'node:net';
import { encodeMiniHeader } from '../src/protocol/data-header.ts';
import { decodeLinkReply, encodeLinkHeader, encodeLinkMess } from '../src/protocol/link.ts';

class Reader {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
  }
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      await new Promise<void>((r, reject) => {
        this.wake = r;
        this.sock.once('close', () => reject(new Error(`closed while waiting for ${n} bytes`)));
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

async function link(port: number, type: number, connectionId: number): Promise<Reader> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, reject) => sock.once('connect', r).once('error', reject));
  const r = new Reader(sock);
  const mess = encodeLinkMess({ connectionId, channelType: type, channelId: 0, commonCaps: [0x9], channelCaps: [] });
  sock.write(encodeLinkHeader(mess.byteLength));
  sock.write(mess);
  const header = await r.read(16);
  const reply = decodeLinkReply(new Uint8Array(await r.read(header.readUInt32LE(12))));
  const key = createPublicKey({ key: Buffer.from(reply.pubKey), format: 'der', type: 'spki' });
  sock.write(Buffer.from([1, 0, 0, 0]));
  sock.write(publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from('\0')));
  const result = (await r.read(4)).readUInt32LE(0);
  if (result !== 0) throw new Error(`link of channel ${type}: expected result 0, got ${result}`);
  return r;
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
