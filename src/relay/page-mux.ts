/**
 * The relay's side of a page thread's mux socket (`/mux`): one WebSocket
 * carrying many client streams of one session, each framed by its stream
 * number (relay-protocol.ts). Credits are batched per socket, so 200 streams
 * cost one control message per turn of the event loop, not 200.
 *
 * The page proved it may open this socket (the session's mux token); what it
 * sends is still checked: a malformed frame closes this socket (and so the
 * streams on it) with a logged reason, never the relay or other sessions.
 */
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../util/logger.ts';
import {
  MUX_HEADER_SIZE,
  parseControlMessage,
  parseCreditList,
  preview,
  RelayCloseCode,
  type CreditList,
  type MuxServerMessage,
} from '../transport/relay-protocol.ts';
import { rawToBuffer } from './client-connection.ts';
import { closeReason } from './net-util.ts';
import type { PageLink, RelayedStream } from './relayed-stream.ts';

/** What a mux needs from the relay around it. */
export interface PageMuxContext {
  readonly log: Logger;
  /** `who` for log lines: the session and the page's address. */
  readonly label: string;
  /** The session's stream by id (only streams of this mux's session). */
  stream(id: string): RelayedStream | undefined;
  /** The socket closed; called once. */
  closed(mux: PageMux): void;
}

/** Longest control message a page sends (a credit list for thousands of streams fits). */
const MAX_CONTROL_BYTES = 256 * 1024;

/** One page thread's mux socket at the relay. */
export class PageMux implements PageLink {
  private readonly attached = new Map<number, RelayedStream>();
  private readonly pendingCredit = new Map<number, number>();
  private creditScheduled = false;
  private ended = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: PageMuxContext,
  ) {
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(rawToBuffer(data), isBinary));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString('utf8')));
    ws.on('error', (err: Error) => ctx.log.debug(`${ctx.label} mux socket error: ${err.message}`));
  }

  /** Streams attached on this socket now. */
  get streams(): number {
    return this.attached.size;
  }

  send(num: number, bytes: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const header = Buffer.allocUnsafe(MUX_HEADER_SIZE);
    header.writeUInt32LE(num, 0);
    this.ws.send(Buffer.concat([header, bytes]), { binary: true });
  }

  control(msg: MuxServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  credit(num: number, bytes: number): void {
    this.pendingCredit.set(num, (this.pendingCredit.get(num) ?? 0) + bytes);
    if (this.creditScheduled) return;
    this.creditScheduled = true;
    setImmediate(() => {
      this.creditScheduled = false;
      if (this.pendingCredit.size === 0) return;
      const credits: CreditList = [...this.pendingCredit];
      this.pendingCredit.clear();
      this.control({ type: 'credit', credits });
    });
  }

  release(stream: RelayedStream): void {
    if (this.attached.get(stream.num) === stream) this.attached.delete(stream.num);
    this.pendingCredit.delete(stream.num);
  }

  /** Closes the socket (the session ended, or the relay stops). */
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, closeReason(reason));
  }

  terminate(): void {
    this.ws.terminate();
  }

  private fail(reason: string): void {
    this.ctx.log.warn(`${this.ctx.label} mux socket closed: ${reason}`);
    this.close(RelayCloseCode.BadRequest, reason);
  }

  private onMessage(b: Buffer, isBinary: boolean): void {
    if (this.ended) return;
    if (isBinary) {
      if (b.length < MUX_HEADER_SIZE) {
        this.fail(`expected a frame of at least ${MUX_HEADER_SIZE} bytes (stream number first), got ${b.length}`);
        return;
      }
      const num = b.readUInt32LE(0);
      const stream = this.attached.get(num);
      // Bytes in flight when the client left are expected; they have nowhere to go.
      if (stream) stream.fromPage(this, b.subarray(MUX_HEADER_SIZE));
      else this.ctx.log.debug(`${this.ctx.label} discarded ${b.length - MUX_HEADER_SIZE} B for stream ${num}, not attached on this socket`);
      return;
    }
    if (b.length > MAX_CONTROL_BYTES) {
      this.fail(`expected a control message of at most ${MAX_CONTROL_BYTES} bytes, got ${b.length}`);
      return;
    }
    const parsed = parseControlMessage(b.toString('utf8'));
    if (!parsed.ok) {
      this.fail(`bad control message: ${parsed.error}`);
      return;
    }
    const m = parsed.msg;
    if (m.type === 'credit') {
      const list = parseCreditList(m.credits);
      if (!list) {
        this.fail(`expected "credits" as a list of [stream, bytes] pairs, got ${preview(JSON.stringify(m.credits ?? null))}`);
        return;
      }
      for (const [num, n] of list) this.attached.get(num)?.pageCredit(this, n);
      return;
    }
    if (typeof m.stream !== 'string') {
      this.fail(`expected a string "stream" in ${preview(m.type)}, got ${typeof m.stream}`);
      return;
    }
    const stream = this.ctx.stream(m.stream);
    switch (m.type) {
      case 'attach': {
        const token = typeof m.token === 'string' ? m.token : '';
        if (!stream || stream.isClosed || !stream.tokenMatches(token)) {
          this.ctx.log.warn(`${this.ctx.label} attach refused: unknown stream ${preview(m.stream)} or wrong token`);
          this.control({ type: 'refused', stream: m.stream, code: RelayCloseCode.UnknownStream, reason: `unknown stream ${m.stream} in this session, or wrong token` });
          return;
        }
        if (!stream.isAttachable) {
          this.ctx.log.warn(`${this.ctx.label} attach refused: stream ${m.stream} already has a page thread attached`);
          this.control({ type: 'refused', stream: m.stream, code: RelayCloseCode.AlreadyAttached, reason: `stream ${m.stream} is already attached; detach it first` });
          return;
        }
        this.attached.set(stream.num, stream);
        stream.attach(this);
        return;
      }
      case 'detach':
        if (stream) stream.pageDetach(this);
        return;
      case 'close':
        if (stream) stream.pageGone(this);
        return;
      default:
        this.ctx.log.warn(`${this.ctx.label} ignored mux control message ${preview(m.type)}`);
    }
  }

  private onClose(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    const detail = code === 1000 || code === 1005 ? undefined : `mux socket closed, code ${code}${reason ? `: ${reason}` : ''}`;
    for (const s of [...this.attached.values()]) s.pageGone(this, detail);
    this.attached.clear();
    this.ctx.closed(this);
  }
}
