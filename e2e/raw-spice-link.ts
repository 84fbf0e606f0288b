/**
 * The link stage of a SPICE client, written by us for tests that need what
 * no real client does (a trickle reader, a password-guessing burst from a
 * chosen loopback address). Always used beside the real clients.
 */
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import net from 'node:net';
import { decodeLinkReply, encodeLinkHeader, encodeLinkMess } from '../src/protocol/link.ts';

/** Reads exact byte counts from a socket. */
export class Reader {
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

/** How to link: which password (or raw ticket bytes), from which loopback address. */
export interface LinkOptions {
  password?: string;
  /** 128 bytes sent as the ticket instead of the encrypted password. */
  ticket?: Buffer;
  localAddress?: string;
}

/**
 * Links one channel over TCP (auth selection + mini header, SPICE ticket)
 * and resolves with the link result (0 = OK) and the reader for what follows.
 */
export async function linkChannel(
  port: number,
  type: number,
  connectionId: number,
  opts: LinkOptions = {},
): Promise<{ result: number; reader: Reader }> {
  const sock = net.connect({ port, host: '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  sock.on('error', () => {});
  await new Promise<void>((r, reject) => sock.once('connect', r).once('error', reject));
  const r = new Reader(sock);
  const mess = encodeLinkMess({ connectionId, channelType: type, channelId: 0, commonCaps: [0x9], channelCaps: [] });
  sock.write(encodeLinkHeader(mess.byteLength));
  sock.write(mess);
  const header = await r.read(16);
  const reply = decodeLinkReply(new Uint8Array(await r.read(header.readUInt32LE(12))));
  const key = createPublicKey({ key: Buffer.from(reply.pubKey), format: 'der', type: 'spki' });
  sock.write(Buffer.from([1, 0, 0, 0]));
  const plain = Buffer.concat([Buffer.from(opts.password ?? '', 'utf8'), Buffer.from([0])]);
  sock.write(opts.ticket ?? publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain));
  return { result: (await r.read(4)).readUInt32LE(0), reader: r };
}
