/**
 * SPICE LZ4 image encoder (spice-wire.md §8.2), for clients that advertise
 * the LZ4 display capability (spice-gtk): a byte `top_down` (1), a byte
 * SPICE_BITMAP_FMT (8 = 32BIT), then LZ4 *blocks*, each preceded by its
 * compressed length as a big-endian u32. The client decodes the blocks with
 * a streaming decoder into packed rows of width·4 bytes.
 *
 * We write one block holding every row: the pixels are first packed into
 * work memory (rows of a sub-rectangle are not contiguous), then compressed
 * greedily: a 4-byte hash finds an earlier occurrence at most 64 KiB back;
 * matches grow both ways; where nothing matches the search strides ahead
 * faster the longer it fails (LZ4's usual acceleration), so noise costs
 * little time.
 *
 * Nothing here allocates or keeps static data: every buffer is an absolute
 * address in the shared device memory, given by the caller.
 */

// @ts-ignore: decorator
@inline const HASH_BITS: u32 = 16;
// @ts-ignore: decorator
@inline const HASH_BYTES: u32 = (1 << HASH_BITS) * 4;
/** LZ4 block rules: the last 5 bytes are literals; no match starts in the last 12. */
// @ts-ignore: decorator
@inline const LAST_LITERALS: u32 = 5;
// @ts-ignore: decorator
@inline const MF_LIMIT: u32 = 12;
// @ts-ignore: decorator
@inline const MIN_MATCH: u32 = 4;
// @ts-ignore: decorator
@inline const MAX_OFFSET: u32 = 65535;
/** SPICE_BITMAP_FMT_32BIT. */
// @ts-ignore: decorator
@inline const FMT_32BIT: u8 = 8;
/** Bytes before the first block: top_down, format, block length. */
// @ts-ignore: decorator
@inline const PREFIX_BYTES: u32 = 6;
/** Largest image (pixels) accepted: 16 Mi pixels, more than any surface. */
// @ts-ignore: decorator
@inline const MAX_PIXELS: u32 = 1 << 24;

// @ts-ignore: decorator
@inline function hash4(v: u32): u32 {
  return (v * 2654435761) >> (32 - HASH_BITS);
}

/** Bytes of work memory {@link lz4Encode} needs for a width×height image (0 when too large). */
export function lz4WorkBytes(width: u32, height: u32): u32 {
  const pixels = <u64>width * <u64>height;
  if (pixels == 0 || pixels > <u64>MAX_PIXELS) return 0;
  return HASH_BYTES + <u32>pixels * 4;
}

/** Writes the LZ4 length continuation bytes for `n` (after a 15 in the token); returns the new output position. */
// @ts-ignore: decorator
@inline function putLength(op: usize, n: u32): usize {
  while (n >= 255) {
    store<u8>(op++, 255);
    n -= 255;
  }
  store<u8>(op++, <u8>n);
  return op;
}

/** Number of equal bytes at `a` and `b`, reading no further than `limit` from `a`. */
function matchLength(a: usize, b: usize, limit: usize): u32 {
  const start = a;
  while (a + 8 <= limit) {
    const x = load<u64>(a) ^ load<u64>(b);
    if (x != 0) return <u32>(a - start) + <u32>(ctz<u64>(x) >> 3);
    a += 8;
    b += 8;
  }
  while (a < limit && load<u8>(a) == load<u8>(b)) {
    a++;
    b++;
  }
  return <u32>(a - start);
}

/**
 * Compresses `n` bytes at `src` as one LZ4 block at `dst`; returns its size,
 * or 0 when it would exceed `cap`. `table` holds 2^HASH_BITS u32 entries.
 */
function compressBlock(src: usize, n: u32, dst: usize, cap: u32, table: usize): u32 {
  const end = src + n;
  const dstEnd = dst + cap;
  let op = dst;
  let anchor = src;
  if (n >= MF_LIMIT + 1) {
    memory.fill(table, 0, HASH_BYTES);
    const mfLimit = end - MF_LIMIT;
    const matchLimit = end - LAST_LITERALS;
    let ip = src;
    let misses: u32 = 0;
    while (ip < mfLimit) {
      const seq = load<u32>(ip);
      const slot = table + (<usize>hash4(seq) << 2);
      const entry = load<u32>(slot); // position + 1; 0: empty
      store<u32>(slot, <u32>(ip - src) + 1);
      let ref = src + <usize>entry - 1;
      if (entry == 0 || ip - ref > MAX_OFFSET || load<u32>(ref) != seq) {
        // Accelerate through data that does not repeat.
        ip += 1 + (misses++ >> 6);
        continue;
      }
      misses = 0;
      // Grow the match backwards over pending literals, then forwards.
      while (ip > anchor && ref > src && load<u8>(ip - 1) == load<u8>(ref - 1)) {
        ip--;
        ref--;
      }
      const len = MIN_MATCH + matchLength(ip + MIN_MATCH, ref + MIN_MATCH, matchLimit);
      const lit = <u32>(ip - anchor);
      // Worst case for this sequence: token, literal length bytes, literals, offset, match length bytes.
      if (op + 1 + lit / 255 + 1 + lit + 2 + len / 255 + 1 > dstEnd) return 0;
      const token = op++;
      if (lit >= 15) op = putLength(op, lit - 15);
      memory.copy(op, anchor, lit);
      op += lit;
      store<u16>(op, <u16>(ip - ref));
      op += 2;
      const ml = len - MIN_MATCH;
      if (ml >= 15) op = putLength(op, ml - 15);
      store<u8>(token, <u8>((min<u32>(lit, 15) << 4) | min<u32>(ml, 15)));
      ip += len;
      anchor = ip;
      // Index a position inside the match so the next search has a recent candidate.
      if (ip < mfLimit) store<u32>(table + (<usize>hash4(load<u32>(ip - 2)) << 2), <u32>(ip - 2 - src) + 1);
    }
  }
  const lit = <u32>(end - anchor);
  if (op + 1 + lit / 255 + 1 + lit > dstEnd) return 0;
  const token = op++;
  if (lit >= 15) op = putLength(op, lit - 15);
  store<u8>(token, <u8>(min<u32>(lit, 15) << 4));
  memory.copy(op, anchor, lit);
  op += lit;
  return <u32>(op - dst);
}

/**
 * SPICE LZ4 of the width×height 32-bit pixels at `src` (row pitch
 * `srcStride`) into `dst`: returns the bytes written (prefix and block), or 0
 * when they would exceed `dstCapacity` or the size is invalid. `work` must
 * hold {@link lz4WorkBytes} bytes.
 */
export function lz4Encode(
  src: usize,
  srcStride: u32,
  width: u32,
  height: u32,
  dst: usize,
  dstCapacity: u32,
  work: usize,
): u32 {
  if (lz4WorkBytes(width, height) == 0 || srcStride < width * 4 || dstCapacity < PREFIX_BYTES) return 0;
  const rowBytes = width * 4;
  const n = rowBytes * height;
  const table = work;
  let packed = src;
  if (srcStride != rowBytes) {
    packed = work + HASH_BYTES;
    for (let y: u32 = 0; y < height; y++) {
      memory.copy(packed + <usize>y * rowBytes, src + <usize>y * srcStride, rowBytes);
    }
  }
  store<u8>(dst, 1); // top_down
  store<u8>(dst, FMT_32BIT, 1);
  const size = compressBlock(packed, n, dst + PREFIX_BYTES, dstCapacity - PREFIX_BYTES, table);
  if (size == 0) return 0;
  store<u32>(dst + 2, bswap<u32>(size));
  return PREFIX_BYTES + size;
}
