/**
 * A minimal SPICE client of our own, over TCP, for tests that must send what
 * no real client sends (hostile input, slow reads). It links channels with the
 * project's own wire codecs and RSA-OAEP tickets, and frames messages with the
 * mini header. Real clients (spice-html5, spice-gtk) do everything else.
 */
import net from 'node:net';
import { ChannelType, MsgMain, MsgcMain } from '../src/protocol/constants.ts';
import { MINI_HEADER_SIZE, decodeMiniHeader, encodeMiniHeader } from '../src/protocol/data-header.ts';
import { decodeLinkReply, encodeLinkHeader, encodeLinkMess, LINK_HEADER_SIZE } from '../src/protocol/link.ts';
import { decodeMainInit, type MainInit } from '../src/protocol/main-messages.ts';
import { encryptTicket } from '../src/server/ticket.ts';

/** One SPICE message as it came off the wire. */
export interface RawMessage {
  type: number;
  body: Uint8Array;
}

/** Bytes of one linked channel socket, read on demand. */
export class RawChannel {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  /** Resolves when the server (or we) closed the socket. */
  readonly closed: Promise<void>;

  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    this.closed = new Promise((resolve) => {
      sock.once('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      });
    });
    sock.on('error', () => {});
  }

  /** Exactly `n` bytes; rejects if the socket closes first. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`socket closed while waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((r) => (this.wake = r));
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async readMessage(): Promise<RawMessage> {
    const h = decodeMiniHeader(new Uint8Array(await this.read(MINI_HEADER_SIZE)));
    return { type: h.type, body: new Uint8Array(await this.read(h.size)) };
  }

  /** Every complete message received and not read yet, without waiting. */
  takeMessages(): RawMessage[] {
    const out: RawMessage[] = [];
    while (this.buf.length >= MINI_HEADER_SIZE) {
      const h = decodeMiniHeader(new Uint8Array(this.buf.subarray(0, MINI_HEADER_SIZE)));
      if (this.buf.length < MINI_HEADER_SIZE + h.size) break;
      out.push({ type: h.type, body: new Uint8Array(this.buf.subarray(MINI_HEADER_SIZE, MINI_HEADER_SIZE + h.size)) });
      this.buf = this.buf.subarray(MINI_HEADER_SIZE + h.size);
    }
    return out;
  }

  /** Everything received and not read yet; the caller parses from here on. */
  takeRest(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Frames one message (mini header). */
  static frame(type: number, body: Uint8Array = new Uint8Array(0)): Buffer {
    return Buffer.concat([encodeMiniHeader(type, body.byteLength), body]);
  }

  send(type: number, body?: Uint8Array): void {
    this.sock.write(RawChannel.frame(type, body));
  }

  /** Several messages in one write, as an attacker would pipeline them. */
  sendAll(messages: ReadonlyArray<{ type: number; body: Uint8Array }>): void {
    this.sock.write(Buffer.concat(messages.map((m) => RawChannel.frame(m.type, m.body))));
  }

  close(): void {
    this.sock.destroy();
  }
}

/** How to link one channel. */
export interface RawLinkOptions {
  port: number;
  host?: string;
  channelType: number;
  connectionId: number;
  password?: string;
  /** 128 bytes sent as the ticket instead of the encrypted password (an undecryptable one, say). */
  ticket?: Uint8Array;
  /** Loopback source address (127.x.y.z), to act as another client address. */
  localAddress?: string;
}

/**
 * Links one channel over TCP and resolves with the server's link result
 * (0 = OK) and the channel, whatever the result (a refused one is closed by
 * the server).
 */
export async function tryLinkRawChannel(opts: RawLinkOptions): Promise<{ result: number; channel: RawChannel }> {
  const sock = net.connect({ port: opts.port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  await new Promise<void>((r, reject) => sock.once('connect', r).once('error', reject));
  const ch = new RawChannel(sock);
  // Common caps: AUTH_SELECTION, MINI_HEADER.
  const mess = encodeLinkMess({ connectionId: opts.connectionId, channelType: opts.channelType, channelId: 0, commonCaps: [0x9], channelCaps: [] });
  sock.write(encodeLinkHeader(mess.byteLength));
  sock.write(mess);
  const header = await ch.read(LINK_HEADER_SIZE);
  const reply = decodeLinkReply(new Uint8Array(await ch.read(header.readUInt32LE(12))));
  if (reply.error !== 0) {
    ch.close();
    return { result: reply.error, channel: ch };
  }
  sock.write(Buffer.from([1, 0, 0, 0])); // auth mechanism: SPICE ticket
  sock.write(opts.ticket ?? (await encryptTicket(reply.pubKey, opts.password ?? '')));
  return { result: (await ch.read(4)).readUInt32LE(0), channel: ch };
}

/** Links one channel over TCP; throws with the server's link error when it refuses. */
export async function linkRawChannel(opts: RawLinkOptions): Promise<RawChannel> {
  const { result, channel } = await tryLinkRawChannel(opts);
  if (result !== 0) {
    channel.close();
    throw new Error(`link of channel type ${opts.channelType}: expected result 0, got ${result}`);
  }
  return channel;
}

/** A linked main channel and what its INIT said. */
export interface RawSession {
  main: RawChannel;
  init: MainInit;
  /** Links another channel of this session. */
  link(channelType: number): Promise<RawChannel>;
  close(): void;
}

/** Links main, reads INIT, asks for the channel list; more channels through `link` (from `localAddress`, if given). */
export async function connectRawSession(port: number, password?: string, localAddress?: string): Promise<RawSession> {
  const main = await linkRawChannel({ port, channelType: ChannelType.MAIN, connectionId: 0, password, localAddress });
  const first = await main.readMessage();
  if (first.type !== MsgMain.INIT) throw new Error(`main channel: expected INIT (${MsgMain.INIT}) first, got type ${first.type}`);
  const init = decodeMainInit(first.body);
  main.send(MsgcMain.ATTACH_CHANNELS);
  const others: RawChannel[] = [];
  return {
    main,
    init,
    async link(channelType) {
      const ch = await linkRawChannel({ port, channelType, connectionId: init.sessionId, password, localAddress });
      others.push(ch);
      return ch;
    },
    close() {
      for (const ch of others) ch.close();
      main.close();
    },
  };
}
