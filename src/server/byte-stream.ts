/**
 * What a channel needs from its transport: an ordered, reliable byte stream.
 * The relay's RelayStream implements it; tests use in-memory pairs.
 */
export interface ByteStream {
  send(bytes: Uint8Array): void;
  /** Bytes that arrive before a handler is set are queued, not lost. */
  onData(cb: (bytes: Uint8Array) => void): void;
  onClose(cb: (reason: string) => void): void;
  close(): void;
  /** Bytes accepted by send() but not yet handed to the network. */
  readonly bufferedAmount: number;
}

/**
 * Accumulates incoming chunks and hands out exact-size pieces: the link stage
 * and the message framer both read "the next N bytes".
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // consumed bytes of chunks[0]
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.chunks.push(bytes);
    this.total += bytes.byteLength;
  }

  /** Removes and returns exactly n bytes, or null if fewer are queued. */
  take(n: number): Uint8Array | null {
    if (n > this.total) return null;
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const avail = c.byteLength - this.head;
      const k = Math.min(avail, n - at);
      out.set(c.subarray(this.head, this.head + k), at);
      at += k;
      this.head += k;
      if (this.head === c.byteLength) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.total -= n;
    return out;
  }

  /** Removes and returns everything queued. */
  drain(): Uint8Array {
    return this.take(this.total) ?? new Uint8Array(0);
  }
}
