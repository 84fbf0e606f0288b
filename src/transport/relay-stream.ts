/**
 * RelayStream: one SPICE client connection as seen by the page, carried by its
 * own WebSocket to the relay's `/stream` endpoint.
 *
 * Works in a window and in a Web Worker (a RedWorker attaches by itself, so
 * display traffic never passes the main thread). A stream can be handed from
 * one thread to another with {@link RelayStream.detach} and a new
 * {@link RelayStream.attach} of the same offer, without losing or duplicating
 * a byte.
 */
import { createLogger } from '../util/logger.ts';
import {
  parseControlMessage,
  preview,
  streamAttachUrl,
  type StreamOffer,
} from './relay-protocol.ts';
import {
  binaryPayload,
  resolveWebSocket,
  WS_OPEN,
  type WebSocketConstructor,
  type WebSocketLike,
} from './websocket-like.ts';
import { concatBytes } from '../util/bytes.ts';

export type { StreamOffer } from './relay-protocol.ts';

const log = createLogger('relay-stream');

/** A failure talking to the relay; `code` is the WebSocket close code when the relay closed the socket. */
export class RelayError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

/**
 * Opens a WebSocket to the relay with the injected or the global constructor;
 * throws a {@link RelayError} saying which URL could not be opened.
 */
export function openRelaySocket(url: string, WebSocketImpl?: WebSocketConstructor): WebSocketLike {
  const Impl = resolveWebSocket(WebSocketImpl);
  try {
    return new Impl(url);
  } catch (err) {
    throw new RelayError(`could not open ${url}: ${(err as Error).message}`);
  }
}

type State = 'attached' | 'detaching' | 'detached' | 'closed';

/**
 * A page socket attached to one client connection; implements the server's
 * `ByteStream`/`HandoffStream` (send, onData, onClose, close, detach, bufferedAmount).
 */
export class RelayStream {
  private state: State = 'attached';
  private dataHandler: ((bytes: Uint8Array) => void) | null = null;
  private readonly queued: Uint8Array[] = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private closeReason: string | null = null;
  private held: Uint8Array[] = [];
  private detachWaiter: { resolve(bytes: Uint8Array): void; reject(err: Error): void } | null = null;

  private constructor(
    /** The offer this stream was attached with (plain data; post it to a Worker to hand the stream over). */
    readonly offer: StreamOffer,
    private readonly ws: WebSocketLike,
  ) {}

  /**
   * Opens a WebSocket to the relay and attaches to the offered stream. Resolves
   * once the relay confirms; rejects with the relay's reason (e.g. close code
   * 4004 for an unknown stream or wrong token).
   */
  static attach(offer: StreamOffer, WebSocketImpl?: WebSocketConstructor): Promise<RelayStream> {
    const url = streamAttachUrl(offer);
    return new Promise<RelayStream>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = openRelaySocket(url, WebSocketImpl);
      } catch (err) {
        reject(err);
        return;
      }
      ws.binaryType = 'arraybuffer';
      const stream = new RelayStream(offer, ws);
      let settled = false;
      ws.addEventListener('message', (ev) => {
        if (settled) {
          stream.onMessage(ev.data);
          return;
        }
        // The relay sends `attached` before any client byte; anything else first is a protocol error.
        const text = typeof ev.data === 'string' ? ev.data : null;
        const parsed = text === null ? null : parseControlMessage(text);
        if (parsed?.ok && parsed.msg.type === 'attached') {
          settled = true;
          resolve(stream);
        } else {
          settled = true;
          reject(new RelayError(`stream ${offer.stream}: expected an "attached" message first, got ${text === null ? 'binary data' : preview(text)}`));
          ws.close(1000, 'protocol error');
        }
      });
      ws.addEventListener('close', (ev) => {
        if (!settled) {
          settled = true;
          const why = ev.reason ? `: ${ev.reason}` : '';
          reject(new RelayError(`relay closed stream ${offer.stream} before it was attached (code ${ev.code})${why}`, ev.code));
          return;
        }
        stream.onSocketClose(ev.code, ev.reason);
      });
      ws.addEventListener('error', () => {
        // A close event always follows and carries the details; only log here.
        log.debug(`stream ${offer.stream}: WebSocket error`);
      });
    });
  }

  /** Queues bytes for the client. Ignored once the stream is closed; an error while detaching. */
  send(bytes: Uint8Array): void {
    if (this.state === 'detaching' || this.state === 'detached') {
      throw new Error(`RelayStream.send: expected an attached stream, got a ${this.state} one (stream ${this.offer.stream})`);
    }
    if (this.state === 'closed' || this.ws.readyState !== WS_OPEN) {
      log.debug(`stream ${this.offer.stream}: dropped ${bytes.byteLength} B sent after close`);
      return;
    }
    // WebSocket.send refuses views of a SharedArrayBuffer (QXL memory); copy those.
    this.ws.send(isShared(bytes) ? bytes.slice() : bytes);
  }

  /** Sets the handler for client bytes; bytes that arrived earlier are delivered to it at once, in order. */
  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataHandler = cb;
    while (this.queued.length > 0 && this.dataHandler === cb && this.state !== 'detaching') {
      cb(this.queued.shift()!);
    }
  }

  /**
   * Adds a handler called once when the stream ends (client gone, relay gone,
   * or {@link close}), with a reason. Not called for a {@link detach}. Called
   * at once if the stream has already ended.
   */
  onClose(cb: (reason: string) => void): void {
    if (this.closeReason !== null) cb(this.closeReason);
    else this.closeHandlers.push(cb);
  }

  /** Closes the stream; the relay then ends the client connection after what was sent. */
  close(): void {
    if (this.state === 'closed' || this.state === 'detached') return;
    this.ws.close(1000, 'page closed the stream');
  }

  /**
   * Stops delivery here so another thread can attach to the same offer.
   * Resolves with every client byte that reached this socket but was not
   * delivered to onData (queued ones included), then closes this socket
   * without ending the stream. The next owner processes those bytes first.
   */
  detach(): Promise<Uint8Array> {
    if (this.state !== 'attached') {
      return Promise.reject(new Error(`RelayStream.detach: expected an attached stream, got a ${this.state} one (stream ${this.offer.stream})`));
    }
    this.state = 'detaching';
    this.held = this.queued.splice(0);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.detachWaiter = { resolve, reject };
      this.ws.send(JSON.stringify({ type: 'detach' }));
    });
  }

  /** Bytes accepted by send() but not yet handed to the network. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  private onMessage(data: unknown): void {
    const bytes = binaryPayload(data);
    if (bytes) {
      if (this.state === 'detaching') this.held.push(bytes);
      else if (this.state === 'attached' && this.dataHandler && this.queued.length === 0) this.dataHandler(bytes);
      else if (this.state === 'attached') this.queued.push(bytes);
      return;
    }
    const text = typeof data === 'string' ? data : '';
    const parsed = parseControlMessage(text);
    if (parsed.ok && parsed.msg.type === 'detached' && this.state === 'detaching') {
      this.state = 'detached';
      const out = concatBytes(this.held);
      this.held = [];
      const waiter = this.detachWaiter;
      this.detachWaiter = null;
      this.ws.close(1000, 'detached');
      waiter?.resolve(out);
      return;
    }
    log.warn(`stream ${this.offer.stream}: ignored unexpected control message ${preview(text)}`);
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.state === 'detached') return; // our own close after a handoff: the stream lives on
    const wasDetaching = this.state === 'detaching';
    this.state = 'closed';
    const why = `stream ${this.offer.stream} closed (code ${code}${reason ? `: ${reason}` : ''})`;
    this.closeReason = why;
    if (wasDetaching) {
      const waiter = this.detachWaiter;
      this.detachWaiter = null;
      waiter?.reject(new RelayError(`detach failed: ${why}`, code));
    }
    for (const cb of this.closeHandlers.splice(0)) cb(why);
  }
}

function isShared(bytes: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;
}
