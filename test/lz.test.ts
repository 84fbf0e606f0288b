/**
 * The SPICE LZ encoder (assembly/lz.ts, src/codecs/lz.ts): every stream is
 * decoded twice, by a strict reference decoder written here from
 * spice-wire.md §7 and by spice-html5's own lz.js, and both must give back the
 * exact pixels. Also: distances up to the far limit, length encodings, a
 * sub-rectangle of a wider surface, output capacity limits, sizes and speed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LzEncoder, LZ_HEADER_BYTES } from '../src/codecs/lz.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { makeImage, xorshift32, type CorpusKind } from '../bench/corpus.ts';
import { bestTime } from '../bench/timing.ts';

setLogLevel('silent');

const LZ_TYPE_RGB32 = 8;
const LZ_TYPE_RGBA = 9;
const MAX_NEAR = 8191;
const MAX_FAR = 73727;

// ---------------------------------------------------------------------------
// Pixels

/** xorshift32 in [0, 2^32). */
const rng = xorshift32;

interface Img {
  width: number;
  height: number;
  /** One u32 per pixel as it sits in memory: bytes B,G,R,A (0xAARRGGBB). */
  px: Uint32Array;
}

function img(width: number, height: number, f: (x: number, y: number, i: number) => number): Img {
  const px = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px[y * width + x] = f(x, y, y * width + x) >>> 0;
  return { width, height, px };
}

function corpus(kind: CorpusKind, width: number, height: number): Img {
  return { width, height, px: makeImage(kind, width, height).pixels };
}

/** Replaces the 4th byte of every pixel: with `alpha(x, y, i)`. */
function withAlpha(im: Img, alpha: (x: number, y: number, i: number) => number): Img {
  return img(im.width, im.height, (x, y, i) => (im.px[i]! & 0xffffff) | ((alpha(x, y, i) & 255) << 24));
}

function noise(width: number, height: number, seed: number): Img {
  const r = rng(seed);
  return img(width, height, () => r());
}

/** Icon-like alpha: transparent outside a rounded shape, opaque inside, a soft edge. */
function iconAlpha(width: number, height: number): (x: number, y: number) => number {
  return (x, y) => {
    const dx = (x - width / 2) / (width / 2);
    const dy = (y - height / 2) / (height / 2);
    const d = Math.sqrt(dx * dx + dy * dy);
    return d < 0.8 ? 255 : d > 0.9 ? 0 : Math.round(((0.9 - d) / 0.1) * 255);
  };
}

// ---------------------------------------------------------------------------
// Reference decoder (spice-wire.md §7), strict: it rejects anything spice-gtk would abort on.

interface Decoded {
  type: number;
  width: number;
  height: number;
  /** Pixels as 0xAARRGGBB; for RGB32 the 4th byte is 0 (as spice-gtk). */
  px: Uint32Array;
  literals: number;
  refs: number;
  /** Distances used, by form. */
  near: Set<number>;
  far: Set<number>;
  /** Reference lengths in pixels, per pass. */
  rgbLengths: Set<number>;
  alphaLengths: Set<number>;
}

function refDecode(stream: Uint8Array): Decoded {
  const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  if (stream.length < LZ_HEADER_BYTES) throw new Error(`expected a 28-byte header, got ${stream.length} bytes`);
  const be = (at: number): number => dv.getUint32(at, false);
  if (be(0) !== 0x20205a4c) throw new Error(`expected magic 0x20205a4c, got 0x${be(0).toString(16)}`);
  if (be(4) !== 0x00010001) throw new Error(`expected version 0x00010001, got 0x${be(4).toString(16)}`);
  const type = be(8);
  const width = be(12);
  const height = be(16);
  if (type !== LZ_TYPE_RGB32 && type !== LZ_TYPE_RGBA) throw new Error(`expected type 8 or 9, got ${type}`);
  if (be(20) !== width * 4) throw new Error(`expected stride ${width * 4}, got ${be(20)}`);
  if (be(24) !== 1) throw new Error(`expected top_down 1, got ${be(24)}`);
  const n = width * height;
  const px = new Uint32Array(n);
  const out: Decoded = {
    type, width, height, px, literals: 0, refs: 0,
    near: new Set(), far: new Set(), rgbLengths: new Set(), alphaLengths: new Set(),
  };
  let at = LZ_HEADER_BYTES;
  const byte = (): number => {
    if (at >= stream.length) throw new Error(`expected more tokens, got the end of the stream at byte ${at}`);
    return stream[at++]!;
  };
  const pass = (alpha: boolean): void => {
    let op = 0;
    while (op < n) {
      const c = byte();
      if (c < 32) {
        for (let k = 0; k <= c; k++) {
          if (op >= n) throw new Error(`literal run passes the last pixel (${n}) at byte ${at}`);
          if (alpha) {
            px[op] = ((px[op]! & 0xffffff) | (byte() << 24)) >>> 0;
          } else {
            const b = byte();
            const g = byte();
            const r = byte();
            px[op] = (r << 16) | (g << 8) | b;
          }
          op++;
          out.literals++;
        }
        continue;
      }
      let len = c >> 5;
      const hi = c & 31;
      if (len === 7) {
        let e: number;
        do {
          e = byte();
          len += e;
        } while (e === 255);
      }
      const lo = byte();
      let ofs = (hi << 8) | lo;
      const isFar = hi === 31 && lo === 255;
      if (isFar) ofs = ((byte() << 8) | byte()) + 8191;
      const d = ofs + 1;
      const l = alpha ? len + 2 : len;
      if (d > op) throw new Error(`reference at pixel ${op} reaches back ${d}, before pixel 0`);
      if (op + l > n) throw new Error(`reference of ${l} at pixel ${op} passes the last pixel (${n})`);
      (isFar ? out.far : out.near).add(d);
      (alpha ? out.alphaLengths : out.rgbLengths).add(l);
      out.refs++;
      for (let k = 0; k < l; k++, op++) {
        const from = px[op - d]!;
        px[op] = alpha ? ((px[op]! & 0xffffff) | (from & 0xff000000)) >>> 0 : from;
      }
    }
  };
  pass(false);
  if (type === LZ_TYPE_RGBA) pass(true);
  if (at !== stream.length) throw new Error(`expected the stream to end after the last pixel at byte ${at}, got ${stream.length} bytes`);
  return out;
}

// ---------------------------------------------------------------------------
// spice-html5's decoder, unmodified, as an oracle.

interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}
interface Html5Lz {
  convert_spice_lz_to_web(
    context: { createImageData(w: number, h: number): ImageDataLike },
    lzImage: { type: number; width: number; height: number; top_down: number; data: ArrayBuffer },
  ): ImageDataLike | undefined;
}
let html5: Html5Lz;

/** Decodes as spice-html5 does; returns 0xAARRGGBB pixels (alpha 255 for RGB32). */
function html5Decode(stream: Uint8Array): Uint32Array {
  const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  // Its own header parser (spicetype.js) hands lz.js these fields and the bytes after the header.
  const lzImage = {
    type: dv.getUint32(8),
    width: dv.getUint32(12),
    height: dv.getUint32(16),
    top_down: dv.getUint32(24),
    data: stream.slice(LZ_HEADER_BYTES).buffer,
  };
  const context = {
    createImageData: (w: number, h: number): ImageDataLike => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
  };
  const res = html5.convert_spice_lz_to_web(context, lzImage);
  if (!res) throw new Error(`spice-html5 refused LZ type ${lzImage.type}`);
  const d = res.data;
  const px = new Uint32Array(res.width * res.height);
  for (let i = 0; i < px.length; i++) px[i] = ((d[i * 4 + 3]! << 24) | (d[i * 4]! << 16) | (d[i * 4 + 1]! << 8) | d[i * 4 + 2]!) >>> 0;
  return px;
}

// ---------------------------------------------------------------------------
// Device

let device: QxlDevice;
let lz: LzEncoder;
const SRC = Region.SURFACE;

beforeAll(async () => {
  device = await QxlDevice.create();
  lz = new LzEncoder(device);
  // Variable specifier: the package ships no types, so the import is typed here.
  const spec = '@spice-project/spice-html5/src/lz.js';
  html5 = (await import(/* @vite-ignore */ spec)) as Html5Lz;
});

/** Puts an image at `addr` with row pitch `stride` (default 4·width). */
function put(im: Img, addr = SRC, stride = im.width * 4): void {
  const u32 = new Uint32Array(device.memory.buffer);
  for (let y = 0; y < im.height; y++) u32.set(im.px.subarray(y * im.width, (y + 1) * im.width), (addr + y * stride) >> 2);
}

function encode(im: Img, alpha = false, addr = SRC, stride = im.width * 4): Uint8Array {
  put(im, addr, stride);
  return lz.encode(addr, stride, im.width, im.height, alpha);
}

/** First pixel index where two pixel arrays differ under `mask`, or -1. */
function firstDiff(a: Uint32Array, b: Uint32Array, mask: number): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (((a[i]! ^ b[i]!) & mask) !== 0) return i;
  return -1;
}

/** Encodes, decodes with both decoders and checks every pixel; returns the stream and the reference decode. */
function roundTrip(im: Img, alpha: boolean): { stream: Uint8Array; dec: Decoded } {
  const stream = encode(im, alpha);
  const dec = refDecode(stream);
  expect(dec.type).toBe(alpha ? LZ_TYPE_RGBA : LZ_TYPE_RGB32);
  expect([dec.width, dec.height]).toEqual([im.width, im.height]);
  const mask = alpha ? 0xffffffff : 0xffffff;
  expect(firstDiff(dec.px, im.px, mask), 'reference decoder: first wrong pixel').toBe(-1);
  const h5 = html5Decode(stream);
  expect(firstDiff(h5, im.px, mask), 'spice-html5: first wrong pixel').toBe(-1);
  if (!alpha) expect(h5.every((p) => p >>> 24 === 255)).toBe(true);
  return { stream, dec };
}

/** Bytes of a literal-only stream: a control byte per 32 pixels, 3 (+1 alpha) bytes a pixel. */
function literalBound(n: number, alpha: boolean): number {
  const pass = (unit: number): number => n * unit + Math.ceil(n / 32);
  return LZ_HEADER_BYTES + pass(3) + (alpha ? pass(1) : 0);
}

// ---------------------------------------------------------------------------

describe('LZ encoder: stream format', () => {
  it('writes the 28-byte big-endian header: magic, version, type, size, stride 4·width, top-down', () => {
    const im = noise(5, 3, 1);
    for (const alpha of [false, true]) {
      const s = encode(im, alpha);
      const dv = new DataView(s.buffer);
      expect(Array.from(s.subarray(0, 4))).toEqual([0x20, 0x20, 0x5a, 0x4c]);
      expect([1, 2, 3, 4, 5, 6].map((k) => dv.getUint32(k * 4))).toEqual([0x00010001, alpha ? 9 : 8, 5, 3, 20, 1]);
    }
  });

  it('returns a copy in a non-shared buffer', () => {
    const s = encode(noise(4, 4, 2));
    expect(s.buffer instanceof SharedArrayBuffer).toBe(false);
    expect(Array.from(s)).toEqual(Array.from(device.bytes.subarray(Region.ENCODER_OUT, Region.ENCODER_OUT + s.length)));
  });

  it('ignores the 4th byte in RGB32; the RGBA stream is the RGB32 tokens followed by the alpha pass', () => {
    const im = corpus('text', 320, 200);
    const a = encode(withAlpha(im, () => 0));
    const b = encode(withAlpha(im, (x, y) => (x * 31) ^ (y * 7)));
    expect(Array.from(b)).toEqual(Array.from(a));
    const rgba = encode(withAlpha(im, iconAlpha(320, 200)), true);
    expect(Array.from(rgba.subarray(LZ_HEADER_BYTES, a.length))).toEqual(Array.from(a.subarray(LZ_HEADER_BYTES)));
    expect(rgba.length).toBeGreaterThan(a.length);
  });

  it('encodes a single pixel as one literal', () => {
    const s = encode(img(1, 1, () => 0x00332211));
    expect(Array.from(s.subarray(LZ_HEADER_BYTES))).toEqual([0, 0x11, 0x22, 0x33]);
    const sa = encode(img(1, 1, () => 0x80332211), true);
    expect(Array.from(sa.subarray(LZ_HEADER_BYTES))).toEqual([0, 0x11, 0x22, 0x33, 0, 0x80]);
  });

  it('encodes a solid image as one literal and one run, lengths past 255 in extension bytes', () => {
    const { stream, dec } = roundTrip(img(1024, 768, () => 0x00c0ffee), false);
    expect(dec.literals).toBe(1);
    expect(dec.refs).toBe(1);
    expect([...dec.near]).toEqual([1]);
    // 1 literal + control, length field 7 + ceil((786431 - 7) / 255) extension bytes, low offset byte.
    expect(stream.length).toBe(LZ_HEADER_BYTES + 4 + 1 + Math.floor((1024 * 768 - 1 - 7) / 255) + 1 + 1);
  });
});

describe('LZ encoder: round trips through both decoders', () => {
  const kinds: CorpusKind[] = ['text', 'ui', 'gradient', 'photo', 'noise'];
  for (const kind of kinds) {
    it(`${kind} 1024x768, RGB32 and RGBA`, () => {
      const im = corpus(kind, 1024, 768);
      roundTrip(withAlpha(im, (_x, _y, i) => i * 2654435761 >>> 24), false); // garbage 4th byte
      roundTrip(withAlpha(im, iconAlpha(1024, 768)), true);
    });
  }

  it('RGBA with constant, gradient, random and run-length alpha', () => {
    const base = corpus('ui', 300, 200);
    const r = rng(5);
    const alphas: ((x: number, y: number, i: number) => number)[] = [
      () => 255,
      (x) => x,
      () => r(),
      (x, y) => ((x >> 3) + (y >> 2)) * 40,
      iconAlpha(300, 200),
    ];
    for (const a of alphas) roundTrip(withAlpha(base, a), true);
    // Alpha that varies over a solid colour: the alpha pass carries the image.
    roundTrip(withAlpha(img(97, 61, () => 0x123456), (x, y) => (x * y) & 0xff), true);
  });

  it('tiny and odd sizes', () => {
    const sizes: [number, number][] = [[1, 1], [2, 1], [1, 2], [3, 1], [2, 2], [7, 3], [3, 7], [1, 1000], [1000, 1], [13, 17], [63, 1], [2560, 2], [2, 1600]];
    let seed = 10;
    for (const [w, h] of sizes) {
      for (const im of [noise(w, h, seed++), corpus('text', w, h), img(w, h, (x, y) => ((x >> 1) + y) % 3 ? 0xffffff : 0x000000)]) {
        for (const alpha of [false, true]) roundTrip(im, alpha);
      }
    }
  });

  it('short repeats: runs, the row above and repeated patterns of every small length', () => {
    // Noise with short copies from the left, above and far away, lengths 1..40.
    const w = 257;
    const h = 120;
    const im = noise(w, h, 77);
    const r = rng(78);
    for (let k = 0; k < 4000; k++) {
      const len = 1 + (r() % 40);
      const at = w * 2 + (r() % (w * h - w * 2 - len));
      const back = [1, 2, w, w - 1, w + 1, 1 + (r() % (w * 2)), 1 + (r() % Math.min(at, 20000))][r() % 7]!;
      for (let j = 0; j < len; j++) im.px[at + j] = im.px[at + j - back]!;
    }
    for (const alpha of [false, true]) roundTrip(im, alpha);
  });
});

describe('LZ encoder: distances and lengths', () => {
  it('uses far references up to 73727 pixels and never beyond', () => {
    const w = 2560;
    const im = noise(w, 60, 3);
    const copy = (at: number, back: number, len: number): void => {
      for (let j = 0; j < len; j++) im.px[at + j] = im.px[at + j - back]!;
    };
    copy(30 * w, 20 * w, 5 * w); // rows 30..34 repeat rows 10..14: D = 51200
    copy(40 * w + 100, MAX_FAR, 600); // exactly the far limit
    copy(45 * w + 100, MAX_FAR + 1, 600); // one past it: must not be referenced
    copy(50 * w + 7, MAX_NEAR, 300); // last near distance
    copy(52 * w + 7, MAX_NEAR + 1, 300); // first far distance
    for (const alpha of [false, true]) {
      const { dec } = roundTrip(im, alpha);
      expect(dec.far.has(20 * w)).toBe(true);
      expect(dec.far.has(MAX_FAR)).toBe(true);
      expect(dec.near.has(MAX_NEAR)).toBe(true);
      expect(dec.far.has(MAX_NEAR + 1)).toBe(true);
      expect(Math.max(...dec.far)).toBe(MAX_FAR);
      expect(Math.max(...dec.near)).toBeLessThanOrEqual(MAX_NEAR);
    }
  });

  it('uses the row above as a reference (distance = width)', () => {
    // Every row equal to the one above, none with runs: D = width everywhere after row 0.
    const w = 333;
    const row = noise(w, 1, 9).px;
    const { dec, stream } = roundTrip(img(w, 50, (x) => row[x]!), false);
    expect([...dec.near]).toEqual([w]);
    expect(stream.length).toBeLessThan(LZ_HEADER_BYTES + w * 3 + 11 + 100);
  });

  it('writes every length form: 1..6 in the control byte, 7 + extension bytes up to and past 255', () => {
    // Runs of k equal pixels between noise pixels: one literal, then a run reference of k - 1.
    const want = [2, 3, 4, 5, 6, 7, 8, 9, 260, 261, 262, 263, 515, 516, 517, 518, 1000];
    const r = rng(12);
    const px: number[] = [];
    for (const len of want) {
      const c = r() & 0xffffff;
      for (let j = 0; j <= len; j++) px.push(c);
      for (let j = 0; j < 4; j++) px.push(r() & 0xffffff);
    }
    // Rows of 1000 (contiguous, so runs go on across row ends), padded with noise.
    while (px.length % 1000) px.push(r() & 0xffffff);
    const im: Img = { width: 1000, height: px.length / 1000, px: Uint32Array.from(px) };
    // The same for alpha runs (alpha lengths start at 3), over noise colours.
    // Run alphas even and distinct, separators odd: no run can match another.
    const ra = rng(13);
    const alphas: number[] = [];
    want.forEach((l, k) => {
      const a = (k * 14) & 254;
      for (let j = 0; j <= l + 2; j++) alphas.push(a);
      for (let j = 0; j < 4; j++) alphas.push((ra() & 255) | 1);
    });
    const noiseRgb = rng(14);
    while (alphas.length % 1000) alphas.push((ra() & 255) | 1);
    const ima = img(1000, alphas.length / 1000, (_x, _y, i) => (noiseRgb() & 0xffffff) | (alphas[i]! << 24));
    const rgb = roundTrip(im, false).dec;
    for (const len of want) expect(rgb.rgbLengths.has(len), `RGB length ${len}`).toBe(true);
    const al = roundTrip(ima, true).dec;
    for (const len of want) expect(al.alphaLengths.has(len + 2), `alpha length ${len + 2}`).toBe(true);
  });
});

describe('LZ encoder: a sub-rectangle of a wider surface', () => {
  it('reads only the rectangle, with references across its row ends', () => {
    const sw = 1024;
    const sh = 300;
    const surface = corpus('ui', sw, sh);
    // A rectangle with text, runs across row ends (solid rows), noise, and a far
    // repeat of the noise (rows 200.. repeat rows 110..: 90 rows of 301 back).
    const x0 = 100;
    const y0 = 40;
    const w = 301;
    const h = 250;
    const text = corpus('text', w, h);
    const rnd = noise(w, h, 21);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const from = y >= 200 ? y - 90 : y;
        const v = from < 100 ? text.px[from * w + x]! : from < 110 ? 0x00ff00ff : rnd.px[from * w + x]!;
        surface.px[(y0 + y) * sw + x0 + x] = v;
      }
    }
    const sub = img(w, h, (x, y) => surface.px[(y0 + y) * sw + x0 + x]!);
    const addr = SRC + (y0 * sw + x0) * 4;
    for (const alpha of [false, true]) {
      const subA = alpha ? withAlpha(sub, (x, y) => x ^ y) : sub;
      const surfA = alpha ? withAlpha(surface, (x, y) => (x - x0) ^ (y - y0)) : surface;
      put(surfA);
      const s1 = lz.encode(addr, sw * 4, w, h, alpha);
      const dec = refDecode(s1);
      expect(firstDiff(dec.px, subA.px, alpha ? 0xffffffff : 0xffffff)).toBe(-1);
      expect(firstDiff(html5Decode(s1), subA.px, alpha ? 0xffffffff : 0xffffff)).toBe(-1);
      expect(dec.far.has(90 * w)).toBe(true);
      // Different pixels around the rectangle change nothing.
      put(withAlpha(noise(sw, sh, 99), () => 0x5a));
      put(subA, addr, sw * 4);
      const s2 = lz.encode(addr, sw * 4, w, h, alpha);
      expect(Array.from(s2)).toEqual(Array.from(s1));
    }
  });

  it('handles a one-pixel-wide column and a one-row strip of a surface', () => {
    const sw = 640;
    put(corpus('text', sw, 100));
    const surface = corpus('text', sw, 100);
    for (const [x, y, w, h] of [[5, 3, 1, 90], [10, 50, 600, 1], [630, 0, 10, 100], [0, 0, 3, 3]] as const) {
      const sub = img(w, h, (xx, yy) => surface.px[(y + yy) * sw + x + xx]!);
      const s = lz.encode(SRC + (y * sw + x) * 4, sw * 4, w, h);
      expect(firstDiff(refDecode(s).px, sub.px, 0xffffff)).toBe(-1);
      expect(firstDiff(html5Decode(s), sub.px, 0xffffff)).toBe(-1);
    }
  });
});

describe('LZ encoder: output capacity', () => {
  const OUT = Region.ENCODER_OUT;
  const SENTINEL = 0xa5;

  function encodeRaw(im: Img, alpha: boolean, cap: number): number {
    device.bytes.fill(SENTINEL, OUT, OUT + cap + 4096);
    return device.wasm.lzEncode(SRC, im.width * 4, im.width, im.height, alpha ? 1 : 0, OUT, cap, Region.ENCODER_WORK);
  }

  function untouchedFrom(cap: number): boolean {
    return device.bytes.subarray(OUT + cap, OUT + cap + 4096).every((b) => b === SENTINEL);
  }

  it('returns 0 and writes nothing past the limit for every too-small capacity', () => {
    for (const [im, alpha] of [[withAlpha(corpus('text', 40, 30), iconAlpha(40, 30)), true], [noise(20, 9, 4), false], [noise(20, 9, 4), true]] as const) {
      put(im);
      const full = encodeRaw(im, alpha, 1 << 20);
      const want = Array.from(device.bytes.subarray(OUT, OUT + full));
      for (let cap = 0; cap < full; cap++) {
        expect(encodeRaw(im, alpha, cap), `capacity ${cap} of ${full}`).toBe(0);
        expect(untouchedFrom(cap), `bytes past capacity ${cap}`).toBe(true);
      }
      // Exactly enough works and gives the same stream.
      expect(encodeRaw(im, alpha, full)).toBe(full);
      expect(untouchedFrom(full)).toBe(true);
      expect(Array.from(device.bytes.subarray(OUT, OUT + full))).toEqual(want);
    }
  });

  it('big images too, including inside a long run', () => {
    const solid = img(1024, 768, () => 0x777777);
    const text = corpus('text', 1024, 768);
    for (const im of [solid, text]) {
      put(im);
      const full = encodeRaw(im, false, 1 << 24);
      for (const cap of [0, 27, 28, 29, 33, 100, full >> 1, full - 2, full - 1]) {
        expect(encodeRaw(im, false, cap)).toBe(0);
        expect(untouchedFrom(cap)).toBe(true);
      }
      expect(encodeRaw(im, false, full)).toBe(full);
    }
  });

  it('LzEncoder refuses invalid sizes and pitches with a clear error', () => {
    expect(() => lz.encode(SRC, 0, 0, 10)).toThrow(/expected a size of at least 1x1 in whole pixels, got 0x10/);
    expect(() => lz.encode(SRC, 4 * 2561, 2561, 1)).toThrow(/got 2561x1/);
    expect(() => lz.encode(SRC, 4 * 10, 10, 1601)).toThrow(/got 10x1601/);
    expect(() => lz.encode(SRC, 39, 10, 10)).toThrow(/row pitch of at least 40 bytes.*got 39/);
    expect(() => lz.encode(device.byteLength - 100, 400, 100, 1)).toThrow(/inside device memory/);
    // The largest surface in its worst case (noise, RGBA) fits the output region.
    put(noise(2560, 1600, 8));
    const s = lz.encode(SRC, 2560 * 4, 2560, 1600, true);
    expect(s.length).toBeLessThanOrEqual(literalBound(2560 * 1600, true));
    expect(lz.encode(SRC, 2560 * 4, 2560, 1600).length).toBeLessThanOrEqual(literalBound(2560 * 1600, false));
  });

  it('asks for at most 512 KiB of work memory', () => {
    expect(device.wasm.lzWorkBytes(1, 1)).toBeGreaterThan(0);
    expect(device.wasm.lzWorkBytes(2560, 1600)).toBeLessThanOrEqual(512 * 1024);
  });
});

describe('LZ encoder: size and speed', () => {
  it('screen-like content is far below the literal-only size; MB/s at 1024x768', () => {
    const rows: string[] = [];
    const softs: string[] = [];
    const w = 1024;
    const h = 768;
    const raw = w * h * 4;
    for (const kind of ['text', 'ui', 'gradient', 'photo', 'noise'] as const) {
      for (const alpha of [false, true]) {
        const im = alpha ? withAlpha(corpus(kind, w, h), iconAlpha(w, h)) : corpus(kind, w, h);
        put(im);
        let size = 0;
        const ms = bestTime(() => {
          size = device.wasm.lzEncode(SRC, w * 4, w, h, alpha ? 1 : 0, Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK);
        });
        const bound = literalBound(w * h, alpha);
        expect(size).toBeGreaterThan(0);
        expect(size).toBeLessThanOrEqual(bound);
        if (kind === 'text' || kind === 'ui') softs.push(size * 20 < bound ? '' : `${kind} ${size}`);
        rows.push(
          `${(kind + (alpha ? ' RGBA' : ' RGB32')).padEnd(15)} ${String(Math.round(raw / 1e3 / ms)).padStart(6)} MB/s ` +
            `${ms.toFixed(2).padStart(7)} ms ${String(size).padStart(9)} bytes  ratio ${(raw / size).toFixed(1).padStart(7)}  ` +
            `vs literals ${(bound / size).toFixed(1)}x`,
        );
      }
    }
    console.log(`LZ encode, 1024x768 (MB/s of 32-bit input):\n${rows.join('\n')}`);
  });
});
