/**
 * RelayStream: one SPICE client connection as seen by the page, carried on
 * its thread's mux socket to the relay (see relay-mux.ts).
 *
 * Works in a window and in a Web Worker (a RedWorker attaches by itself, so
 * display traffic never passes the main thread). A stream can be handed from
 * one thread to another with {@link RelayStream.detach} and a new
 * {@link RelayStream.attach} of the same offer, without losing or duplicating
 * a byte.
 */
import { createLogger } from '../util/logger.ts';
import { muxStreamNumber, type StreamOffer } from './relay-protocol.ts';
import { RelayMux } from './relay-mux.ts';
import { RelayError } from './relay-socket.ts';
import type { WebSocketConstructor } from './websocket-like.ts';
import { concatBytes } from '../util/bytes.ts';

export type { StreamOffer } from './relay-protocol.ts';
export { RelayError, openRelaySocket } from './relay-socket.ts';

const log = createLogger('relay-stream');

type State = 'attached' | 'detaching' | 'detached' | 'closed';

/**
 * A client connection attached on this thread's mux; implements the server's
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
  /** Bytes sent that the relay has not yet written to the client. */
  private uncredited = 0;

  private constructor(
    /** The offer this stream was attached with (plain data; post it to a Worker to hand the stream over). */
    readonly offer: StreamOffer,
    private readonly mux: RelayMux,
    private readonly id: number,
  ) {}

  /**
   * Attaches to the offered stream on this thread's mux socket (opened on
   * first use), or on `mux`. Resolves once the relay confirms; rejects with
   * the relay's reason (e.g. code 4004 for an unknown stream or wrong token).
   */
  static async attach(offer: StreamOffer, WebSocketImpl?: WebSocketConstructor, mux = RelayMux.for(offer, WebSocketImpl)): Promise<RelayStream> {
    const id = muxStreamNumber(offer.stream);
    if (id === null) throw new RelayError(`expected a numeric stream id in the offer, got ${JSON.stringify(offer.stream)}`);
    const stream = new RelayStream(offer, mux, id);
    await mux.attach(offer, {
      data: (b) => stream.onBytes(b),
      credit: (n) => {
        stream.uncredited = Math.max(0, stream.uncredited - n);
      },
      detached: () => stream.onDetached(),
      closed: (reason, code) => stream.onEnded(reason, code),
    });
    return stream;
  }

  /** Queues bytes for the client. Ignored once the stream is closed; an error while detaching. */
  send(bytes: Uint8Array): void {
    if (this.state === 'detaching' || this.state === 'detached') {
      throw new Error(`RelayStream.send: expected an attached stream, got a ${this.state} one (stream ${this.offer.stream})`);
    }
    if (this.state === 'closed') {
      log.debug(`stream ${this.offer.stream}: dropped ${bytes.byteLength} B sent after close`);
      return;
    }
    this.uncredited += bytes.byteLength;
    this.mux.sendData(this.id, bytes);
  }

  /** Sets the handler for client bytes; bytes that arrived earlier are delivered to it at once, in order. */
  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataHandler = cb;
    while (this.queued.length > 0 && this.dataHandler === cb && this.state === 'attached') {
      this.deliver(cb, this.queued.shift()!);
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
    this.mux.closeStream(this.id, this.offer.stream);
    this.onEnded(`stream ${this.offer.stream} closed by the page`);
  }

  /**
   * Stops delivery here so another thread can attach to the same offer.
   * Resolves with every client byte that reached this thread but was not
   * delivered to onData (queued ones included); the stream lives on at the
   * relay, which buffers for the next owner.
   */
  detach(): Promise<Uint8Array> {
    if (this.state !== 'attached') {
      return Promise.reject(new Error(`RelayStream.detach: expected an attached stream, got a ${this.state} one (stream ${this.offer.stream})`));
    }
    this.state = 'detaching';
    this.held = this.queued.splice(0);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.detachWaiter = { resolve, reject };
      this.mux.detach(this.id, this.offer.stream);
    });
  }

  /**
   * Bytes accepted by send() that the relay has not yet written to the
   * client (the stream's own backlog, whatever the other streams do), or the
   * shared socket's unsent bytes when those are more: a relay slow to read
   * holds every stream on the socket back, so the socket's buffer stays
   * bounded and control messages (attaches, credit) never wait behind
   * hundreds of streams' backlogs.
   */
  get bufferedAmount(): number {
    return Math.max(this.uncredited, this.mux.socketBuffered);
  }

  private onBytes(bytes: Uint8Array): void {
    if (this.state === 'detaching') this.held.push(bytes);
    else if (this.state === 'attached' && this.dataHandler && this.queued.length === 0) this.deliver(this.dataHandler, bytes);
    else if (this.state === 'attached') this.queued.push(bytes);
  }

  /** Hands bytes to the handler and credits them: only what was taken opens the client's window. */
  private deliver(cb: (bytes: Uint8Array) => void, bytes: Uint8Array): void {
    this.mux.credit(this.id, bytes.byteLength);
    cb(bytes);
  }

  private onDetached(): void {
    if (this.state !== 'detaching') return;
    this.state = 'detached';
    this.mux.release(this.id);
    const out = concatBytes(this.held);
    this.held = [];
    const waiter = this.detachWaiter;
    this.detachWaiter = null;
    waiter?.resolve(out);
  }

  private onEnded(why: string, code?: number): void {
    if (this.state === 'closed' || this.state === 'detached') return;
    const wasDetaching = this.state === 'detaching';
    this.state = 'closed';
    this.closeReason = why;
    if (wasDetaching) {
      const waiter = this.detachWaiter;
      this.detachWaiter = null;
      waiter?.reject(new RelayError(`detach failed: ${why}`, code));
    }
    for (const cb of this.closeHandlers.splice(0)) cb(why);
  }
}
