/**
 * Baseline JPEG (JFIF) encoder for photo-like areas sent to clients with
 * little bandwidth (SPICE image type JPEG, spice-wire.md §8.4): YCbCr 4:2:0,
 * float AAN forward DCT, the standard quantisation tables scaled by a 1..100
 * quality as libjpeg does, the standard Huffman tables.
 *
 * The standard tables (ITU-T T.81 Annex K) come from the caller in work
 * memory (see src/codecs/jpeg.ts), which keeps this module free of static
 * data: the memory is shared between threads. Bit-writer state lives in
 * globals, which are per instance.
 */

// Work memory layout (bytes from `work`).
/** u8[64] luminance then u8[64] chrominance quantisation bases, natural order (from the caller). */
// @ts-ignore: decorator
@inline const W_QBASE: usize = 0;
/** Huffman specs (from the caller): for DC-Y, AC-Y, DC-C, AC-C: u8 bits[16] then the values. */
// @ts-ignore: decorator
@inline const W_HSPEC: usize = 128;
/** u8[64]: natural index of each zigzag position (from the caller). */
// @ts-ignore: decorator
@inline const W_ZIGZAG: usize = 544;
/** f32[2][64]: 1 / (q · AAN scale · 8), natural order. */
// @ts-ignore: decorator
@inline const W_FDTBL: usize = 1024;
/** u8[2][64]: the scaled tables in zigzag order, for DQT. */
// @ts-ignore: decorator
@inline const W_QZZ: usize = 1536;
/** u32 code tables (len | code << 8): DC-Y[12], AC-Y[256], DC-C[12], AC-C[256]. */
// @ts-ignore: decorator
@inline const W_HDCY: usize = 2048;
// @ts-ignore: decorator
@inline const W_HACY: usize = 2096;
// @ts-ignore: decorator
@inline const W_HDCC: usize = 3120;
// @ts-ignore: decorator
@inline const W_HACC: usize = 3168;
/** f32[64] blocks: four Y, Cb, Cr. */
// @ts-ignore: decorator
@inline const W_Y: usize = 4352;
// @ts-ignore: decorator
@inline const W_CB: usize = 5376;
// @ts-ignore: decorator
@inline const W_CR: usize = 5632;
/** i32[64]: quantised coefficients in zigzag order. */
// @ts-ignore: decorator
@inline const W_ZZ: usize = 5888;
// @ts-ignore: decorator
@inline const WORK_BYTES: u32 = 6144;

/** Offsets of the four Huffman specs inside W_HSPEC: DC-Y, AC-Y, DC-C, AC-C. */
// @ts-ignore: decorator
@inline const SPEC_DCY: usize = 0;
// @ts-ignore: decorator
@inline const SPEC_ACY: usize = 28;
// @ts-ignore: decorator
@inline const SPEC_DCC: usize = 206;
// @ts-ignore: decorator
@inline const SPEC_ACC: usize = 234;
// @ts-ignore: decorator
@inline const SPEC_BYTES: u32 = 412;

/** Largest side accepted (JPEG's 16-bit limit is far above any surface). */
// @ts-ignore: decorator
@inline const MAX_SIDE: u32 = 16384;

// Bit writer state (per instance).
let gOut: usize = 0;
let gEnd: usize = 0;
let gAcc: u32 = 0;
let gBits: u32 = 0;
let gOverflow = false;

/** Bytes of work memory {@link jpegEncode} needs. */
export function jpegWorkBytes(): u32 {
  return WORK_BYTES;
}

// @ts-ignore: decorator
@inline function putByte(b: u32): void {
  if (gOut >= gEnd) {
    gOverflow = true;
    return;
  }
  store<u8>(gOut++, <u8>b);
}

// @ts-ignore: decorator
@inline function put16(v: u32): void {
  putByte(v >> 8);
  putByte(v & 0xff);
}

/** Appends the low `n` (≤ 24) bits of `v`, stuffing a 0 after every 0xFF byte. */
function putBits(v: u32, n: u32): void {
  gAcc = (gAcc << n) | (v & ((1 << n) - 1));
  gBits += n;
  while (gBits >= 8) {
    gBits -= 8;
    const b = (gAcc >> gBits) & 0xff;
    putByte(b);
    if (b == 0xff) putByte(0);
  }
}

/** Pads the last byte with 1 bits. */
function flushBits(): void {
  if (gBits > 0) putBits(0x7f, 8 - gBits);
  gAcc = 0;
  gBits = 0;
}

/** Builds the code table of one Huffman spec (bits[16], values) as len | code << 8, indexed by value. */
function buildCodes(spec: usize, table: usize, entries: u32): void {
  memory.fill(table, 0, <usize>entries << 2);
  let code: u32 = 0;
  let k: usize = 0;
  for (let len: u32 = 1; len <= 16; len++) {
    const count = <u32>load<u8>(spec + <usize>(len - 1));
    for (let i: u32 = 0; i < count; i++) {
      const value = <usize>load<u8>(spec + 16 + k);
      store<u32>(table + (value << 2), len | (code << 8));
      code++;
      k++;
    }
    code <<= 1;
  }
}

/** Scales the quantisation bases for `quality` (libjpeg's curve) into W_FDTBL and W_QZZ. */
function setQuality(work: usize, quality: u32): void {
  const q = quality < 1 ? 1 : quality > 100 ? 100 : quality;
  const scale: u32 = q < 50 ? 5000 / q : 200 - q * 2;
  for (let t: usize = 0; t < 2; t++) {
    for (let zz: usize = 0; zz < 64; zz++) {
      const i = <usize>load<u8>(work + W_ZIGZAG + zz);
      let v = (<u32>load<u8>(work + W_QBASE + t * 64 + i) * scale + 50) / 100;
      if (v < 1) v = 1;
      if (v > 255) v = 255;
      store<u8>(work + W_QZZ + t * 64 + zz, <u8>v);
      const row = i >> 3;
      const col = i & 7;
      store<f32>(work + W_FDTBL + ((t * 64 + i) << 2), 1.0 / (<f32>v * aanScale(row) * aanScale(col) * 8.0));
    }
  }
}

/** The AAN DCT's output scale of frequency k: cos(kπ/16)·√2, 1 for k = 0. */
function aanScale(k: usize): f32 {
  if (k == 0) return 1.0;
  return <f32>(Math.cos(<f64>k * Math.PI / 16.0) * Math.SQRT2);
}

/** In-place float AAN forward DCT of the 8x8 block at `b` (f32, rows of 8); output scaled by aanScale(row)·aanScale(col)·8. */
function fdct(b: usize): void {
  for (let pass = 0; pass < 2; pass++) {
    // Pass 0 works on rows (step 1, next 8), pass 1 on columns (step 8, next 1).
    const step: usize = pass == 0 ? 4 : 32;
    const next: usize = pass == 0 ? 32 : 4;
    for (let k: usize = 0; k < 8; k++) {
      const p = b + k * next;
      const d0 = load<f32>(p), d1 = load<f32>(p + step), d2 = load<f32>(p + 2 * step), d3 = load<f32>(p + 3 * step);
      const d4 = load<f32>(p + 4 * step), d5 = load<f32>(p + 5 * step), d6 = load<f32>(p + 6 * step), d7 = load<f32>(p + 7 * step);
      const t0 = d0 + d7, t7 = d0 - d7, t1 = d1 + d6, t6 = d1 - d6;
      const t2 = d2 + d5, t5 = d2 - d5, t3 = d3 + d4, t4 = d3 - d4;
      // Even part.
      const e10 = t0 + t3, e13 = t0 - t3, e11 = t1 + t2, e12 = t1 - t2;
      store<f32>(p, e10 + e11);
      store<f32>(p + 4 * step, e10 - e11);
      const z1 = (e12 + e13) * <f32>0.707106781;
      store<f32>(p + 2 * step, e13 + z1);
      store<f32>(p + 6 * step, e13 - z1);
      // Odd part.
      const o10 = t4 + t5, o11 = t5 + t6, o12 = t6 + t7;
      const z5 = (o10 - o12) * <f32>0.382683433;
      const z2 = <f32>0.5411961 * o10 + z5;
      const z4 = <f32>1.306562965 * o12 + z5;
      const z3 = o11 * <f32>0.707106781;
      const z11 = t7 + z3, z13 = t7 - z3;
      store<f32>(p + 5 * step, z13 + z2);
      store<f32>(p + 3 * step, z13 - z2);
      store<f32>(p + step, z11 + z4);
      store<f32>(p + 7 * step, z11 - z4);
    }
  }
}

/** DCT, quantisation and Huffman coding of one block; returns its DC value for the next block's prediction. */
function codeBlock(work: usize, block: usize, table: usize, prevDc: i32, dc: usize, ac: usize): i32 {
  fdct(block);
  const fd = work + W_FDTBL + (table << 8);
  const zz = work + W_ZZ;
  for (let k: usize = 0; k < 64; k++) {
    const i = <usize>load<u8>(work + W_ZIGZAG + k);
    let v = <i32>nearest<f32>(load<f32>(block + (i << 2)) * load<f32>(fd + (i << 2)));
    // The standard AC tables code magnitudes up to 10 bits (quality near 100 can exceed them).
    if (v > 1023) v = 1023;
    if (v < -1023) v = -1023;
    store<i32>(zz + (k << 2), v);
  }
  const dcVal = load<i32>(zz);
  putValue(dcVal - prevDc, dc, 0);
  let run: u32 = 0;
  for (let k: usize = 1; k < 64; k++) {
    const v = load<i32>(zz + (k << 2));
    if (v == 0) {
      run++;
      continue;
    }
    while (run >= 16) {
      putCode(ac, 0xf0); // ZRL: sixteen zeros
      run -= 16;
    }
    putValue(v, ac, run);
    run = 0;
  }
  if (run > 0) putCode(ac, 0x00); // EOB
  return dcVal;
}

// @ts-ignore: decorator
@inline function putCode(table: usize, symbol: u32): void {
  const e = load<u32>(table + (<usize>symbol << 2));
  putBits(e >> 8, e & 0xff);
}

/** The symbol (run << 4 | size) then the value's size bits (negative values as v − 1). */
function putValue(v: i32, table: usize, run: u32): void {
  const mag = <u32>(v < 0 ? -v : v);
  const size = mag == 0 ? 0 : 32 - clz<u32>(mag);
  putCode(table, (run << 4) | size);
  if (size > 0) putBits(<u32>(v < 0 ? v - 1 : v), size);
}

/** Loads pixel (x, y) clamped into the image. */
// @ts-ignore: decorator
@inline function pixel(src: usize, stride: u32, width: u32, height: u32, x: u32, y: u32): u32 {
  const cx = x < width ? x : width - 1;
  const cy = y < height ? y : height - 1;
  return load<u32>(src + <usize>cy * stride + (<usize>cx << 2));
}

/** Fills the four Y blocks and the subsampled Cb, Cr blocks of the 16x16 MCU at (mx, my). */
function loadMcu(work: usize, src: usize, stride: u32, width: u32, height: u32, mx: u32, my: u32): void {
  memory.fill(work + W_CB, 0, 512); // Cb and Cr accumulate four pixels each
  for (let y: u32 = 0; y < 16; y++) {
    for (let x: u32 = 0; x < 16; x++) {
      const p = pixel(src, stride, width, height, mx + x, my + y);
      const r = <f32>((p >> 16) & 0xff);
      const g = <f32>((p >> 8) & 0xff);
      const b = <f32>(p & 0xff);
      const yb = work + W_Y + (<usize>(((y >> 3) << 1) | (x >> 3)) << 8);
      store<f32>(yb + (<usize>(((y & 7) << 3) | (x & 7)) << 2), <f32>0.299 * r + <f32>0.587 * g + <f32>0.114 * b - <f32>128.0);
      const c = <usize>(((y >> 1) << 3) | (x >> 1)) << 2;
      const cb = work + W_CB + c;
      const cr = work + W_CR + c;
      store<f32>(cb, load<f32>(cb) + <f32>0.25 * (<f32>-0.168736 * r - <f32>0.331264 * g + <f32>0.5 * b));
      store<f32>(cr, load<f32>(cr) + <f32>0.25 * (<f32>0.5 * r - <f32>0.418688 * g - <f32>0.081312 * b));
    }
  }
}

function writeHeaders(work: usize, width: u32, height: u32): void {
  put16(0xffd8); // SOI
  // APP0 JFIF 1.1, no density, no thumbnail.
  put16(0xffe0);
  put16(16);
  putByte(0x4a); putByte(0x46); putByte(0x49); putByte(0x46); putByte(0);
  putByte(1); putByte(1); putByte(0);
  put16(1); put16(1);
  putByte(0); putByte(0);
  // DQT: both tables, 8-bit, zigzag order.
  put16(0xffdb);
  put16(2 + 2 * 65);
  for (let t: usize = 0; t < 2; t++) {
    putByte(<u32>t);
    for (let k: usize = 0; k < 64; k++) putByte(<u32>load<u8>(work + W_QZZ + t * 64 + k));
  }
  // SOF0: 8-bit, three components, Y sampled 2x2, Cb and Cr 1x1.
  put16(0xffc0);
  put16(17);
  putByte(8);
  put16(height);
  put16(width);
  putByte(3);
  putByte(1); putByte(0x22); putByte(0);
  putByte(2); putByte(0x11); putByte(1);
  putByte(3); putByte(0x11); putByte(1);
  // DHT: the four tables as given.
  put16(0xffc4);
  put16(2 + 4 + SPEC_BYTES);
  putSpec(work, SPEC_DCY, 0x00, 12);
  putSpec(work, SPEC_ACY, 0x10, 162);
  putSpec(work, SPEC_DCC, 0x01, 12);
  putSpec(work, SPEC_ACC, 0x11, 162);
  // SOS: all three components, full spectral range.
  put16(0xffda);
  put16(12);
  putByte(3);
  putByte(1); putByte(0x00);
  putByte(2); putByte(0x11);
  putByte(3); putByte(0x11);
  putByte(0); putByte(63); putByte(0);
}

function putSpec(work: usize, at: usize, classId: u32, values: u32): void {
  putByte(classId);
  const p = work + W_HSPEC + at;
  for (let i: u32 = 0; i < 16 + values; i++) putByte(<u32>load<u8>(p + i));
}

/**
 * JFIF of the width×height 32-bit xRGB pixels at `src` (row pitch
 * `srcStride`) at `quality` 1..100 into `dst`: returns its size, or 0 when it
 * would exceed `dstCapacity` or the size is invalid. `work` holds
 * {@link jpegWorkBytes} bytes, its first 608 filled with the standard tables
 * by the caller (layout in src/codecs/jpeg.ts).
 */
export function jpegEncode(
  src: usize,
  srcStride: u32,
  width: u32,
  height: u32,
  quality: u32,
  dst: usize,
  dstCapacity: u32,
  work: usize,
): u32 {
  if (width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || srcStride < width * 4) return 0;
  gOut = dst;
  gEnd = dst + dstCapacity;
  gAcc = 0;
  gBits = 0;
  gOverflow = false;
  setQuality(work, quality);
  buildCodes(work + W_HSPEC + SPEC_DCY, work + W_HDCY, 12);
  buildCodes(work + W_HSPEC + SPEC_ACY, work + W_HACY, 256);
  buildCodes(work + W_HSPEC + SPEC_DCC, work + W_HDCC, 12);
  buildCodes(work + W_HSPEC + SPEC_ACC, work + W_HACC, 256);
  writeHeaders(work, width, height);
  let dcY: i32 = 0;
  let dcCb: i32 = 0;
  let dcCr: i32 = 0;
  for (let my: u32 = 0; my < height && !gOverflow; my += 16) {
    for (let mx: u32 = 0; mx < width; mx += 16) {
      loadMcu(work, src, srcStride, width, height, mx, my);
      for (let k: usize = 0; k < 4; k++) dcY = codeBlock(work, work + W_Y + (k << 8), 0, dcY, work + W_HDCY, work + W_HACY);
      dcCb = codeBlock(work, work + W_CB, 1, dcCb, work + W_HDCC, work + W_HACC);
      dcCr = codeBlock(work, work + W_CR, 1, dcCr, work + W_HDCC, work + W_HACC);
    }
  }
  flushBits();
  put16(0xffd9); // EOI
  return gOverflow ? 0 : <u32>(gOut - dst);
}
