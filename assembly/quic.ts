/**
 * SPICE QUIC image encoder (spice-wire.md §8.1), for 32-bit pixels:
 * QUIC_IMAGE_TYPE_RGB32 (bytes B,G,R,x) and QUIC_IMAGE_TYPE_RGBA (B,G,R,A).
 *
 * QUIC is spice-common's SFALIC-derived lossless codec. The decoders
 * (spice-gtk's quic.c and spice-html5's quic.js) mirror the encoder's model
 * state step by step, so this is a faithful re-implementation of the
 * reference algorithm for the 8-bit-per-component family:
 *
 * - prediction: row 0 from the left neighbour (0 for the first pixel); later
 *   rows from the pixel above for the first pixel, `(left + above) >> 1` else;
 * - residues folded with xlatU2L and coded with Golomb-Rice codes limited to
 *   26 bits (DEFmaxclen), the code chosen per component by the bucket of the
 *   previous pixel's folded residue (DEFevol 3: buckets of 1, 2, 4, … values);
 * - bucket statistics updated only at pseudo-random positions (tabrand_chaos
 *   masked by a wait mask that grows every DEFwminext pixels up to DEFwmimax),
 *   with counters halved past besttrigtab's threshold;
 * - run mode (rows ≥ 1) when the two pixels above are equal and the two
 *   before are equal, its length coded with MELCODE (32 states);
 * - RGBA: after each r,g,b row, the same row's alpha as a one-component pass
 *   with its own state.
 *
 * The stream is 32-bit little-endian words, bits taken most significant first:
 * header words "QUIC" (0x43495551), version 0, type, width, height, then the
 * coded rows, then the final partial word and one zero word (quic.c's flush).
 *
 * Memory rules of this module: nothing is allocated and there is no static
 * data (the memory is shared; data segments would be re-applied by every
 * thread that instantiates the module). Tables, model state, correlation rows
 * and an output spill buffer live in the caller's work area and are rebuilt on
 * every call, so the work area may be used by other encoders in between.
 */

/** "QUIC" read as a little-endian u32. */
// @ts-ignore: decorator
@inline const QUIC_MAGIC: u32 = 0x43495551;
/** QUIC_VERSION: major 0, minor 0. */
// @ts-ignore: decorator
@inline const QUIC_VERSION: u32 = 0;
// @ts-ignore: decorator
@inline const TYPE_RGB32: u32 = 4;
// @ts-ignore: decorator
@inline const TYPE_RGBA: u32 = 5;
/** DEFwmimax: the wait mask index stops growing here (wait mask 63). */
// @ts-ignore: decorator
@inline const WMIMAX: u32 = 6;
/** DEFwminext: pixels coded before the wait mask index grows. */
// @ts-ignore: decorator
@inline const WMINEXT: u32 = 2048;
/** Last MELCODE state (MELCSTATES − 1). */
// @ts-ignore: decorator
@inline const MELC_LAST: u32 = 31;
/** Widest image accepted (keeps every size computation far from u32 overflow). */
// @ts-ignore: decorator
@inline const MAX_WIDTH: u32 = 1 << 24;
/** Bytes of output a row may need at most, per pixel: (r,g,b 3 × 26 + a 26) bits, plus a run code before each. */
// @ts-ignore: decorator
@inline const ROW_BYTES_PER_PIXEL: u32 = 18;
/** Bytes of output a row may need beyond the per-pixel bound (run codes at segment starts, the junk word). */
// @ts-ignore: decorator
@inline const ROW_BYTES_EXTRA: u32 = 64;

// Work area layout (byte offsets from `work`).
/** u32[8][256]: Golomb code of value n under code l, as `length | codeword << 8`. */
// @ts-ignore: decorator
@inline const W_CODES: usize = 0;
/** u8[256][8]: code length of value n under code l (one u64 per value for model updates). */
// @ts-ignore: decorator
@inline const W_LENS: usize = 8192;
/** u8[256]: tabrand_chaos & 63 (the wait mask never exceeds 63, so the low six bits are all that count). */
// @ts-ignore: decorator
@inline const W_RAND: usize = 10240;
/** u32[4 channels][8 buckets][8 codes]: code length sums. */
// @ts-ignore: decorator
@inline const W_COUNT: usize = 10496;
/** u32[4 channels][8 buckets]: best code of each bucket. */
// @ts-ignore: decorator
@inline const W_BEST: usize = 11520;
/** Two CommonStates of 32 bytes: r,g,b (rgb_state) then alpha (channel 3's state). */
// @ts-ignore: decorator
@inline const W_STATE: usize = 11648;
/** u32[4 channels][256]: for a context value, the address of its bucket's best code table. */
// @ts-ignore: decorator
@inline const W_PTR: usize = 12288;
/** u32[width + 1]: folded r,g,b residues (b,g,r in bytes 0..2); entry k is pixel k − 1, entry 0 the row's "[-1]". */
// @ts-ignore: decorator
@inline const W_CORR: usize = 16384;

// CommonState fields.
// @ts-ignore: decorator
@inline const S_WAITCNT: usize = 0;
// @ts-ignore: decorator
@inline const S_SEED: usize = 4;
// @ts-ignore: decorator
@inline const S_TRIGGER: usize = 8;
// @ts-ignore: decorator
@inline const S_WMIDX: usize = 12;
// @ts-ignore: decorator
@inline const S_WMILEFT: usize = 16;
// @ts-ignore: decorator
@inline const S_MELCSTATE: usize = 20;
// @ts-ignore: decorator
@inline const S_MELCLEN: usize = 24;
// @ts-ignore: decorator
@inline const STATE_SIZE: usize = 32;

// Row kinds for codeRow.
// @ts-ignore: decorator
@inline const ROW_RGB0: u32 = 0;
// @ts-ignore: decorator
@inline const ROW_RGB: u32 = 1;
// @ts-ignore: decorator
@inline const ROW_ALPHA0: u32 = 2;
// @ts-ignore: decorator
@inline const ROW_ALPHA: u32 = 3;

// Bit writer: `acc` holds `nb` (< 32) pending bits in its low bits; `out` is
// where the next full word goes. Hot loops keep copies in locals and write
// them back before calling anything that emits bits.
let gAcc: u64 = 0;
let gNb: u32 = 0;
let gOut: usize = 0;
/** The work area of the call in progress. */
let gWork: usize = 0;
/** The alpha correlation row of the call in progress. */
let gCorrA: usize = 0;

/** Byte offset of the alpha correlation row (u8[width + 1]) in the work area. */
// @ts-ignore: decorator
@inline function corrAlphaOffset(width: u32): usize {
  return W_CORR + ((<usize>(width + 1) * 4 + 7) & ~7);
}

/** Byte offset of the spill buffer in the work area. */
// @ts-ignore: decorator
@inline function spillOffset(width: u32): usize {
  return corrAlphaOffset(width) + ((<usize>(width + 1) + 7) & ~7);
}

/** Worst-case output bytes of one image row (r,g,b and alpha passes). */
// @ts-ignore: decorator
@inline function rowWorstBytes(width: u32): usize {
  return <usize>width * ROW_BYTES_PER_PIXEL + ROW_BYTES_EXTRA;
}

/**
 * Bytes of work memory {@link quicEncode} needs for images `width` pixels
 * wide (tables, model, correlation rows, an output spill buffer of one row);
 * 0 when the width is not supported (0 or above 2^24).
 */
export function quicWorkBytes(width: u32): u32 {
  if (width == 0 || width > MAX_WIDTH) return 0;
  return <u32>(spillOffset(width) + rowWorstBytes(width) + 8);
}

/** ceil(log2(v)) for v ≥ 1. */
// @ts-ignore: decorator
@inline function ceilLog2(v: u32): u32 {
  return v <= 1 ? 0 : 32 - clz<u32>(v - 1);
}

/** MELCODE run length exponent of a state (quic.c's J[]: 0×4, 1×4, 2×4, 3×4, 4,4,5,5,6,6,7,7, 8…15). */
// @ts-ignore: decorator
@inline function melcLen(state: u32): u32 {
  return state < 16 ? state >> 2 : state < 24 ? (state >> 1) - 4 : state - 16;
}

/** besttrigtab[DEFevol / 2][wmidx] for DEFevol 3; wmidx never exceeds DEFwmimax (6). */
function wmTrigger(wmidx: u32): u32 {
  switch (wmidx) {
    case 0: return 110;
    case 1: return 550;
    case 2: return 900;
    case 3: return 800;
    case 4: return 550;
    case 5: return 400;
    default: return 350;
  }
}

/** Bucket of a context value: 0 | 1–2 | 3–6 | 7–14 | 15–30 | 31–62 | 63–126 | 127–255 (DEFevol 3, 8 bpc). */
// @ts-ignore: decorator
@inline function bucketOf(ctx: u32): u32 {
  const b = 31 - clz<u32>(ctx + 1);
  return b > 7 ? 7 : b;
}

/** Builds the 8-bpc family's Golomb tables and the tabrand table into the work area. */
function initTables(work: usize): void {
  const limit: u32 = 26; // DEFmaxclen
  const bpc: u32 = 8;
  for (let l: u32 = 0; l < bpc; l++) {
    let altPrefix = limit - bpc;
    const cap = (<u32>1 << (bpc - l)) - 1;
    if (altPrefix > cap) altPrefix = cap;
    const nGR = altPrefix << l;
    const cwlen = altPrefix + ceilLog2(256 - nGR);
    for (let n: u32 = 0; n < 256; n++) {
      let code: u32;
      let len: u32;
      if (n < nGR) {
        // Golomb-Rice: n >> l zeroes, a one, then the l low bits.
        code = (<u32>1 << l) | (n & ((<u32>1 << l) - 1));
        len = (n >> l) + l + 1;
      } else {
        // Escape: altPrefix zeroes, then n − nGR in the remaining bits.
        code = n - nGR;
        len = cwlen;
      }
      store<u32>(work + W_CODES + (<usize>l << 10) + (<usize>n << 2), len | (code << 8));
      store<u8>(work + W_LENS + (<usize>n << 3) + l, <u8>len);
    }
  }
  // tabrand_chaos[k] & 63, eight entries per word (entry k in byte k).
  const r = work + W_RAND;
  store<u64>(r, 0x0e28120715131702, 0);
  store<u64>(r, 0x0b1206242c2f200c, 8);
  store<u64>(r, 0x33393f101d2a1304, 16);
  store<u64>(r, 0x09141e0f0e050310, 24);
  store<u64>(r, 0x0508003d39032d24, 32);
  store<u64>(r, 0x231f3b2b1b2b0e29, 40);
  store<u64>(r, 0x013e360d262a3c27, 48);
  store<u64>(r, 0x300722343d0b031a, 56);
  store<u64>(r, 0x043208160c163b04, 64);
  store<u64>(r, 0x331f2e0b082c060a, 72);
  store<u64>(r, 0x36243c2e2b011135, 80);
  store<u64>(r, 0x021729162c271b0a, 88);
  store<u64>(r, 0x2b1030283528002c, 96);
  store<u64>(r, 0x3e3802140c211c20, 104);
  store<u64>(r, 0x1d26370d14123a37, 112);
  store<u64>(r, 0x003b3f2f21311339, 120);
  store<u64>(r, 0x043c262e19133d23, 128);
  store<u64>(r, 0x0e050a1c281a0123, 136);
  store<u64>(r, 0x223e3b1431301219, 144);
  store<u64>(r, 0x1d093a223421072e, 152);
  store<u64>(r, 0x322524253c3e3708, 160);
  store<u64>(r, 0x3d1a18301c0a0306, 168);
  store<u64>(r, 0x2f320602360b1e39, 176);
  store<u64>(r, 0x11170c2035231107, 184);
  store<u64>(r, 0x1b342d3337311505, 192);
  store<u64>(r, 0x342a18163f271927, 200);
  store<u64>(r, 0x180d203829292638, 208);
  store<u64>(r, 0x2a18253a381b331a, 216);
  store<u64>(r, 0x17100f1f1e111c0f, 224);
  store<u64>(r, 0x321f1d0122213619, 232);
  store<u64>(r, 0x3a00092f0f311535, 240);
  store<u64>(r, 0x153f2d090d1e2d25, 248);
}

/** Fresh models for all four channels: counters 0, every bucket's best code 7 (BPC − 1). */
function resetModels(work: usize): void {
  memory.fill(work + W_COUNT, 0, 4 * 8 * 8 * 4);
  const code7 = <u32>(work + W_CODES + (7 << 10));
  for (let k: usize = 0; k < 4 * 8; k++) store<u32>(work + W_BEST + (k << 2), 7);
  for (let k: usize = 0; k < 4 * 256; k++) store<u32>(work + W_PTR + (k << 2), code7);
}

/** encoder_reset / encoder_reset_channels for one CommonState. */
function resetState(st: usize): void {
  store<u32>(st, 0, S_WAITCNT);
  store<u32>(st, 0xff, S_SEED); // stabrand(): TABRAND_SEEDMASK
  store<u32>(st, wmTrigger(0), S_TRIGGER);
  store<u32>(st, 0, S_WMIDX); // DEFwmistart
  store<u32>(st, WMINEXT, S_WMILEFT);
  store<u32>(st, 0, S_MELCSTATE);
  store<u32>(st, melcLen(0), S_MELCLEN);
}

/**
 * update_model_8bpc: adds the code lengths of `val` under every code to the
 * counters of the bucket of `ctx`, picks the shortest (ties keep the larger
 * code, as the reference scans from code 7 down with a strict `<`), halves the
 * counters once the best sum passes the wait-mask trigger.
 */
function updateModel(ch: usize, ctx: u32, val: u32, trigger: u32): void {
  const work = gWork;
  const b = bucketOf(ctx);
  const cnt = work + W_COUNT + (ch << 8) + (<usize>b << 5);
  const lens = load<u64>(work + W_LENS + (<usize>val << 3));
  let best: u32 = 7;
  let bestLen = load<u32>(cnt, 28) + <u32>(lens >> 56);
  store<u32>(cnt, bestLen, 28);
  for (let l: i32 = 6; l >= 0; l--) {
    const p = cnt + (<usize>l << 2);
    const c = load<u32>(p) + (<u32>(lens >> (<u64>l << 3)) & 0xff);
    store<u32>(p, c);
    if (c < bestLen) {
      best = <u32>l;
      bestLen = c;
    }
  }
  const bp = work + W_BEST + (ch << 5) + (<usize>b << 2);
  if (load<u32>(bp) != best) {
    // Point every context value of this bucket at the new code's table.
    store<u32>(bp, best);
    const table = <u32>(work + W_CODES + (<usize>best << 10));
    const first: u32 = (<u32>1 << b) - 1;
    const last: u32 = b == 7 ? 255 : (<u32>2 << b) - 2;
    const ptr = work + W_PTR + (ch << 10);
    for (let v = first; v <= last; v++) store<u32>(ptr + (<usize>v << 2), table);
  }
  if (bestLen > trigger) {
    for (let l: usize = 0; l < 8; l++) {
      const p = cnt + (l << 2);
      store<u32>(p, load<u32>(p) >> 1);
    }
  }
}

/** UPDATE_MODEL for r, g, b: contexts from the correlation entry at `corrP`, values from the next one. */
function updateRgb(corrP: usize, trigger: u32): void {
  const ctx = load<u32>(corrP);
  const val = load<u32>(corrP, 4);
  updateModel(0, (ctx >> 16) & 0xff, (val >> 16) & 0xff, trigger);
  updateModel(1, (ctx >> 8) & 0xff, (val >> 8) & 0xff, trigger);
  updateModel(2, ctx & 0xff, val & 0xff, trigger);
}

/** Appends `len` (1..32) bits through the global bit writer (slow paths only). */
function putBits(code: u32, len: u32): void {
  const acc = (gAcc << <u64>len) | <u64>code;
  const nb = gNb + len;
  // Always store; only a completed word advances the pointer (the buffer has room for it).
  store<u32>(gOut, <u32>(acc >> <u64>(nb & 31)));
  gOut += <usize>(nb >> 5) << 2;
  gNb = nb & 31;
  gAcc = acc;
}

/** Three component codes (table entries) whose lengths add up to more than 32 bits. */
function putCodes3(eR: u32, eG: u32, eB: u32): void {
  putBits(eR >> 8, eR & 0xff);
  putBits(eG >> 8, eG & 0xff);
  putBits(eB >> 8, eB & 0xff);
}

/** encode_state_run: MELCODE "hit" ones for each full 2^melclen, then the rest in melclen + 1 bits. */
function encodeRun(st: usize, runlen: u32): void {
  let state = load<u32>(st, S_MELCSTATE);
  let len = load<u32>(st, S_MELCLEN);
  let hits: u32 = 0;
  while (runlen >= (<u32>1 << len)) {
    hits++;
    runlen -= <u32>1 << len;
    if (state < MELC_LAST) {
      state++;
      len = melcLen(state);
    }
  }
  while (hits >= 32) {
    putBits(0xffffffff, 32);
    hits -= 32;
  }
  if (hits) putBits((<u32>1 << hits) - 1, hits);
  putBits(runlen, len + 1);
  if (state) {
    state--;
    len = melcLen(state);
  }
  store<u32>(st, state, S_MELCSTATE);
  store<u32>(st, len, S_MELCLEN);
}

/**
 * Folded residues of the b, g, r bytes of `x` against the prediction `pred`:
 * per byte s = (x − pred) mod 256, then xlatU2L (s < 128 → 2s, else
 * 2(255 − s) + 1). Byte 3 of the result is 0.
 */
// @ts-ignore: decorator
@inline function residues(x: u32, pred: u32): u32 {
  // Byte-wise subtraction with no borrow crossing bytes.
  const d = ((x | 0x80808080) - (pred & 0x7f7f7f7f)) ^ ((x ^ ~pred) & 0x80808080);
  const t = (d >> 7) & 0x010101;
  return (((d ^ (t * 0xff)) & 0x7f7f7f) << 1) | t;
}

/** Byte-wise floor((a + b) / 2). */
// @ts-ignore: decorator
@inline function average(a: u32, b: u32): u32 {
  return (a & b) + (((a ^ b) >> 1) & 0x7f7f7f7f);
}

/** xlatU2L of one 8-bit residue. */
// @ts-ignore: decorator
@inline function fold(s: u32): u32 {
  const t = s >> 7;
  return (((s ^ (0 - t)) & 0x7f) << 1) | t;
}

/** Row 0 of the r,g,b pass, pixels [i, end): prediction from the left neighbour. */
function rgbSeg0(cur: usize, i: u32, end: u32, waitmask: u32): void {
  const work = gWork;
  const st = work + W_STATE;
  const corr = work + W_CORR;
  const ptrR = work + W_PTR;
  const ptrG = ptrR + 1024;
  const ptrB = ptrR + 2048;
  const rnd = work + W_RAND;
  const trigger = load<u32>(st, S_TRIGGER);
  let seed = load<u32>(st, S_SEED);
  // The reference's pixel-0 special case (decrement waitcnt, or update at 0)
  // is exactly "update when i reaches stopidx = i + waitcnt".
  let stopidx = i + load<u32>(st, S_WAITCNT);
  let acc = gAcc;
  let nb = gNb;
  let out = gOut;
  let ctx = load<u32>(corr + (<usize>i << 2));
  let left: u32 = i ? load<u32>(cur + (<usize>(i - 1) << 2)) : 0;
  for (; i < end; i++) {
    const p = <usize>i << 2;
    const x = load<u32>(cur + p);
    const m = residues(x, left);
    const eR = load<u32>(load<u32>(ptrR + ((ctx >> 14) & 0x3fc)) + ((m >> 14) & 0x3fc));
    const eG = load<u32>(load<u32>(ptrG + ((ctx >> 6) & 0x3fc)) + ((m >> 6) & 0x3fc));
    const eB = load<u32>(load<u32>(ptrB + ((ctx << 2) & 0x3fc)) + ((m << 2) & 0x3fc));
    const lG = eG & 0xff;
    const lB = eB & 0xff;
    const tot = (eR & 0xff) + lG + lB;
    if (tot <= 32) {
      const bits = ((((eR >> 8) << lG) | (eG >> 8)) << lB) | (eB >> 8);
      acc = (acc << <u64>tot) | <u64>bits;
      nb += tot;
      store<u32>(out, <u32>(acc >> <u64>(nb & 31)));
      out += <usize>(nb >> 5) << 2;
      nb &= 31;
    } else {
      gAcc = acc;
      gNb = nb;
      gOut = out;
      putCodes3(eR, eG, eB);
      acc = gAcc;
      nb = gNb;
      out = gOut;
    }
    store<u32>(corr + p, m, 4);
    if (i == stopidx) {
      updateRgb(corr + p, trigger);
      seed++;
      stopidx = i + 1 + (<u32>load<u8>(rnd + (seed & 0xff)) & waitmask);
    }
    ctx = m;
    left = x;
  }
  store<u32>(st, stopidx - end, S_WAITCNT);
  store<u32>(st, seed, S_SEED);
  gAcc = acc;
  gNb = nb;
  gOut = out;
}

/** Rows ≥ 1 of the r,g,b pass, pixels [i, end): prediction (left + above) >> 1, run mode. */
function rgbSeg(cur: usize, above: usize, i: u32, end: u32, waitmask: u32): void {
  const work = gWork;
  const st = work + W_STATE;
  const corr = work + W_CORR;
  const ptrR = work + W_PTR;
  const ptrG = ptrR + 1024;
  const ptrB = ptrR + 2048;
  const rnd = work + W_RAND;
  const trigger = load<u32>(st, S_TRIGGER);
  let seed = load<u32>(st, S_SEED);
  let stopidx = i + load<u32>(st, S_WAITCNT);
  let acc = gAcc;
  let nb = gNb;
  let out = gOut;
  let runIndex: u32 = 0;
  let ctx = load<u32>(corr + (<usize>i << 2));
  let left: u32;
  let aboveLeft: u32;
  if (i) {
    left = load<u32>(cur + (<usize>(i - 1) << 2));
    aboveLeft = load<u32>(above + (<usize>(i - 1) << 2));
  } else {
    // Pixel 0 is predicted from the pixel above: average(above, above).
    left = load<u32>(above);
    aboveLeft = 0;
  }
  while (i < end) {
    const p = <usize>i << 2;
    const x = load<u32>(cur + p);
    const b = load<u32>(above + p);
    if (
      ((b ^ aboveLeft) & 0xffffff) == 0 &&
      i > 2 &&
      i != runIndex &&
      ((left ^ load<u32>(cur + p - 8)) & 0xffffff) == 0
    ) {
      // Run mode: count pixels equal to the left one (up to the segment end).
      runIndex = i;
      const waitcnt = stopidx - i;
      const v = left & 0xffffff;
      const vv = (<u64>v << 32) | <u64>v;
      let j = i;
      while (j + 1 < end && (load<u64>(cur + (<usize>j << 2)) & 0x00ffffff00ffffff) == vv) j += 2;
      if (j < end && (load<u32>(cur + (<usize>j << 2)) & 0xffffff) == v) j++;
      gAcc = acc;
      gNb = nb;
      gOut = out;
      encodeRun(st, j - i);
      acc = gAcc;
      nb = gNb;
      out = gOut;
      i = j;
      if (i == end) {
        // As in the reference: a run reaching the end leaves waitcnt as set at its start.
        store<u32>(st, waitcnt, S_WAITCNT);
        store<u32>(st, seed, S_SEED);
        return;
      }
      stopidx = i + waitcnt;
      const q = <usize>i << 2;
      // Run pixels keep stale correlation entries; the reference reads them as they are.
      ctx = load<u32>(corr + q);
      left = load<u32>(cur + q - 4);
      aboveLeft = load<u32>(above + q - 4);
      continue;
    }
    const m = residues(x, average(left, b));
    const eR = load<u32>(load<u32>(ptrR + ((ctx >> 14) & 0x3fc)) + ((m >> 14) & 0x3fc));
    const eG = load<u32>(load<u32>(ptrG + ((ctx >> 6) & 0x3fc)) + ((m >> 6) & 0x3fc));
    const eB = load<u32>(load<u32>(ptrB + ((ctx << 2) & 0x3fc)) + ((m << 2) & 0x3fc));
    const lG = eG & 0xff;
    const lB = eB & 0xff;
    const tot = (eR & 0xff) + lG + lB;
    if (tot <= 32) {
      const bits = ((((eR >> 8) << lG) | (eG >> 8)) << lB) | (eB >> 8);
      acc = (acc << <u64>tot) | <u64>bits;
      nb += tot;
      store<u32>(out, <u32>(acc >> <u64>(nb & 31)));
      out += <usize>(nb >> 5) << 2;
      nb &= 31;
    } else {
      gAcc = acc;
      gNb = nb;
      gOut = out;
      putCodes3(eR, eG, eB);
      acc = gAcc;
      nb = gNb;
      out = gOut;
    }
    store<u32>(corr + p, m, 4);
    if (i == stopidx) {
      updateRgb(corr + p, trigger);
      seed++;
      stopidx = i + 1 + (<u32>load<u8>(rnd + (seed & 0xff)) & waitmask);
    }
    ctx = m;
    left = x;
    aboveLeft = b;
    i++;
  }
  store<u32>(st, stopidx - end, S_WAITCNT);
  store<u32>(st, seed, S_SEED);
  gAcc = acc;
  gNb = nb;
  gOut = out;
}

/** Row 0 of the alpha pass (byte 3 of each pixel), pixels [i, end). */
function alphaSeg0(cur: usize, i: u32, end: u32, waitmask: u32): void {
  const work = gWork;
  const st = work + W_STATE + STATE_SIZE;
  const corr = gCorrA;
  const ptr = work + W_PTR + 3 * 1024;
  const rnd = work + W_RAND;
  const trigger = load<u32>(st, S_TRIGGER);
  let seed = load<u32>(st, S_SEED);
  let stopidx = i + load<u32>(st, S_WAITCNT);
  let acc = gAcc;
  let nb = gNb;
  let out = gOut;
  let ctx = <u32>load<u8>(corr + i);
  let left: u32 = i ? <u32>load<u8>(cur + (<usize>(i - 1) << 2), 3) : 0;
  for (; i < end; i++) {
    const x = <u32>load<u8>(cur + (<usize>i << 2), 3);
    const m = fold((x - left) & 0xff);
    const e = load<u32>(<usize>load<u32>(ptr + (<usize>ctx << 2)) + (<usize>m << 2));
    const len = e & 0xff;
    acc = (acc << <u64>len) | <u64>(e >> 8);
    nb += len;
    store<u32>(out, <u32>(acc >> <u64>(nb & 31)));
    out += <usize>(nb >> 5) << 2;
    nb &= 31;
    store<u8>(corr + i, <u8>m, 1);
    if (i == stopidx) {
      updateModel(3, ctx, m, trigger);
      seed++;
      stopidx = i + 1 + (<u32>load<u8>(rnd + (seed & 0xff)) & waitmask);
    }
    ctx = m;
    left = x;
  }
  store<u32>(st, stopidx - end, S_WAITCNT);
  store<u32>(st, seed, S_SEED);
  gAcc = acc;
  gNb = nb;
  gOut = out;
}

/** Rows ≥ 1 of the alpha pass, pixels [i, end). */
function alphaSeg(cur: usize, above: usize, i: u32, end: u32, waitmask: u32): void {
  const work = gWork;
  const st = work + W_STATE + STATE_SIZE;
  const corr = gCorrA;
  const ptr = work + W_PTR + 3 * 1024;
  const rnd = work + W_RAND;
  const trigger = load<u32>(st, S_TRIGGER);
  let seed = load<u32>(st, S_SEED);
  let stopidx = i + load<u32>(st, S_WAITCNT);
  let acc = gAcc;
  let nb = gNb;
  let out = gOut;
  let runIndex: u32 = 0;
  let ctx = <u32>load<u8>(corr + i);
  let left: u32;
  let aboveLeft: u32;
  if (i) {
    left = <u32>load<u8>(cur + (<usize>(i - 1) << 2), 3);
    aboveLeft = <u32>load<u8>(above + (<usize>(i - 1) << 2), 3);
  } else {
    left = <u32>load<u8>(above, 3);
    aboveLeft = 0x100; // never equal to a byte: no run at pixel 0 anyway
  }
  while (i < end) {
    const p = <usize>i << 2;
    const x = <u32>load<u8>(cur + p, 3);
    const b = <u32>load<u8>(above + p, 3);
    if (b == aboveLeft && i > 2 && i != runIndex && left == <u32>load<u8>(cur + p - 8, 3)) {
      runIndex = i;
      const waitcnt = stopidx - i;
      let j = i;
      while (j < end && <u32>load<u8>(cur + (<usize>j << 2), 3) == left) j++;
      gAcc = acc;
      gNb = nb;
      gOut = out;
      encodeRun(st, j - i);
      acc = gAcc;
      nb = gNb;
      out = gOut;
      i = j;
      if (i == end) {
        store<u32>(st, waitcnt, S_WAITCNT);
        store<u32>(st, seed, S_SEED);
        return;
      }
      stopidx = i + waitcnt;
      const q = <usize>i << 2;
      ctx = <u32>load<u8>(corr + i);
      left = <u32>load<u8>(cur + q - 4, 3);
      aboveLeft = <u32>load<u8>(above + q - 4, 3);
      continue;
    }
    const m = fold((x - ((left + b) >> 1)) & 0xff);
    const e = load<u32>(<usize>load<u32>(ptr + (<usize>ctx << 2)) + (<usize>m << 2));
    const len = e & 0xff;
    acc = (acc << <u64>len) | <u64>(e >> 8);
    nb += len;
    store<u32>(out, <u32>(acc >> <u64>(nb & 31)));
    out += <usize>(nb >> 5) << 2;
    nb &= 31;
    store<u8>(corr + i, <u8>m, 1);
    if (i == stopidx) {
      updateModel(3, ctx, m, trigger);
      seed++;
      stopidx = i + 1 + (<u32>load<u8>(rnd + (seed & 0xff)) & waitmask);
    }
    ctx = m;
    left = x;
    aboveLeft = b;
    i++;
  }
  store<u32>(st, stopidx - end, S_WAITCNT);
  store<u32>(st, seed, S_SEED);
  gAcc = acc;
  gNb = nb;
  gOut = out;
}

/** One segment of a row, by row kind. */
// @ts-ignore: decorator
@inline function codeSeg(kind: u32, cur: usize, above: usize, i: u32, end: u32, waitmask: u32): void {
  switch (kind) {
    case ROW_RGB0: rgbSeg0(cur, i, end, waitmask); break;
    case ROW_RGB: rgbSeg(cur, above, i, end, waitmask); break;
    case ROW_ALPHA0: alphaSeg0(cur, i, end, waitmask); break;
    default: alphaSeg(cur, above, i, end, waitmask); break;
  }
}

/**
 * compress_row0 / compress_row: splits the row where the wait mask index
 * grows (every DEFwminext pixels, until DEFwmimax) and codes each segment
 * with that segment's wait mask.
 */
function codeRow(kind: u32, cur: usize, above: usize, width: u32): void {
  const st = gWork + W_STATE + (kind >= ROW_ALPHA0 ? STATE_SIZE : 0);
  let wmidx = load<u32>(st, S_WMIDX);
  let wmileft = load<u32>(st, S_WMILEFT);
  let pos: u32 = 0;
  while (wmidx < WMIMAX && wmileft <= width) {
    if (wmileft) {
      codeSeg(kind, cur, above, pos, pos + wmileft, (<u32>1 << wmidx) - 1);
      width -= wmileft;
      pos += wmileft;
    }
    wmidx++;
    store<u32>(st, wmidx, S_WMIDX);
    store<u32>(st, wmTrigger(wmidx), S_TRIGGER);
    wmileft = WMINEXT;
  }
  if (width) {
    codeSeg(kind, cur, above, pos, pos + width, (<u32>1 << wmidx) - 1);
    if (wmidx < WMIMAX) wmileft -= width;
  }
  store<u32>(st, wmidx, S_WMIDX);
  store<u32>(st, wmileft, S_WMILEFT);
}

/**
 * Encodes a rectangle of 32-bit pixels into a complete QUIC stream.
 *
 * @param src address of the top-left pixel; pixels are bytes B,G,R,x (or B,G,R,A)
 * @param srcStride bytes from one row to the next (≥ 4·width)
 * @param width pixels per row (1 … 2^24)
 * @param height rows (≥ 1)
 * @param withAlpha non-zero: QUIC_IMAGE_TYPE_RGBA (byte 3 coded); 0: RGB32 (byte 3 ignored)
 * @param dst where the stream goes
 * @param dstCapacity bytes available at `dst`; nothing is written beyond
 * @param work work area of at least {@link quicWorkBytes}(width) bytes, not overlapping `src` or `dst`
 * @returns bytes written (a multiple of 4), or 0 when the stream would not fit
 *   in `dstCapacity` or the size is unsupported
 */
export function quicEncode(
  src: usize,
  srcStride: u32,
  width: u32,
  height: u32,
  withAlpha: u32,
  dst: usize,
  dstCapacity: u32,
  work: usize,
): u32 {
  if (width == 0 || height == 0 || width > MAX_WIDTH || dstCapacity < 20) return 0;
  gWork = work;
  gCorrA = work + corrAlphaOffset(width);
  initTables(work);
  resetModels(work);
  resetState(work + W_STATE);
  resetState(work + W_STATE + STATE_SIZE);

  store<u32>(dst, QUIC_MAGIC, 0);
  store<u32>(dst, QUIC_VERSION, 4);
  store<u32>(dst, withAlpha ? TYPE_RGBA : TYPE_RGB32, 8);
  store<u32>(dst, width, 12);
  store<u32>(dst, height, 16);
  gAcc = 0;
  gNb = 0;
  gOut = dst + 20;

  const dstEnd = dst + dstCapacity;
  const corr = work + W_CORR;
  const corrA = gCorrA;
  const spill = work + spillOffset(width);
  const rowWorst = rowWorstBytes(width);
  // Near the end of the output, rows are coded into the spill buffer and
  // copied out only as far as they fit, so no store ever passes dstEnd.
  let spilling = false;
  let dpos: usize = 0;
  let prev: usize = 0;
  let line = src;
  for (let row: u32 = 0; row < height; row++) {
    if (!spilling && dstEnd - gOut < rowWorst) {
      spilling = true;
      dpos = gOut;
      gOut = spill;
    }
    if (row == 0) {
      store<u32>(corr, 0);
      codeRow(ROW_RGB0, line, 0, width);
      if (withAlpha) {
        store<u8>(corrA, 0);
        codeRow(ROW_ALPHA0, line, 0, width);
      }
    } else {
      // correlate_row[-1] = correlate_row[0] before every row.
      store<u32>(corr, load<u32>(corr, 4));
      codeRow(ROW_RGB, line, prev, width);
      if (withAlpha) {
        store<u8>(corrA, load<u8>(corrA, 1));
        codeRow(ROW_ALPHA, line, prev, width);
      }
    }
    if (spilling) {
      const n = gOut - spill;
      if (n > dstEnd - dpos) return 0;
      memory.copy(dpos, spill, n);
      dpos += n;
      gOut = spill;
    }
    prev = line;
    line += srcStride;
  }

  // flush(): the last partial word zero-padded, then one zero word.
  if (!spilling && dstEnd - gOut < 16) {
    spilling = true;
    dpos = gOut;
    gOut = spill;
  }
  if (gNb) {
    store<u32>(gOut, <u32>(gAcc << <u64>(32 - gNb)));
    gOut += 4;
  }
  store<u32>(gOut, 0);
  gOut += 4;
  if (spilling) {
    const n = gOut - spill;
    if (n > dstEnd - dpos) return 0;
    memory.copy(dpos, spill, n);
    dpos += n;
    gOut = dpos;
  }
  return <u32>(gOut - dst);
}
