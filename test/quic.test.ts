/**
 * QUIC encoder (assembly/quic.ts via src/codecs/quic.ts): every stream is
 * decoded by spice-html5's own quic.js, used unmodified as the oracle, and
 * compared pixel for pixel.
 *
 * What html5's decoder hands back (`SpiceQuic.outptr`) is B,G,R,x bytes with
 * x = 0 for RGB32 and x = the decoded alpha for RGBA; its canvas conversion
 * (`convert_spice_quic_to_web`) then shows 255 − alpha. The tests compare the
 * decoder's output, so RGBA is checked exactly against the source alpha.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { QuicEncoder, QUIC_HEADER_BYTES, QuicImageType } from '../src/codecs/quic.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import { setLogLevel } from '../src/util/logger.ts';

/** The part of spice-html5's quic.js the tests use. */
interface Html5SpiceQuic {
  from_dv(dv: DataView, at: number, mb: ArrayBuffer): number;
  outptr: Uint8Array | undefined;
  type: number;
  width: number;
  height: number;
}
interface Html5QuicModule {
  SpiceQuic: new () => Html5SpiceQuic;
}

/** A test image: 32-bit pixels (0xAARRGGBB, stored little-endian as B,G,R,A). */
interface Image {
  width: number;
  height: number;
  pixels: Uint32Array;
}

const SRC = Region.SURFACE;

let device: QxlDevice;
let encoder: QuicEncoder;
let html5: Html5QuicModule;

beforeAll(async () => {
  setLogLevel('error');
  device = await QxlDevice.create();
  encoder = new QuicEncoder(device);
  // A variable specifier: the package ships no types, and this keeps tsc from asking for them.
  const spec = '@spice-project/spice-html5/src/quic.js';
  html5 = (await import(/* @vite-ignore */ spec)) as Html5QuicModule;
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function image(width: number, height: number, fill: (x: number, y: number) => number): Image {
  const pixels = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = fill(x, y) >>> 0;
  return { width, height, pixels };
}

const rgb = (r: number, g: number, b: number, a = 0): number =>
  (((a & 255) << 24) | ((r & 255) << 16) | ((g & 255) << 8) | (b & 255)) >>> 0;

function solid(width: number, height: number, color = 0x336699): Image {
  return image(width, height, () => color);
}

function gradient(width: number, height: number): Image {
  return image(width, height, (x, y) =>
    rgb((x * 255) / Math.max(1, width - 1), (y * 255) / Math.max(1, height - 1), (x + y) * 3),
  );
}

/** Window-like content: title bar, flat panels, dark glyph strokes on white, a few coloured words. */
function textLike(width: number, height: number, seed = 1): Image {
  const r = rng(seed);
  const glyphs: Uint8Array[] = [];
  for (let g = 0; g < 64; g++) {
    const cell = new Uint8Array(8 * 16);
    for (let k = 0; k < 6; k++) {
      // Strokes: vertical or horizontal bars inside the 8x16 cell.
      const vertical = r() < 0.5;
      const x0 = 1 + Math.floor(r() * 5);
      const y0 = 3 + Math.floor(r() * 9);
      const len = 2 + Math.floor(r() * 6);
      for (let t = 0; t < len; t++) {
        const x = vertical ? x0 : Math.min(6, x0 + t);
        const y = vertical ? Math.min(13, y0 + t) : y0;
        cell[y * 8 + x] = 1 + Math.floor(r() * 3); // 3 shades of antialiasing
      }
    }
    glyphs.push(cell);
  }
  const text = new Uint8Array(Math.ceil(width / 8) * Math.ceil(height / 16));
  for (let k = 0; k < text.length; k++) text[k] = r() < 0.25 ? 255 : Math.floor(r() * 64);
  const shades = [0, 0x404040, 0x808080, 0xc0c0c0];
  return image(width, height, (x, y) => {
    if (y < 24) return y === 23 ? 0x202020 : rgb(40, 60 + y, 120 + y * 2); // title bar
    if (x < 160) return x === 159 ? 0x909090 : 0xe8e8e8; // side panel
    const cx = x >> 3;
    const cy = y >> 4;
    const g = text[cy * Math.ceil(width / 8) + cx]!;
    if (g === 255) return 0xffffff;
    const v = glyphs[g]![(y & 15) * 8 + (x & 7)]!;
    if (v === 0) return 0xffffff;
    return cy % 7 === 3 ? rgb(200 - v * 40, 20, 20) : 0xffffff - shades[v]! - 0x3f3f3f;
  });
}

function noise(width: number, height: number, seed = 2): Image {
  const r = rng(seed);
  return image(width, height, () => Math.floor(r() * 4294967296));
}

/** Smooth content with grain, like a photo: low-frequency waves plus ±4 noise per component. */
function photoLike(width: number, height: number, seed = 3): Image {
  const r = rng(seed);
  const n = () => Math.floor(r() * 9) - 4;
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  return image(width, height, (x, y) =>
    rgb(
      clamp(128 + 60 * Math.sin(x / 37) + 50 * Math.cos(y / 23) + n()),
      clamp(120 + 70 * Math.sin((x + y) / 51) + n()),
      clamp(110 + 40 * Math.cos(x / 17 - y / 29) + 30 * Math.sin(y / 11) + n()),
    ),
  );
}

/** `img` with alpha from `alpha(x, y)`. */
function withAlphaFrom(img: Image, alpha: (x: number, y: number) => number): Image {
  return image(img.width, img.height, (x, y) => ((img.pixels[y * img.width + x]! & 0xffffff) | ((alpha(x, y) & 255) << 24)) >>> 0);
}

/** Writes the image at SRC with the given row pitch (padding filled with junk). */
function place(img: Image, stride = img.width * 4): void {
  const v = device.view;
  const r = rng(99);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) v.setUint32(SRC + y * stride + x * 4, img.pixels[y * img.width + x]!, true);
    for (let o = img.width * 4; o < stride; o++) device.bytes[SRC + y * stride + o] = Math.floor(r() * 256);
  }
}

/** Decodes with spice-html5's quic.js (the payload of a QUIC SpiceImage: u32 data_size, stream). */
function html5Decode(stream: Uint8Array): Html5SpiceQuic {
  const mb = new ArrayBuffer(4 + stream.byteLength);
  const dv = new DataView(mb);
  dv.setUint32(0, stream.byteLength, true);
  new Uint8Array(mb, 4).set(stream);
  const q = new html5.SpiceQuic();
  q.from_dv(dv, 0, mb);
  return q;
}

/** What a lossless decode must give: B,G,R and alpha (RGBA) or 0 (RGB32, as quic.c's decoder writes). */
function expected(img: Image, alpha: boolean): Uint8Array {
  const out = new Uint8Array(img.width * img.height * 4);
  const v = new DataView(out.buffer);
  for (let k = 0; k < img.pixels.length; k++) {
    const p = img.pixels[k]!;
    v.setUint32(k * 4, alpha ? p : p & 0xffffff, true);
  }
  return out;
}

/** First differing pixel, for a readable failure. */
function firstDiff(a: Uint8Array, b: Uint8Array, width: number): string {
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    if (a[k] !== b[k]) {
      const px = k >> 2;
      return `pixel (${px % width}, ${Math.floor(px / width)}) byte ${k & 3}: expected ${b[k]}, got ${a[k]}`;
    }
  }
  return a.length === b.length ? 'none' : `length ${a.length} vs ${b.length}`;
}

/** Encodes, checks the header, decodes with html5 and compares; returns the stream. */
function roundTrip(img: Image, alpha = false, stride = img.width * 4): Uint8Array {
  place(img, stride);
  const stream = encoder.encode(SRC, stride, img.width, img.height, alpha);
  expect(stream.buffer).toBeInstanceOf(ArrayBuffer); // not shared
  expect(stream.byteLength % 4).toBe(0);
  const h = new DataView(stream.buffer, stream.byteOffset, QUIC_HEADER_BYTES);
  expect([h.getUint32(0, true), h.getUint32(4, true), h.getUint32(8, true), h.getUint32(12, true), h.getUint32(16, true)]).toEqual([
    0x43495551,
    0,
    alpha ? QuicImageType.RGBA : QuicImageType.RGB32,
    img.width,
    img.height,
  ]);
  const q = html5Decode(stream);
  expect(q.outptr, 'spice-html5 failed to decode the stream').toBeDefined();
  expect([q.type, q.width, q.height]).toEqual([alpha ? 5 : 4, img.width, img.height]);
  const want = expected(img, alpha);
  const diff = firstDiff(q.outptr!, want, img.width);
  expect(diff).toBe('none');
  return stream;
}

describe('QUIC encoder, decoded by spice-html5', () => {
  it('solid, gradient, text-like, noise and photo-like images (RGB32)', () => {
    const sizes: Record<string, number> = {};
    for (const [name, img] of [
      ['solid', solid(320, 200)],
      ['gradient', gradient(256, 160)],
      ['text', textLike(640, 200)],
      ['noise', noise(200, 100)],
      ['photo', photoLike(400, 300)],
    ] as const) {
      sizes[name] = roundTrip(img).byteLength;
    }
    // Sanity on compression: flat content collapses, noise does not.
    expect(sizes.solid!).toBeLessThan(2000);
    expect(sizes.noise!).toBeGreaterThan(200 * 100 * 3);
  });

  it('tiny and odd sizes: 1x1, 2x2, 3x3, 7x3, 1x1000, 1000x1, 5x1 … 4x9', () => {
    roundTrip(solid(1, 1, 0xabcdef));
    roundTrip(noise(1, 1, 7));
    roundTrip(noise(2, 2, 8));
    roundTrip(textLike(3, 3));
    roundTrip(noise(7, 3, 9));
    roundTrip(gradient(7, 3));
    roundTrip(photoLike(1, 1000));
    roundTrip(solid(1, 1000));
    roundTrip(photoLike(1000, 1));
    roundTrip(solid(1000, 1));
    for (let w = 1; w <= 5; w++) for (let h = 1; h <= 9; h += 4) roundTrip(textLike(w, h, w * 10 + h));
  });

  it('rows split where the wait mask grows (widths beyond 2048, widths that do not divide it)', () => {
    roundTrip(photoLike(3000, 4));
    roundTrip(textLike(5000, 3));
    roundTrip(solid(2049, 5, 0x123456));
    roundTrip(noise(1000, 20, 4));
    roundTrip(textLike(1023, 40, 5));
  });

  it('runs: long flat rows, runs ending at row and segment ends, alternating patterns', () => {
    roundTrip(image(300, 50, (x, y) => (x < 150 ? 0x00ff00 : (y & 1 ? 0xff0000 : 0x0000ff))));
    roundTrip(image(257, 33, (x, y) => ((x >> 2) + (y >> 3)) & 1 ? 0xffffff : 0)); // 4-pixel stripes
    roundTrip(image(64, 64, (x, y) => (x % 3 === 0 || y % 5 === 0 ? 0x101010 : 0xf0f0f0)));
    roundTrip(image(4100, 3, (x) => (x < 4097 ? 0x777777 : 0x111111))); // a run across the segment split
    roundTrip(image(40000, 2, () => 0x445566)); // runs long enough for high MELCODE states
  });

  it('the pad byte of RGB32 pixels is ignored', () => {
    const img = textLike(120, 40, 6);
    const a = roundTrip(img);
    const junk = withAlphaFrom(img, (x, y) => x * 7 + y * 13);
    const b = roundTrip(junk);
    expect(b).toEqual(a);
  });

  it('a row pitch larger than 4·width', () => {
    roundTrip(photoLike(101, 37), false, 101 * 4 + 12);
    roundTrip(textLike(64, 48), false, 4096);
    roundTrip(noise(5, 5, 11), true, 5 * 4 + 4);
  });

  it('RGBA: alpha coded exactly (html5 decodes it; its canvas shows 255 − alpha)', () => {
    roundTrip(withAlphaFrom(photoLike(200, 120), (x, y) => x + y), true);
    roundTrip(withAlphaFrom(textLike(300, 64), () => 255), true);
    roundTrip(withAlphaFrom(textLike(300, 64), (x) => (x < 100 ? 0 : x < 200 ? 128 : 255)), true);
    roundTrip(noise(97, 31, 12), true);
    roundTrip(withAlphaFrom(solid(2500, 3), (x) => (x > 2300 ? 10 : 200)), true);
    roundTrip(noise(1, 1, 13), true);
    roundTrip(withAlphaFrom(gradient(1, 300), (_x, y) => y), true);
  });

  it('returns 0 when the output would exceed dstCapacity, and writes nothing past it', () => {
    const wasm = device.wasm;
    const work = Region.ENCODER_WORK;
    const dst = Region.ENCODER_OUT;
    for (const [img, alpha] of [
      [photoLike(160, 90, 21), false],
      [textLike(200, 50, 22), true],
      [solid(40, 40), false],
    ] as const) {
      place(img);
      const full = wasm.quicEncode(SRC, img.width * 4, img.width, img.height, alpha ? 1 : 0, dst, Region.ENCODER_OUT_SIZE, work);
      expect(full).toBeGreaterThan(QUIC_HEADER_BYTES);
      const reference = device.bytes.slice(dst, dst + full);
      const caps = [0, 3, 19, 20, 24, full >> 1, full - 8, full - 4, full - 1];
      for (const cap of caps) {
        device.bytes.fill(0xa5, dst, dst + full + 64);
        const n = wasm.quicEncode(SRC, img.width * 4, img.width, img.height, alpha ? 1 : 0, dst, cap, work);
        expect(n, `capacity ${cap} of ${full}`).toBe(0);
        const after = device.bytes.subarray(dst + cap, dst + full + 64);
        expect(after.every((b) => b === 0xa5), `bytes written past capacity ${cap}`).toBe(true);
      }
      for (const cap of [full, full + 1, full + 7, full + 1000]) {
        device.bytes.fill(0xa5, dst, dst + full + 1064);
        const n = wasm.quicEncode(SRC, img.width * 4, img.width, img.height, alpha ? 1 : 0, dst, cap, work);
        expect(n, `capacity ${cap} of ${full}`).toBe(full);
        expect(device.bytes.subarray(dst, dst + full)).toEqual(reference);
        expect(device.bytes.subarray(dst + full, dst + cap).every((b) => b === 0xa5)).toBe(true);
      }
    }
  });

  it('QuicEncoder rejects invalid sizes, addresses and overflows with clear errors', () => {
    expect(() => encoder.encode(SRC, 400, 0, 10)).toThrow(/expected a size of at least 1x1.*got 0x10/);
    expect(() => encoder.encode(SRC, 400, 10.5, 10)).toThrow(/got 10.5x10/);
    expect(() => encoder.encode(SRC, 39, 10, 10)).toThrow(/row pitch of at least 40 bytes.*got 39/);
    expect(() => encoder.encode(device.byteLength - 100, 40, 10, 10)).toThrow(/inside device memory/);
    expect(() => encoder.encode(Region.ENCODER_WORK, 40, 10, 10)).toThrow(/outside the encoder regions/);
    place(noise(64, 64, 30));
    const small = new QuicEncoder(device, { outCapacity: 1000 });
    expect(() => small.encode(SRC, 256, 64, 64)).toThrow(/64x64 stream to fit 1000 output bytes, got an overflow/);
    expect(() => new QuicEncoder(device, { outCapacity: -1 })).toThrow(/output capacity/);
  });

  it('speed and size on 1024x768 screen-like (text) and photo-like images', () => {
    const lines: string[] = [];
    for (const [name, img] of [
      ['text-like', textLike(1024, 768, 41)],
      ['photo-like', photoLike(1024, 768, 42)],
      ['noise', noise(1024, 768, 43)],
    ] as const) {
      const stream = roundTrip(img);
      const bytes = img.width * img.height * 4;
      let runs = 0;
      const t0 = performance.now();
      let t = t0;
      while (runs < 5 || (t - t0 < 400 && runs < 200)) {
        encoder.encode(SRC, img.width * 4, img.width, img.height);
        runs++;
        t = performance.now();
      }
      const ms = (t - t0) / runs;
      lines.push(
        `quic ${name} 1024x768: ${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(2)} ms), ` +
          `${stream.byteLength} bytes = ${((stream.byteLength / bytes) * 100).toFixed(1)} % of the raw 32-bit pixels`,
      );
    }
    console.log(lines.join('\n'));
  });
});
