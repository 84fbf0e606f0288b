/**
 * One client connection relayed to the page: buffering until a page thread
 * attaches, forwarding both ways with per-stream flow control over the
 * page's mux socket, detach/re-attach handoff, and close propagation. The
 * relay never looks inside the bytes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../util/logger.ts';
import {
  MUX_CLIENT_WINDOW,
  MUX_PAGE_WINDOW,
  RelayCloseCode,
  type HostServerMessage,
  type MuxServerMessage,
} from '../transport/relay-protocol.ts';
import type { ClientConnection } from './client-connection.ts';
import { formatDuration } from './net-util.ts';
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

/** Where an attached stream's page side is: a page thread's mux socket (page-mux.ts). */
export interface PageLink {
  /** Client bytes of stream `num` to the page. */
  send(num: number, bytes: Buffer): void;
  /** A control message about one stream to the page. */
  control(msg: MuxServerMessage): void;
  /** Tells the page `bytes` of what stream `num` sent reached the client's socket. */
  credit(num: number, bytes: number): void;
  /** The stream no longer uses this link (detached or ended). */
  release(stream: RelayedStream): void;
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
  private page: PageLink | null = null;
  /** Counts attachments, so credits of an earlier one are not taken for the current one's. */
  private epoch = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private attachTimer: ReturnType<typeof setTimeout> | undefined;
  private clientPausedForPage = false;
  /** Client bytes sent to the page that it has not credited (this attachment). */
  private clientInFlight = 0;
  /** Page bytes handed to the client's socket and not yet written out (this attachment). */
  private pageBacklog = 0;
  /** Page bytes in the client's socket buffer, all attachments (counted in the relay-wide cap). */
  private clientBuffered = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  /** The stream's number in mux frames. */
  readonly num: number;

  constructor(
    readonly id: string,
    readonly session: string,
    readonly client: ClientConnection,
    private readonly ctx: StreamContext,
  ) {
    this.num = Number(id);
  }

  /** Starts reading the client's opening link request (buffered until the page attaches). */
  start(): void {
    this.client.start({
      data: (b) => this.fromClient(b),
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

  /** True while the page may attach (offered and not attached now). */
  get isAttachable(): boolean {
    return this.state === 'waiting' || this.state === 'detached';
  }

  /** Binds a page thread's mux (token already checked): flushes what was buffered, then forwards both ways. */
  attach(link: PageLink): void {
    if (!this.isAttachable) {
      throw new Error(`stream ${this.id}: expected a waiting or detached stream to attach to, got ${this.state}`);
    }
    clearTimeout(this.attachTimer);
    const again = this.state === 'detached';
    this.state = 'attached';
    this.page = link;
    this.epoch++;
    this.clientInFlight = 0;
    this.pageBacklog = 0;
    link.control({ type: 'attached', stream: this.id });
    const buffered = this.pending;
    const n = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.ctx.reserveBuffer(-n);
    for (const b of buffered) this.sendToPage(link, b);
    this.ctx.log.debug(`${this.label()} page ${again ? 're-attached' : 'attached'}, flushed ${n} B`);
  }

  /** Page → client: one message of the attached page thread, written with per-stream credit. */
  fromPage(link: PageLink, b: Buffer): void {
    if (link !== this.page || this.state !== 'attached') {
      if (this.state === 'closed') this.ctx.log.debug(`${this.label()} discarded ${b.length} B the page sent after the client left`);
      else this.ctx.log.warn(`${this.label()} dropped ${b.length} B from a page thread it is not attached to`);
      return;
    }
    // The page keeps its backlog under its window; one that ignores credit loses the stream, not the relay its memory.
    if (this.pageBacklog > MUX_PAGE_WINDOW) {
      this.finish({ kind: 'abort', reason: `the page sent past its window (${this.pageBacklog} B uncredited, at most ${MUX_PAGE_WINDOW})` });
      return;
    }
    if (!this.ctx.reserveBuffer(b.length)) {
      this.finish({ kind: 'abort', reason: 'the relay-wide buffer limit is reached' });
      return;
    }
    this.bytesOut += b.length;
    this.pageBacklog += b.length;
    this.clientBuffered += b.length;
    const epoch = this.epoch;
    this.client.write(b, () => {
      if (this.state === 'closed') return; // finish() released what was still buffered
      this.clientBuffered -= b.length;
      this.ctx.reserveBuffer(-b.length);
      if (epoch !== this.epoch || this.page !== link) return;
      this.pageBacklog -= b.length;
      link.credit(this.num, b.length);
    });
  }

  /** The page took `n` more client bytes: the client may send that much more. */
  pageCredit(link: PageLink, n: number): void {
    if (link !== this.page) return;
    this.clientInFlight = Math.max(0, this.clientInFlight - n);
    if (this.clientPausedForPage && this.clientInFlight <= MUX_CLIENT_WINDOW / 2) {
      this.clientPausedForPage = false;
      this.client.resume();
    }
  }

  /**
   * The attached page thread asked to stop here. Says so in-band: every
   * frame before `detached` is what that thread got, everything after is
   * buffered for the next attach, so a handoff neither loses nor duplicates
   * a byte.
   */
  pageDetach(link: PageLink): void {
    if (link !== this.page || this.state !== 'attached') {
      link.control({ type: 'refused', stream: this.id, code: RelayCloseCode.UnknownStream, reason: `stream ${this.id} is not attached on this socket` });
      return;
    }
    this.state = 'detached';
    this.page = null;
    this.epoch++;
    this.clientInFlight = 0;
    this.pageBacklog = 0;
    // The client must keep reading: its bytes now go to the buffer.
    if (this.clientPausedForPage) {
      this.clientPausedForPage = false;
      this.client.resume();
    }
    link.control({ type: 'detached', stream: this.id });
    link.release(this);
    this.armAttachTimer();
    this.ctx.log.debug(`${this.label()} page detached; buffering until re-attach`);
  }

  /** The page closed the stream, or the mux it was attached on went away. */
  pageGone(link: PageLink, detail?: string): void {
    if (link === this.page) this.finish({ kind: 'page', detail });
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
    this.ctx.reserveBuffer(-this.pendingBytes - this.clientBuffered);
    this.pendingBytes = 0;
    this.clientBuffered = 0;

    switch (how.kind) {
      case 'client':
        page?.control({ type: 'closed', stream: this.id, reason: 'client closed the connection' });
        break;
      case 'page':
        this.client.end(); // page closed: deliver what it sent, then end
        break;
      case 'abort':
        this.client.abort(how.reason);
        page?.control({ type: 'closed', stream: this.id, reason: `client connection closed: ${how.reason}` });
        break;
      case 'hostGone':
        this.client.abort('the page hosting this session left', 1001);
        page?.control({ type: 'closed', stream: this.id, reason: 'the page hosting this session left' });
        break;
      case 'stopping':
        this.client.terminate();
        break;
    }
    page?.release(this);
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

  /** Client → page, pausing the client while the page has not credited a window's worth. */
  private sendToPage(link: PageLink, b: Buffer): void {
    link.send(this.num, b);
    this.clientInFlight += b.length;
    if (!this.clientPausedForPage && this.clientInFlight > MUX_CLIENT_WINDOW) {
      this.clientPausedForPage = true;
      this.client.pause();
    }
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
