import { ByteQueue, type ByteStream } from './byte-stream.ts';

/** The stream closed, or broke a limit, while a read was waiting. */
export class StreamClosedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'StreamClosedError';
  }
}

/**
 * Owns a stream's single data handler: first serves exact-size reads (the link
 * stage reads header, message, ticket), then redirects the rest of the stream to
 * a channel client's message framer.
 */
export class StreamReader {
  private readonly queue = new ByteQueue();
  private waiter: { n: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | null = null;
  private target: ((bytes: Uint8Array) => void) | null = null;
  private closedReason: string | null = null;
  private readonly closeListeners: Array<(reason: string) => void> = [];

  constructor(
    readonly stream: ByteStream,
    /** Most bytes that may pile up unread (a peer flooding the link stage). */
    private readonly maxQueued = 64 * 1024,
  ) {
    stream.onData((bytes) => this.onBytes(bytes));
    stream.onClose((reason) => this.onClosed(reason));
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  private onBytes(bytes: Uint8Array): void {
    if (this.target) {
      this.target(bytes);
      return;
    }
    this.queue.push(bytes);
    if (this.queue.length > this.maxQueued && !this.waiter) {
      this.onClosed(`peer sent ${this.queue.length} bytes ahead of the protocol (limit ${this.maxQueued})`);
      this.stream.close();
      return;
    }
    this.serve();
  }

  private serve(): void {
    if (!this.waiter) return;
    const got = this.queue.take(this.waiter.n);
    if (!got) return;
    const w = this.waiter;
    this.waiter = null;
    w.resolve(got);
  }

  private onClosed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason || 'closed';
    const w = this.waiter;
    this.waiter = null;
    w?.reject(new StreamClosedError(this.closedReason));
    for (const cb of this.closeListeners.splice(0)) cb(this.closedReason);
  }

  /** Called once when the stream closes (the stream itself has one handler: this reader). */
  onClose(cb: (reason: string) => void): void {
    if (this.closedReason !== null) cb(this.closedReason);
    else this.closeListeners.push(cb);
  }

  /** Resolves with exactly n bytes; rejects if the stream closes first. */
  read(n: number): Promise<Uint8Array> {
    if (this.waiter) return Promise.reject(new Error('StreamReader: a read is already pending'));
    const got = this.queue.take(n);
    if (got) return Promise.resolve(got);
    if (this.closedReason !== null) return Promise.reject(new StreamClosedError(this.closedReason));
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }

  /** Bytes received but not read yet (handed on when a stream moves to a worker). */
  takeLeftover(): Uint8Array {
    return this.queue.drain();
  }

  /** From now on every byte (queued ones first) goes to `target`. */
  redirect(target: (bytes: Uint8Array) => void): void {
    const left = this.queue.drain();
    this.target = target;
    if (left.byteLength) target(left);
  }
}
