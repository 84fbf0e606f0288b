/**
 * Little-endian, packed byte reader and writer: the one place SPICE bytes are
 * read and written. Every message codec is built from these.
 */

/** A message or structure was shorter than its layout needs, or otherwise malformed. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export class WireReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what = 'message',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  /** Moves to an absolute offset (used for `caps_offset`-style pointers). */
  seek(offset: number): void {
    if (offset < 0 || offset > this.bytes.byteLength) {
      throw new ProtocolError(`${this.what}: offset ${offset} outside 0..${this.bytes.byteLength}`);
    }
    this.pos = offset;
  }

  private need(n: number, field: string): number {
    if (this.pos + n > this.bytes.byteLength) {
      throw new ProtocolError(
        `${this.what}: expected ${n} byte(s) for ${field} at offset ${this.pos}, only ${this.remaining} left`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field = 'u8'): number {
    return this.view.getUint8(this.need(1, field));
  }
  u16(field = 'u16'): number {
    return this.view.getUint16(this.need(2, field), true);
  }
  i16(field = 'i16'): number {
    return this.view.getInt16(this.need(2, field), true);
  }
  u32(field = 'u32'): number {
    return this.view.getUint32(this.need(4, field), true);
  }
  i32(field = 'i32'): number {
    return this.view.getInt32(this.need(4, field), true);
  }
  u64(field = 'u64'): bigint {
    return this.view.getBigUint64(this.need(8, field), true);
  }
  i64(field = 'i64'): bigint {
    return this.view.getBigInt64(this.need(8, field), true);
  }
  bytesOf(n: number, field = 'bytes'): Uint8Array {
    const at = this.need(n, field);
    return this.bytes.subarray(at, at + n);
  }
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.pos);
    this.pos = this.bytes.byteLength;
    return out;
  }
}

/** A growable little-endian writer. */
export class WireWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialSize = 64) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): number {
    const need = this.pos + n;
    if (need > this.buf.byteLength) {
      let size = this.buf.byteLength * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.pos;
    this.pos = need;
    return at;
  }

  u8(v: number): this {
    this.view.setUint8(this.ensure(1), v);
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.ensure(2), v, true);
    return this;
  }
  i16(v: number): this {
    this.view.setInt16(this.ensure(2), v, true);
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.ensure(4), v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.ensure(4), v, true);
    return this;
  }
  u64(v: bigint | number): this {
    this.view.setBigUint64(this.ensure(8), BigInt(v), true);
    return this;
  }
  i64(v: bigint | number): this {
    this.view.setBigInt64(this.ensure(8), BigInt(v), true);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.ensure(b.byteLength);
    this.buf.set(b, at);
    return this;
  }
  zeros(n: number): this {
    const at = this.ensure(n);
    this.buf.fill(0, at, at + n);
    return this;
  }
  /** Overwrites a u32 already written (for sizes known only at the end). */
  patchU32(offset: number, v: number): void {
    this.view.setUint32(offset, v >>> 0, true);
  }

  /** The written bytes (a copy-free view while the writer is not used again). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
