/**
 * One client connection relayed to the page: buffering until a page socket
 * attaches, forwarding both ways with backpressure, detach/re-attach handoff,
 * and close propagation. The relay never looks inside the bytes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../util/logger.ts';
import {
  parseControlMessage,
  preview,
  RelayCloseCode,
  type HostServerMessage,
  type StreamServerMessage,
} from '../transport/relay-protocol.ts';
import {
  HIGH_WATER_MARK,
  LOW_WATER_MARK,
  rawToBuffer,
  type ClientConnection,
} from './client-connection.ts';
import { closeReason, formatDuration } from './net-util.ts';
import type { AdmissionPass } from './admission.ts';
import { linkPreambleLength } from './link-preamble.ts';

/** Why a stream ended; decides what happens to each side and what the log says. */
export type StreamEnd =
  | { kind: 'client'; detail?: string }
  | { kind: 'page'; detail?: string }
  | { kind: 'abort'; reason: string }
  | { kind: 'hostGone' }
  | { kind: 'stopping' };

/** What a stream needs from the relay around it. */
export interface StreamContext {
  readonly maxBufferedBytes: number;
  /** Most bytes a client may send before it has authenticated (a link request is well under 5 KiB). */
  readonly maxUnauthenticatedBytes: number;
  readonly attachTimeoutMs: number;
  readonly log: Logger;
  /** Its place among unauthenticated connections; released when the stream ends. */
  readonly pass: AdmissionPass;
  /** The opening link request is complete: the relay may offer the stream to the page (after {@link RelayedStream.offered}). */
  ready(stream: RelayedStream): void;
  /** Accounts `delta` bytes held in relay buffers; false when the relay-wide cap would be passed. */
  reserveBuffer(delta: number): boolean;
  /** Sends a control message to the session's host socket, if there is one. */
  notifyHost(msg: HostServerMessage): void;
  /** Removes the stream from the relay's bookkeeping; called exactly once. */
  finished(stream: RelayedStream): void;
}

type State = 'admitting' | 'waiting' | 'attached' | 'detached' | 'closed';

/**
 * Relay-side state of one client connection: `admitting` (reading the opening
 * link request, not yet offered) → `waiting` (offered, buffering, no page
 * socket yet) → `attached` ⇄ `detached` (buffering again) → `closed`.
 */
export class RelayedStream {
  /** 128-bit random hex token the page must present to attach. */
  readonly token = randomBytes(16).toString('hex');
  readonly startedAt = Date.now();
  private state: State = 'admitting';
  private authed = false;
  private preambleDone = false;
  /** Bytes of the opening link request, once its header is in. */
  private preambleLength: number | null = null;
  private page: WebSocket | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private attachTimer: ReturnType<typeof setTimeout> | undefined;
  private clientPausedForPage = false;
  private pagePausedForClient = false;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(
    readonly id: string,
    readonly session: string,
    readonly client: ClientConnection,
    private readonly ctx: StreamContext,
  ) {}

  /** Starts reading the client's opening link request (buffered until the page attaches). */
  start(): void {
    this.client.start({
      data: (b) => this.fromClient(b),
      drain: () => this.clientDrained(),
      close: (detail) => this.finish({ kind: 'client', detail }),
      invalid: (reason) => this.finish({ kind: 'abort', reason: `client ${reason}` }),
    });
    this.ctx.log.debug(`${this.label()} opened`);
  }

  /** The relay offered the stream to the page: reading goes on and the attach deadline runs. */
  offered(): void {
    if (this.state !== 'admitting') return;
    this.state = 'waiting';
    this.client.resume();
    this.armAttachTimer();
  }

  /** The client's ticket was accepted: it no longer counts as unauthenticated. */
  authenticated(): void {
    this.authed = true;
    this.ctx.pass.authenticated();
  }

  /** Ends the stream because the relay must let it go (limits, deadlines). */
  evict(reason: string): void {
    this.finish({ kind: 'abort', reason });
  }

  /** The `open` message offered to the host. */
  offerMessage(): HostServerMessage {
    return {
      type: 'open',
      stream: this.id,
      token: this.token,
      transport: this.client.transport,
      remote: this.client.remote,
    };
  }

  tokenMatches(token: string): boolean {
    const a = Buffer.from(token);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  get isAttached(): boolean {
    return this.state === 'attached';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Binds a page socket (token already checked): flushes what was buffered, then forwards both ways. */
  attach(sock: WebSocket): void {
    if (this.state !== 'waiting' && this.state !== 'detached') {
      throw new Error(`stream ${this.id}: expected a waiting or detached stream to attach to, got ${this.state}`);
    }
    clearTimeout(this.attachTimer);
    const again = this.state === 'detached';
    this.state = 'attached';
    this.page = sock;
    sock.on('message', (data: RawData, isBinary: boolean) => this.fromPage(sock, data, isBinary));
    sock.on('close', (code: number) => {
      if (sock === this.page) this.finish({ kind: 'page', detail: code === 1000 || code === 1005 ? undefined : `code ${code}` });
    });
    sock.on('error', (err: Error) => this.ctx.log.debug(`${this.label()} page socket error: ${err.message}`));
    this.sendControl(sock, { type: 'attached', stream: this.id });
    const buffered = this.pending;
    const n = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.ctx.reserveBuffer(-n);
    for (const b of buffered) this.sendToPage(sock, b);
    this.ctx.log.debug(`${this.label()} page ${again ? 're-attached' : 'attached'}, flushed ${n} B`);
  }

  /** Ends the stream once, closing whichever sides are still open as `how` demands. */
  finish(how: StreamEnd): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.attachTimer);
    this.ctx.pass.release();
    const page = this.page;
    this.page = null;
    this.pending = [];
    this.ctx.reserveBuffer(-this.pendingBytes);
    this.pendingBytes = 0;

    switch (how.kind) {
      case 'client':
        page?.close(1000, 'client closed the connection');
        break;
      case 'page':
        this.client.end(); // page closed: deliver what it sent, then end
        break;
      case 'abort':
        this.client.abort(how.reason);
        page?.close(1000, closeReason(`client connection closed: ${how.reason}`));
        break;
      case 'hostGone':
        this.client.abort('the page hosting this session left', 1001);
        page?.close(RelayCloseCode.HostGone, 'the page hosting this session left');
        break;
      case 'stopping':
        this.client.terminate();
        page?.terminate();
        break;
    }
    if (how.kind === 'client' || how.kind === 'page' || how.kind === 'abort') {
      this.ctx.notifyHost({ type: 'closed', stream: this.id, reason: describeEnd(how) });
    }
    this.ctx.log.info(
      `${this.label()} ${describeEnd(how)} after ${formatDuration(Date.now() - this.startedAt)} ` +
        `(in ${this.bytesIn} B, out ${this.bytesOut} B)`,
    );
    this.ctx.finished(this);
  }

  private label(): string {
    return `stream ${this.id} ${this.client.transport} ${this.client.remote} session=${this.session}`;
  }

  private armAttachTimer(): void {
    clearTimeout(this.attachTimer);
    const ms = this.ctx.attachTimeoutMs;
    this.attachTimer = setTimeout(() => {
      this.finish({ kind: 'abort', reason: `no page attached within ${ms} ms` });
    }, ms);
    this.attachTimer.unref();
  }

  private fromClient(b: Buffer): void {
    if (this.state === 'closed') return;
    this.bytesIn += b.length;
    if (!this.authed && this.bytesIn > this.ctx.maxUnauthenticatedBytes) {
      this.finish({ kind: 'abort', reason: `sent more than ${this.ctx.maxUnauthenticatedBytes} B before authenticating` });
      return;
    }
    if (this.state === 'attached' && this.page) {
      this.sendToPage(this.page, b);
      return;
    }
    if (!this.ctx.reserveBuffer(b.length)) {
      this.finish({ kind: 'abort', reason: 'the relay-wide buffer limit is reached' });
      return;
    }
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes > this.ctx.maxBufferedBytes) {
      this.finish({
        kind: 'abort',
        reason: `buffer overflow: more than ${this.ctx.maxBufferedBytes} B from the client while no page was attached`,
      });
      return;
    }
    if (this.state === 'admitting' && !this.preambleDone) {
      // The header says how long the request is: look once, then only count (a client
      // sending one byte per packet must not make us re-read what came before).
      this.preambleLength ??= linkPreambleLength(this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending));
      if (this.preambleLength !== null && this.pendingBytes >= this.preambleLength) {
        // Hold further bytes in the kernel until the page takes the stream.
        this.preambleDone = true;
        this.client.pause();
        this.ctx.ready(this);
      }
    }
  }

  /** Client → page, pausing the client while the page socket is backed up. */
  private sendToPage(sock: WebSocket, b: Buffer): void {
    if (sock.readyState !== sock.OPEN) return;
    sock.send(b, { binary: true }, () => {
      if (this.clientPausedForPage && sock === this.page && sock.bufferedAmount <= LOW_WATER_MARK) {
        this.clientPausedForPage = false;
        this.client.resume();
      }
    });
    if (!this.clientPausedForPage && sock.bufferedAmount > HIGH_WATER_MARK) {
      this.clientPausedForPage = true;
      this.client.pause();
    }
  }

  /** Page → client. Only the attached socket is listened to; a detached one is ignored. */
  private fromPage(sock: WebSocket, data: RawData, isBinary: boolean): void {
    if (sock !== this.page || this.state !== 'attached') {
      if (!isBinary) return;
      const n = rawToBuffer(data).length;
      // Data still in flight when the client left is expected; data on a socket the page detached is not.
      if (this.state === 'closed') this.ctx.log.debug(`${this.label()} discarded ${n} B the page sent after the client left`);
      else this.ctx.log.warn(`${this.label()} dropped ${n} B from a detached page socket`);
      return;
    }
    if (isBinary) {
      const b = rawToBuffer(data);
      this.bytesOut += b.length;
      if (!this.client.write(b) && !this.pagePausedForClient) {
        this.pagePausedForClient = true;
        sock.pause();
      }
      return;
    }
    const parsed = parseControlMessage(rawToBuffer(data).toString('utf8'));
    if (!parsed.ok) {
      this.ctx.log.warn(`${this.label()} ignored a bad control message from the page: ${parsed.error}`);
      return;
    }
    if (parsed.msg.type === 'detach') {
      this.detach(sock);
    } else {
      this.ctx.log.warn(`${this.label()} ignored control message ${preview(parsed.msg.type)}; expected "detach"`);
    }
  }

  /**
   * Stops forwarding to `sock` and says so in-band: every binary frame before
   * `detached` is what that socket got, everything after is buffered for the
   * next attach, so a handoff neither loses nor duplicates a byte.
   */
  private detach(sock: WebSocket): void {
    this.state = 'detached';
    this.page = null;
    // The old socket must keep reading so its close is seen; the client must keep
    // reading because its bytes now go to the buffer.
    if (this.pagePausedForClient) {
      this.pagePausedForClient = false;
      sock.resume();
    }
    if (this.clientPausedForPage) {
      this.clientPausedForPage = false;
      this.client.resume();
    }
    this.sendControl(sock, { type: 'detached', stream: this.id });
    this.armAttachTimer();
    this.ctx.log.debug(`${this.label()} page detached; buffering until re-attach`);
  }

  private clientDrained(): void {
    if (this.pagePausedForClient) {
      this.pagePausedForClient = false;
      this.page?.resume();
    }
  }

  private sendControl(sock: WebSocket, msg: StreamServerMessage): void {
    if (sock.readyState === sock.OPEN) sock.send(JSON.stringify(msg));
  }
}

function describeEnd(how: StreamEnd): string {
  switch (how.kind) {
    case 'client':
      return how.detail ? `closed by client (${how.detail})` : 'closed by client';
    case 'page':
      return how.detail ? `closed by page (${how.detail})` : 'closed by page';
    case 'abort':
      return `closed: ${how.reason}`;
    case 'hostGone':
      return 'closed: the page hosting the session left';
    case 'stopping':
      return 'closed: relay stopping';
  }
}
