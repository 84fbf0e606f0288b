/**
 * SPICE LZ image encoder (spice-wire.md §7): LZ_IMAGE_TYPE_RGB32 and RGBA
 * streams from 32-bit B,G,R,x / B,G,R,A pixels in device memory.
 *
 * The stream is one sequence of width·height pixels (rows top-down). At each
 * position the encoder tries three references and keeps the longest:
 * - the previous pixel (distance 1, a run),
 * - the pixel one row up (distance = width),
 * - the last earlier position whose next 3 pixels hashed alike (any distance
 *   up to 73727), from a hash table in the caller's work memory.
 * Pixels no reference covers go out as literal runs of up to 32.
 *
 * The source may be a sub-rectangle of a larger surface (row pitch > 4·width).
 * Internally the image is a list of "lines": one line of all pixels when the
 * rows are contiguous, else one line per row. Comparisons and hashing never
 * read outside the rectangle.
 *
 * Nothing here allocates or keeps static data: the memory is shared and every
 * buffer is an absolute address from the caller.
 */

/** "  ZL" read big-endian. */
// @ts-ignore: decorator
@inline const LZ_MAGIC: u32 = 0x20205a4c;
// @ts-ignore: decorator
@inline const LZ_VERSION: u32 = 0x00010001;
// @ts-ignore: decorator
@inline const LZ_TYPE_RGB32: u32 = 8;
// @ts-ignore: decorator
@inline const LZ_TYPE_RGBA: u32 = 9;
// @ts-ignore: decorator
@inline const HEADER_BYTES: u32 = 28;

/** Largest distance the near form holds (ofs 0..8190). */
// @ts-ignore: decorator
@inline const MAX_NEAR: u32 = 8191;
/** Largest distance the far form holds: 8191 + 65535 + 1. */
// @ts-ignore: decorator
@inline const MAX_FAR: u32 = 73727;
/** A literal control byte covers at most this many pixels. */
// @ts-ignore: decorator
@inline const MAX_LITERALS: u32 = 32;
/** A reference at least this long is taken without looking up the hash table. */
// @ts-ignore: decorator
@inline const GOOD_ENOUGH: u32 = 32;

// @ts-ignore: decorator
@inline const RGB_MASK: u32 = 0x00ffffff;
// @ts-ignore: decorator
@inline const ALPHA_MASK: u32 = 0xff000000;

// @ts-ignore: decorator
@inline const MIN_HASH_BITS: u32 = 8;
// @ts-ignore: decorator
@inline const MAX_HASH_BITS: u32 = 16;
/** Hash entry: u32 offset of the pixel from `src`, u32 pixel index. */
// @ts-ignore: decorator
@inline const ENTRY_BYTES: u32 = 8;
/** Images larger than this (256 MiB of pixels) cannot be in device memory. */
// @ts-ignore: decorator
@inline const MAX_PIXELS: u64 = 1 << 26;

// @ts-ignore: decorator
@inline function hashBits(pixels: u32): u32 {
  // About one slot per pixel for small images, capped to stay cache-resident.
  const bits: u32 = 32 - clz<u32>(pixels);
  return bits < MIN_HASH_BITS ? MIN_HASH_BITS : bits > MAX_HASH_BITS ? MAX_HASH_BITS : bits;
}

/** Bytes of work memory {@link lzEncode} needs for a width×height image (the hash table, ≤ 512 KiB). */
export function lzWorkBytes(width: u32, height: u32): u32 {
  const pixels = u64(width) * u64(height);
  const bits = hashBits(pixels > MAX_PIXELS ? u32(MAX_PIXELS) : u32(pixels));
  return ENTRY_BYTES << bits;
}

// @ts-ignore: decorator
@inline function mask64(mask: u32): u64 {
  return (u64(mask) << 32) | u64(mask);
}

/**
 * Pixels (≤ max) from `cp` equal under `mask` to those from `rp`, walking both
 * across line ends: `cRem`/`rRem` pixels are left in their current lines (0 =
 * at a line end), `skip` bytes pad each line end up to the next line.
 */
// @ts-ignore: decorator
@inline function matchLength(
  cp: usize, cRem: u32, rp: usize, rRem: u32, max: u32, lw: u32, skip: usize, mask: u32,
): u32 {
  const m64 = mask64(mask);
  let len: u32 = 0;
  while (true) {
    if (cRem == 0) { cp += skip; cRem = lw; }
    if (rRem == 0) { rp += skip; rRem = lw; }
    let seg = max - len;
    if (cRem < seg) seg = cRem;
    if (rRem < seg) seg = rRem;
    // Two pixels per step; the first differing pixel is found from the low set bit.
    const stop = cp + (usize(seg & ~1) << 2);
    let c = cp;
    let r = rp;
    while (c < stop) {
      const x = (load<u64>(c) ^ load<u64>(r)) & m64;
      if (x != 0) return len + (u32(c - cp) >> 2) + (ctz<u64>(x) >= 32 ? 1 : 0);
      c += 8;
      r += 8;
    }
    if (seg & 1) {
      if (((load<u32>(c) ^ load<u32>(r)) & mask) != 0) return len + seg - 1;
    }
    len += seg;
    if (len >= max) return len;
    const bytes = usize(seg) << 2;
    cp += bytes;
    rp += bytes;
    cRem -= seg;
    rRem -= seg;
  }
  return len;
}

/** Pixels (≤ max) from `cp` whose masked value is `value`, across line ends as in {@link matchLength}. */
// @ts-ignore: decorator
@inline function runLength(cp: usize, cRem: u32, value: u32, max: u32, lw: u32, skip: usize, mask: u32): u32 {
  const m64 = mask64(mask);
  const v64 = (u64(value) << 32) | u64(value);
  let len: u32 = 0;
  while (true) {
    if (cRem == 0) { cp += skip; cRem = lw; }
    let seg = max - len;
    if (cRem < seg) seg = cRem;
    const stop = cp + (usize(seg & ~1) << 2);
    let c = cp;
    while (c < stop) {
      const x = (load<u64>(c) & m64) ^ v64;
      if (x != 0) return len + (u32(c - cp) >> 2) + (ctz<u64>(x) >= 32 ? 1 : 0);
      c += 8;
    }
    if (seg & 1) {
      if ((load<u32>(c) & mask) != value) return len + seg - 1;
    }
    len += seg;
    if (len >= max) return len;
    cp += usize(seg) << 2;
    cRem -= seg;
  }
  return len;
}

/** Hash of the 3 masked pixels at `p` into `bits` bits. */
// @ts-ignore: decorator
@inline function hash3(p: usize, mask: u32, bits: u32): u32 {
  const a = load<u64>(p) & mask64(mask);
  const b = u64(load<u32>(p, 8) & mask);
  return u32(((a * 0x9e3779b97f4a7c15) ^ (b * 0xc2b2ae3d27d4eb4f)) >> (64 - bits));
}

/** Bytes a reference of `len` pixels (length field `lf` = len − bias) at distance `d` takes. */
// @ts-ignore: decorator
@inline function refBytes(lf: u32, d: u32): u32 {
  const ext: u32 = lf < 7 ? 0 : (lf - 7) / 255 + 1;
  return (d <= MAX_NEAR ? 2 : 4) + ext;
}

/**
 * Writes one reference; the caller has checked it fits. The length field is
 * 1..6, or 7 followed by extension bytes (255… then 0..254) adding the rest.
 */
// @ts-ignore: decorator
@inline function writeRef(op: usize, lf: u32, d: u32): usize {
  const ofs = d - 1;
  const near = d <= MAX_NEAR;
  const hi: u32 = near ? ofs >> 8 : 31;
  if (lf < 7) {
    store<u8>(op++, (lf << 5) | hi);
  } else {
    store<u8>(op++, (7 << 5) | hi);
    let rest = lf - 7;
    if (rest >= 255) {
      const full = rest / 255;
      memory.fill(op, 255, full);
      op += full;
      rest -= full * 255;
    }
    store<u8>(op++, rest);
  }
  if (near) {
    store<u8>(op++, ofs & 255);
  } else {
    const far = ofs - MAX_NEAR;
    store<u8>(op, 255);
    store<u8>(op, far >> 8, 1);
    store<u8>(op, far & 255, 2);
    op += 3;
  }
  return op;
}

/**
 * One pass over all pixels: the RGB pass (`alpha` false: 3-byte literals,
 * length = field) or the alpha pass (1-byte literals, length = field + 2).
 * Returns the new output position, or 0 when the output would pass `end`.
 */
// @ts-ignore: decorator
@inline function encodePass(
  src: usize, stride: u32, width: u32, n: u32, lw: u32, skip: usize,
  alpha: bool, op: usize, end: usize, table: usize, bits: u32,
): usize {
  const mask: u32 = alpha ? ALPHA_MASK : RGB_MASK;
  const bias: u32 = alpha ? 2 : 0;
  const unit: usize = alpha ? 1 : 3;
  // Shortest reference worth a token: a literal pixel costs `unit` bytes.
  const minNear: u32 = alpha ? 3 : 2;
  const minFar: u32 = alpha ? 5 : 3;
  // Row above: near form when the width allows it; none past the far limit.
  const aboveOk = width <= MAX_FAR;
  const aboveBytes: usize = usize(stride);
  const contiguous = lw == n;
  const pitch: usize = (usize(lw) << 2) + skip; // from one line start to the next

  memory.fill(table, 0, ENTRY_BYTES << bits);

  let i: u32 = 0; // pixel index
  let cx: u32 = 0; // column in the current line
  let line: usize = src; // start of the current line
  let cp: usize = src; // current pixel
  let prev: u32 = 0; // masked value of pixel i - 1
  let lit: u32 = 0; // literals in the open run
  let litCtl: usize = 0; // where the open run's control byte goes

  while (i < n) {
    const cur = load<u32>(cp) & mask;
    const max = n - i;
    const cRem = lw - cx;
    let best: u32 = 0;
    let bestD: u32 = 0;

    // 1. A run: same as the previous pixel.
    if (i != 0 && cur == prev) {
      best = runLength(cp, cRem, cur, max, lw, skip, mask);
      bestD = 1;
    }

    // 2. The row above (same column, so the same line position when strided).
    if (aboveOk && i >= width && best < max) {
      const ap = cp - aboveBytes;
      // Quick reject: it must match at `best` to be longer.
      let maybe = true;
      if (best < cRem) {
        const off = usize(best) << 2;
        maybe = ((load<u32>(cp + off) ^ load<u32>(ap + off)) & mask) == 0;
      }
      if (maybe) {
        const len = matchLength(cp, cRem, ap, contiguous ? cRem + width : cRem, max, lw, skip, mask);
        if (len > best) {
          best = len;
          bestD = width;
        }
      }
    }

    // 3. The hash table: the last position whose next 3 pixels hashed alike.
    if (best < GOOD_ENOUGH && cRem >= 3) {
      const slot = table + (usize(hash3(cp, mask, bits)) << 3);
      const entry = load<u64>(slot);
      store<u64>(slot, (u64(i) << 32) | u64(cp - src));
      const ri = u32(entry >> 32);
      const d = i - ri; // wraps to a huge value for stale entries at or after i
      if (d - 1 < MAX_FAR) {
        const rp = src + usize(u32(entry));
        const m64 = mask64(mask);
        if (
          ((load<u64>(cp) ^ load<u64>(rp)) & m64) == 0 &&
          ((load<u32>(cp, 8) ^ load<u32>(rp, 8)) & mask) == 0
        ) {
          // Its 3 pixels were hashed within one line, so both sides have ≥ 3 left.
          const rRem = contiguous ? n - ri : lw - ri % lw;
          let maybe = true;
          if (best < cRem && best < rRem) {
            const off = usize(best) << 2;
            maybe = ((load<u32>(cp + off) ^ load<u32>(rp + off)) & mask) == 0;
          }
          if (maybe) {
            const len: u32 = 3 + matchLength(cp + 12, cRem - 3, rp + 12, rRem - 3, max - 3, lw, skip, mask);
            // A far reference costs 2 bytes more: it must win by more than a pixel.
            if (d <= MAX_NEAR ? len > best : len > best + 1) {
              best = len;
              bestD = d;
            }
          }
        }
      }
    }

    if (best >= (bestD <= MAX_NEAR ? minNear : minFar)) {
      const lf = best - bias;
      if (op + refBytes(lf, bestD) > end) return 0;
      if (lit != 0) {
        store<u8>(litCtl, lit - 1);
        lit = 0;
      }
      op = writeRef(op, lf, bestD);
      i += best;
      cx += best;
      cp += usize(best) << 2;
      if (cx >= lw) {
        while (cx >= lw) {
          cx -= lw;
          line += pitch;
        }
        cp = line + (usize(cx) << 2);
      }
      // The last pixel the reference covered (in the previous line at a line start).
      prev = bestD == 1 ? cur : load<u32>(cx != 0 ? cp - 4 : cp - skip - 4) & mask;
    } else {
      if (lit == 0) {
        if (op + 1 + unit > end) return 0;
        litCtl = op++;
      } else if (op + unit > end) {
        return 0;
      }
      if (alpha) {
        store<u8>(op, cur >> 24);
      } else if (op + 4 <= end) {
        // B,G,R are the pixel's first 3 bytes; the 4th is overwritten next.
        store<u32>(op, cur);
      } else {
        store<u16>(op, cur);
        store<u8>(op, cur >> 16, 2);
      }
      op += unit;
      if (++lit == MAX_LITERALS) {
        store<u8>(litCtl, MAX_LITERALS - 1);
        lit = 0;
      }
      prev = cur;
      i++;
      cp += 4;
      if (++cx == lw) {
        cx = 0;
        line += pitch;
        cp = line;
      }
    }
  }
  if (lit != 0) store<u8>(litCtl, lit - 1);
  return op;
}

// @ts-ignore: decorator
@inline function storeBE(p: usize, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}

/**
 * Encodes the width×height rectangle of 32-bit pixels at `src` (row pitch
 * `srcStride` bytes; bytes B,G,R,x, or B,G,R,A when `withAlpha` ≠ 0) as a
 * complete SPICE LZ stream at `dst`: the 28-byte big-endian header (type RGB32
 * or RGBA, top_down 1), then the RGB pass and, for RGBA, the alpha pass.
 * `work` must hold {@link lzWorkBytes} bytes.
 *
 * Returns the stream's byte count, or 0 when it would not fit in
 * `dstCapacity` (nothing is written past dst + dstCapacity) or the size is
 * invalid (0, a pitch below 4·width, more pixels than memory holds).
 */
export function lzEncode(
  src: usize, srcStride: u32, width: u32, height: u32, withAlpha: u32,
  dst: usize, dstCapacity: u32, work: usize,
): u32 {
  if (width == 0 || height == 0) return 0;
  const pixels = u64(width) * u64(height);
  if (pixels > MAX_PIXELS || u64(srcStride) < u64(width) * 4) return 0;
  if (dstCapacity < HEADER_BYTES) return 0;
  const n = u32(pixels);
  const end = dst + usize(dstCapacity);

  storeBE(dst, LZ_MAGIC);
  storeBE(dst + 4, LZ_VERSION);
  storeBE(dst + 8, withAlpha != 0 ? LZ_TYPE_RGBA : LZ_TYPE_RGB32);
  storeBE(dst + 12, width);
  storeBE(dst + 16, height);
  storeBE(dst + 20, width * 4);
  storeBE(dst + 24, 1);

  // Contiguous rows form one line, so references cross row ends freely.
  const contiguous = srcStride == width * 4 || height == 1;
  const lw: u32 = contiguous ? n : width;
  const stride: u32 = contiguous ? width * 4 : srcStride;
  const skip: usize = contiguous ? 0 : usize(srcStride - width * 4);
  const bits = hashBits(n);

  let op = encodePass(src, stride, width, n, lw, skip, false, dst + HEADER_BYTES, end, work, bits);
  if (op == 0) return 0;
  if (withAlpha != 0) {
    op = encodePass(src, stride, width, n, lw, skip, true, op, end, work, bits);
    if (op == 0) return 0;
  }
  return u32(op - dst);
}
