/** The server's end of an in-memory connection; the test plays the client. */
import { decodeMiniHeader } from '../../src/protocol/data-header.ts';
import { ByteQueue } from '../../src/server/byte-stream.ts';
import type { HandoffStream } from '../../src/server/spice-server.ts';
import type { StreamOffer } from '../../src/transport/relay-stream.ts';

export class MemoryStream implements HandoffStream {
  readonly toClient = new ByteQueue();
  private dataCb: ((b: Uint8Array) => void) | null = null;
  private closeCb: ((r: string) => void) | null = null;
  private pending: Uint8Array[] = [];
  closed = false;
  bufferedAmount = 0;
  /** Each send() as it came, when recordSends is set: what a WebSocket transport would make one message each. */
  readonly sends: Uint8Array[] = [];
  recordSends = false;
  readonly offer: StreamOffer;
  private waiters: Array<() => void> = [];

  constructor(id: number) {
    this.offer = { stream: String(id), token: 't', transport: 'tcp', remote: '127.0.0.1:1', relayUrl: 'ws://x', session: 'default', muxToken: 'm' };
  }
  send(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.recordSends) this.sends.push(bytes.slice());
    this.toClient.push(bytes.slice());
    for (const w of this.waiters.splice(0)) w();
  }
  onData(cb: (b: Uint8Array) => void): void {
    this.dataCb = cb;
    for (const p of this.pending.splice(0)) cb(p);
  }
  onClose(cb: (r: string) => void): void {
    this.closeCb = cb;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
  }
  async detach(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }
  /** Client → server bytes. */
  clientSend(bytes: Uint8Array): void {
    if (this.dataCb) this.dataCb(bytes);
    else this.pending.push(bytes);
  }
  clientClose(): void {
    this.closed = true;
    this.closeCb?.('client went away');
  }
  /** Reads exactly n bytes the server sent (waits up to 2 s). */
  async read(n: number): Promise<Uint8Array> {
    const deadline = Date.now() + 2000;
    for (;;) {
      const got = this.toClient.take(n);
      if (got) return got;
      if (this.closed || Date.now() > deadline) throw new Error(`expected ${n} bytes, have ${this.toClient.length}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async readMessage(): Promise<{ type: number; body: Uint8Array }> {
    const h = decodeMiniHeader(await this.read(6));
    return { type: h.type, body: await this.read(h.size) };
  }
}

