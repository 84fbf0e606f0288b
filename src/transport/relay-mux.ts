/**
 * RelayMux: one page thread's socket to the relay (`/mux`), carrying every
 * client connection that thread serves. The page's WebSocket count then grows
 * with its threads, not with its clients (Chromium allows a page about 255).
 *
 * Works in a window, a Web Worker and Node (`ws`). Each thread keeps one mux
 * per registration ({@link RelayMux.for}); streams on it are
 * {@link RelayStream}s. Flow control is per stream (see relay-protocol.ts):
 * the relay credits what it wrote to a client, this side credits what it took
 * from one, so a slow client holds its own bytes only.
 */
import { createLogger } from '../util/logger.ts';
import {
  MUX_HEADER_SIZE,
  muxStreamNumber,
  muxProtocols,
  muxUrl,
  parseControlMessage,
  parseCreditList,
  preview,
  RelayCloseCode,
  type CreditList,
  type MuxClientMessage,
  type StreamOffer,
} from './relay-protocol.ts';
import { binaryPayload, WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket-like.ts';
import { openRelaySocket, RelayError } from './relay-socket.ts';

const log = createLogger('relay-mux');

/** How long a mux with no streams stays open for the next one. */
const IDLE_CLOSE_MS = 30_000;

/** What a stream on a mux is told by it. */
export interface MuxStreamSink {
  /** Client bytes for this stream. */
  data(bytes: Uint8Array): void;
  /** The relay credited `bytes` of what this stream sent. */
  credit(bytes: number): void;
  /** The relay confirmed a detach: no more bytes come here. */
  detached(): void;
  /** The stream ended (client gone, relay gone, socket closed), with a reason and the close code if any. */
  closed(reason: string, code?: number): void;
}

/** One mux socket's figures, see {@link RelayMux.stats}. */
export interface MuxStats {
  streams: number;
  attaching: number;
  socketBuffered: number;
  bytesSent: number;
}

interface Attaching {
  resolve(): void;
  reject(err: RelayError): void;
}

const muxes = new Map<string, RelayMux>();

/** A page thread's mux socket; get one with {@link RelayMux.for}. */
export class RelayMux {
  private readonly ws: WebSocketLike;
  private readonly sinks = new Map<number, MuxStreamSink>();
  private readonly attaching = new Map<number, Attaching>();
  private readonly outbox: string[] = [];
  private readonly pendingCredit = new Map<number, number>();
  private creditTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private closedReason: string | null = null;
  private opened = false;
  /** Bytes sent on this socket (headers included), for stats. */
  bytesSent = 0;

  private constructor(
    private readonly key: string,
    offer: StreamOffer,
    WebSocketImpl: WebSocketConstructor | undefined,
  ) {
    this.ws = openRelaySocket(muxUrl(offer), WebSocketImpl, muxProtocols(offer.muxToken));
    this.ws.binaryType = 'arraybuffer';
    this.ws.addEventListener('open', () => {
      this.opened = true;
      for (const text of this.outbox.splice(0)) this.ws.send(text);
    });
    this.ws.addEventListener('message', (ev) => this.onMessage(ev.data));
    this.ws.addEventListener('close', (ev) => this.onClose(ev.code, ev.reason));
    this.ws.addEventListener('error', () => log.debug('mux socket error (its close event follows)'));
  }

  /**
   * The calling thread's mux for the offer's registration, opened on first
   * use. Offers of one registration share one socket per thread.
   */
  static for(offer: StreamOffer, WebSocketImpl?: WebSocketConstructor): RelayMux {
    const key = `${offer.relayUrl} ${offer.session} ${offer.muxToken}`;
    let mux = muxes.get(key);
    if (!mux || mux.closedReason !== null) {
      mux = new RelayMux(key, offer, WebSocketImpl);
      muxes.set(key, mux);
    }
    return mux;
  }

  /**
   * A mux of its own, outside this thread's registry: for a caller that
   * stands for another thread (tests), or that wants its streams apart.
   */
  static create(offer: StreamOffer, WebSocketImpl?: WebSocketConstructor): RelayMux {
    return new RelayMux('', offer, WebSocketImpl);
  }

  /** This thread's mux sockets now: streams carried, attaches waiting, bytes not yet sent, bytes sent. */
  static stats(): MuxStats[] {
    return [...muxes.values()].map((m) => ({
      streams: m.sinks.size,
      attaching: m.attaching.size,
      socketBuffered: m.ws.bufferedAmount,
      bytesSent: m.bytesSent,
    }));
  }

  /** Mux sockets this thread has open (for stats and tests). */
  static get openCount(): number {
    return muxes.size;
  }

  /** Streams carried now. */
  get streams(): number {
    return this.sinks.size;
  }

  /** Asks the relay for the offered stream; resolves once it is attached here. */
  attach(offer: StreamOffer, sink: MuxStreamSink): Promise<void> {
    const id = muxStreamNumber(offer.stream);
    if (id === null) return Promise.reject(new RelayError(`expected a numeric stream id, got ${preview(offer.stream)}`, RelayCloseCode.UnknownStream));
    if (this.closedReason !== null) return Promise.reject(new RelayError(`mux closed: ${this.closedReason}`));
    if (this.sinks.has(id) || this.attaching.has(id)) {
      return Promise.reject(new RelayError(`stream ${offer.stream} is already attached on this thread; detach it first`, RelayCloseCode.AlreadyAttached));
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return new Promise<void>((resolve, reject) => {
      this.attaching.set(id, {
        resolve: () => {
          this.sinks.set(id, sink);
          resolve();
        },
        reject: (err) => {
          this.armIdle();
          reject(err);
        },
      });
      this.control({ type: 'attach', stream: offer.stream, token: offer.token });
    });
  }

  /** Sends one whole message of stream `id` (one WebSocket message). */
  sendData(id: number, bytes: Uint8Array): void {
    if (this.ws.readyState !== WS_OPEN) return;
    // One copy: the header and the message must be one WebSocket message (and
    // WebSocket.send refuses views of a SharedArrayBuffer anyway).
    const frame = new Uint8Array(MUX_HEADER_SIZE + bytes.byteLength);
    new DataView(frame.buffer).setUint32(0, id, true);
    frame.set(bytes, MUX_HEADER_SIZE);
    this.ws.send(frame);
    this.bytesSent += frame.byteLength;
  }

  /** Credits the relay for `bytes` of stream `id` this thread took (sent in batches). */
  credit(id: number, bytes: number): void {
    if (bytes <= 0 || !this.sinks.has(id)) return;
    this.pendingCredit.set(id, (this.pendingCredit.get(id) ?? 0) + bytes);
    this.creditTimer ??= setTimeout(() => this.flushCredit(), 0);
  }

  /** Asks the relay to stop delivering stream `id` here (its `detached` ends delivery). */
  detach(id: number, stream: string): void {
    this.flushCredit(); // credits of this attachment must arrive before the detach
    this.control({ type: 'detach', stream });
  }

  /** Forgets a stream that detached or closed; the socket closes after a while with none. */
  release(id: number): void {
    this.sinks.delete(id);
    this.pendingCredit.delete(id);
    this.armIdle();
  }

  /** Ends stream `id` from the page's side (the relay ends the client after what was sent). */
  closeStream(id: number, stream: string): void {
    this.flushCredit();
    this.control({ type: 'close', stream });
    this.release(id);
  }

  /** Bytes this thread handed to the socket that it has not sent yet. */
  get socketBuffered(): number {
    return this.ws.bufferedAmount;
  }

  private armIdle(): void {
    if (this.sinks.size > 0 || this.attaching.size > 0 || this.idleTimer !== undefined || this.closedReason !== null) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.sinks.size > 0 || this.attaching.size > 0) return;
      // Out of the registry at once: the next attach opens a fresh socket instead of one closing.
      this.closedReason = 'closed after idling';
      if (muxes.get(this.key) === this) muxes.delete(this.key);
      this.ws.close(1000, 'no streams');
    }, IDLE_CLOSE_MS);
    (this.idleTimer as { unref?: () => void }).unref?.();
  }

  private flushCredit(): void {
    clearTimeout(this.creditTimer);
    this.creditTimer = undefined;
    if (this.pendingCredit.size === 0) return;
    const credits: CreditList = [...this.pendingCredit];
    this.pendingCredit.clear();
    this.control({ type: 'credit', credits });
  }

  private control(msg: MuxClientMessage): void {
    const text = JSON.stringify(msg);
    if (this.ws.readyState === WS_OPEN) this.ws.send(text);
    else if (this.closedReason === null) this.outbox.push(text);
  }

  private onMessage(data: unknown): void {
    const bytes = binaryPayload(data);
    if (bytes) {
      if (bytes.byteLength < MUX_HEADER_SIZE) {
        log.warn(`ignored a ${bytes.byteLength}-byte mux frame: expected at least a ${MUX_HEADER_SIZE}-byte header`);
        return;
      }
      const id = new DataView(bytes.buffer, bytes.byteOffset, MUX_HEADER_SIZE).getUint32(0, true);
      const sink = this.sinks.get(id);
      if (sink) sink.data(bytes.subarray(MUX_HEADER_SIZE));
      else log.debug(`dropped ${bytes.byteLength - MUX_HEADER_SIZE} B for stream ${id}, not attached here`);
      return;
    }
    const text = typeof data === 'string' ? data : '';
    const parsed = parseControlMessage(text);
    if (!parsed.ok) {
      log.warn(`ignored a bad control message on the mux: ${parsed.error}`);
      return;
    }
    const m = parsed.msg;
    if (m.type === 'credit') {
      const list = parseCreditList(m.credits);
      if (!list) {
        log.warn(`ignored a credit message without a valid credit list: ${preview(text)}`);
        return;
      }
      for (const [id, n] of list) this.sinks.get(id)?.credit(n);
      return;
    }
    const id = typeof m.stream === 'string' ? muxStreamNumber(m.stream) : null;
    if (id === null) {
      log.warn(`ignored control message ${preview(m.type)} without a stream id`);
      return;
    }
    switch (m.type) {
      case 'attached': {
        const w = this.attaching.get(id);
        this.attaching.delete(id);
        w?.resolve();
        return;
      }
      case 'refused': {
        const w = this.attaching.get(id);
        this.attaching.delete(id);
        const code = typeof m.code === 'number' ? m.code : RelayCloseCode.BadRequest;
        const why = `relay refused stream ${m.stream as string} (code ${code}): ${typeof m.reason === 'string' ? m.reason : 'no reason'}`;
        if (w) {
          w.reject(new RelayError(why, code));
          return;
        }
        // A refused detach: the relay no longer has the stream here, so it is over for this thread.
        const sink = this.sinks.get(id);
        this.release(id);
        sink?.closed(why, code);
        return;
      }
      case 'detached':
        this.sinks.get(id)?.detached();
        return;
      case 'closed': {
        const sink = this.sinks.get(id);
        this.release(id);
        sink?.closed(`stream ${m.stream as string} closed: ${typeof m.reason === 'string' ? m.reason : 'by the relay'}`);
        return;
      }
      default:
        log.warn(`ignored unexpected mux control message ${preview(m.type)}`);
    }
  }

  private onClose(code: number, reason: string): void {
    clearTimeout(this.creditTimer);
    clearTimeout(this.idleTimer);
    // A refused handshake reaches a browser as a bare 1006: say what it likely was.
    const hint = !this.opened ? ': the relay refused the socket (an old mux token, too many sockets, or no such session; its log says which) or could not be reached' : '';
    const why = `relay mux socket closed (code ${code}${reason ? `: ${reason}` : ''})${hint}`;
    this.closedReason = why;
    this.outbox.length = 0; // control messages for a socket that never opened go nowhere
    if (muxes.get(this.key) === this) muxes.delete(this.key);
    for (const w of this.attaching.values()) w.reject(new RelayError(`relay closed the mux before the stream was attached (code ${code})${reason ? `: ${reason}` : ''}${hint}`, code));
    this.attaching.clear();
    const sinks = [...this.sinks.values()];
    this.sinks.clear();
    for (const s of sinks) s.closed(why, code);
  }
}
