/**
 * The WASM LZ4 image encoder: its streams decode (by a small LZ4 block
 * decoder written here from the format, with the bounds checks of a safe
 * decoder) to exactly the source pixels, for every corpus kind, sub-rectangles
 * of a wider surface and tiny images. spice-gtk decoding it is in
 * e2e/image-codecs.spec.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Lz4Encoder } from '../src/codecs/lz4.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import { makeImage, CORPUS_KINDS } from '../bench/corpus.ts';
import { bestTime } from '../bench/timing.ts';

let device: QxlDevice;
let lz4: Lz4Encoder;
const SRC = Region.SURFACE;

beforeAll(async () => {
  device = await QxlDevice.create();
  lz4 = new Lz4Encoder(device);
});

/** Decodes LZ4 blocks into `out`, as a streaming safe decoder would (matches may reach into earlier blocks). */
function decodeLz4Blocks(data: Uint8Array, out: Uint8Array): number {
  let ip = 0;
  let op = 0;
  const fail = (why: string): never => {
    throw new Error(`lz4 decode: ${why} at input ${ip}, output ${op}`);
  };
  while (ip < data.length) {
    if (ip + 4 > data.length) fail('truncated block length');
    const blockLen = ((data[ip]! << 24) | (data[ip + 1]! << 16) | (data[ip + 2]! << 8) | data[ip + 3]!) >>> 0;
    ip += 4;
    const end = ip + blockLen;
    if (end > data.length) fail(`block of ${blockLen} bytes past the end`);
    for (;;) {
      const token = data[ip++]!;
      let lit = token >> 4;
      if (lit === 15) {
        let b: number;
        do {
          if (ip >= end) fail('truncated literal length');
          b = data[ip++]!;
          lit += b;
        } while (b === 255);
      }
      if (ip + lit > end || op + lit > out.length) fail(`literals of ${lit} overflow`);
      out.set(data.subarray(ip, ip + lit), op);
      ip += lit;
      op += lit;
      if (ip === end) break; // the last sequence has no match
      if (ip + 2 > end) fail('truncated offset');
      const offset = data[ip]! | (data[ip + 1]! << 8);
      ip += 2;
      if (offset === 0 || offset > op) fail(`bad offset ${offset}`);
      let len = (token & 15) + 4;
      if ((token & 15) === 15) {
        let b: number;
        do {
          if (ip >= end) fail('truncated match length');
          b = data[ip++]!;
          len += b;
        } while (b === 255);
      }
      if (op + len > out.length) fail(`match of ${len} overflows`);
      // Byte by byte: matches may overlap their own output.
      for (let i = 0; i < len; i++, op++) out[op] = out[op - offset]!;
      if (ip >= end) fail('a block may not end with a match');
    }
  }
  return op;
}

/** Puts `px` (width per row) at SRC with the given row pitch in pixels. */
function put(px: Uint32Array, width: number, height: number, pitch = width): void {
  const mem = new Uint32Array(device.memory.buffer, SRC, pitch * height);
  for (let y = 0; y < height; y++) mem.set(px.subarray(y * width, (y + 1) * width), y * pitch);
}

function roundTrip(px: Uint32Array, width: number, height: number, pitch = width): Uint8Array {
  put(px, width, height, pitch);
  const stream = lz4.encode(SRC, pitch * 4, width, height);
  expect(stream[0], 'top_down').toBe(1);
  expect(stream[1], 'SPICE_BITMAP_FMT_32BIT').toBe(8);
  const out = new Uint8Array(width * height * 4);
  expect(decodeLz4Blocks(stream.subarray(2), out)).toBe(out.length);
  const want = new Uint8Array(px.buffer, px.byteOffset, width * height * 4);
  const bad = out.findIndex((b, i) => b !== want[i]);
  expect(bad, `first wrong byte (pixel ${bad >> 2})`).toBe(-1);
  return stream;
}

describe('LZ4 encoder', () => {
  it('round-trips every corpus kind at 1024x768 and stays small on screen-like content', () => {
    const sizes: Record<string, number> = {};
    for (const kind of CORPUS_KINDS) {
      const img = makeImage(kind, 1024, 768);
      sizes[kind] = roundTrip(img.pixels, 1024, 768).length;
    }
    const raw = 1024 * 768 * 4;
    expect(sizes.ui!).toBeLessThan(raw / 50);
    expect(sizes.text!).toBeLessThan(raw / 5);
    // Incompressible input grows by at most LZ4's literal overhead (1/255) plus the prefix.
    expect(sizes.noise!).toBeLessThanOrEqual(raw + Math.ceil(raw / 255) + 16);
  });

  it('encodes a sub-rectangle of a wider surface, and tiny images as literals', () => {
    const img = makeImage('text', 300, 200);
    roundTrip(img.pixels, 300, 200, 1024);
    for (const [w, h] of [[1, 1], [2, 1], [3, 1], [4, 1], [1, 5], [7, 3]] as const) {
      const px = new Uint32Array(w * h).map((_, i) => (i * 0x010203) & 0xffffff);
      roundTrip(px, w, h, w + 3);
    }
    // Long runs of one pixel: overlapping matches.
    roundTrip(new Uint32Array(640 * 480).fill(0x336699), 640, 480);
  });

  it('refuses invalid areas with clear errors', () => {
    expect(() => lz4.encode(SRC, 0, 0, 10)).toThrow(/lz4: expected a size of at least 1x1.*got 0x10/);
    expect(() => lz4.encode(SRC, 39, 10, 10)).toThrow(/row pitch of at least 40 bytes.*got 39/);
    expect(() => lz4.encode(device.byteLength - 100, 400, 100, 1)).toThrow(/inside device memory/);
    expect(() => lz4.encode(Region.ENCODER_OUT, 400, 100, 1)).toThrow(/outside the encoder regions/);
    // Too small an output budget: 0 from the module, never a write past it.
    put(makeImage('noise', 64, 64).pixels, 64, 64);
    const guard = Region.ENCODER_OUT + 1000;
    device.bytes[guard] = 0xa5;
    expect(device.wasm.lz4Encode(SRC, 256, 64, 64, Region.ENCODER_OUT, 1000, Region.ENCODER_WORK)).toBe(0);
    expect(device.bytes[guard]).toBe(0xa5);
  });

  it('prints MB/s at 1024x768', () => {
    const lines: string[] = [];
    for (const kind of CORPUS_KINDS) {
      put(makeImage(kind, 1024, 768).pixels, 1024, 768);
      let size = 0;
      const ms = bestTime(() => {
        size = device.wasm.lz4Encode(SRC, 4096, 1024, 768, Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK);
      });
      expect(size).toBeGreaterThan(0);
      lines.push(`lz4 ${kind.padEnd(9)} ${Math.round((1024 * 768 * 4) / 1e3 / ms)} MB/s, ${size} bytes`);
    }
    console.log(lines.join('\n'));
  });
});
