/**
 * The WASM JPEG encoder: its output is a valid baseline JFIF that an
 * independent decoder (npm jpeg-js) reads back at the right size and close to
 * the source (the lossy bound below); spice-gtk and spice-html5 decoding it
 * is in e2e/image-codecs.spec.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { JpegEncoder, jpegTables } from '../src/codecs/jpeg.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import { makeImage } from '../bench/corpus.ts';
import { bestTime } from '../bench/timing.ts';

let device: QxlDevice;
const SRC = Region.SURFACE;

beforeAll(async () => {
  device = await QxlDevice.create();
});

function put(px: Uint32Array, width: number, height: number, pitch = width): void {
  const mem = new Uint32Array(device.memory.buffer, SRC, pitch * height);
  for (let y = 0; y < height; y++) mem.set(px.subarray(y * width, (y + 1) * width), y * pitch);
}

/** Mean absolute error per channel between xRGB source pixels and decoded RGBA. */
function meanError(px: Uint32Array, rgba: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < px.length; i++) {
    const p = px[i]!;
    sum += Math.abs(((p >>> 16) & 255) - rgba[i * 4]!) + Math.abs(((p >>> 8) & 255) - rgba[i * 4 + 1]!) + Math.abs((p & 255) - rgba[i * 4 + 2]!);
  }
  return sum / (px.length * 3);
}

describe('JPEG encoder', () => {
  it('hands the standard tables over intact (the zigzag order is a permutation)', () => {
    const t = jpegTables();
    expect([...t.subarray(544, 608)].sort((a, b) => a - b)).toEqual([...Array(64).keys()]);
    expect(t.subarray(544, 552)).toEqual(new Uint8Array([0, 1, 8, 16, 9, 2, 3, 10]));
  });

  it('photo-like images decode at their size within a mean error of 3 per channel (quality 85)', () => {
    const enc = new JpegEncoder(device);
    for (const [w, h, pitch] of [[320, 240, 320], [1024, 768, 1024], [333, 77, 1024], [1, 1, 4], [17, 9, 17]] as const) {
      const img = makeImage('photo', w, h);
      put(img.pixels, w, h, pitch);
      const bytes = enc.encode(SRC, pitch * 4, w, h);
      expect([bytes[0], bytes[1], bytes.at(-2), bytes.at(-1)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
      const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      expect([decoded.width, decoded.height]).toEqual([w, h]);
      const err = meanError(img.pixels, decoded.data);
      expect(err, `${w}x${h}`).toBeLessThan(3);
      if (w === 1024) expect(bytes.length).toBeLessThan(w * h * 4 * 0.25);
    }
  });

  it('quality trades size for error', () => {
    const img = makeImage('photo', 320, 240);
    put(img.pixels, 320, 240);
    const at = (q: number): { size: number; err: number } => {
      const bytes = new JpegEncoder(device, q).encode(SRC, 1280, 320, 240);
      return { size: bytes.length, err: meanError(img.pixels, jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true }).data) };
    };
    const low = at(30);
    const high = at(95);
    expect(low.size).toBeLessThan(high.size);
    expect(low.err).toBeGreaterThan(high.err);
    expect(at(100).err).toBeLessThan(1.5);
  });

  it('refuses invalid quality, areas and overflows clearly', () => {
    expect(() => new JpegEncoder(device, 0)).toThrow(/quality from 1 to 100, got 0/);
    const enc = new JpegEncoder(device);
    expect(() => enc.encode(SRC, 0, 0, 10)).toThrow(/jpeg: expected a size of at least 1x1/);
    put(makeImage('noise', 64, 64).pixels, 64, 64);
    device.bytes.set(jpegTables(), Region.ENCODER_WORK);
    const guard = Region.ENCODER_OUT + 500;
    device.bytes[guard] = 0x5a;
    expect(device.wasm.jpegEncode(SRC, 256, 64, 64, 85, Region.ENCODER_OUT, 500, Region.ENCODER_WORK)).toBe(0);
    expect(device.bytes[guard]).toBe(0x5a);
  });

  it('prints MB/s at 1024x768', () => {
    const enc = new JpegEncoder(device);
    put(makeImage('photo', 1024, 768).pixels, 1024, 768);
    let size = 0;
    const ms = bestTime(() => {
      size = enc.encode(SRC, 4096, 1024, 768).length;
    });
    console.log(`jpeg photo 1024x768 q85: ${Math.round((1024 * 768 * 4) / 1e3 / ms)} MB/s, ${size} bytes`);
  });
});
