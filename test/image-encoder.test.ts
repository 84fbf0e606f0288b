import { describe, expect, it } from 'vitest';
import { ImageType } from '../src/protocol/constants.ts';
import { ImageEncoder, packArea, screenLike, type PixelArea } from '../src/worker/image-encoder.ts';
import { setLogLevel } from '../src/util/logger.ts';

setLogLevel('silent');

function area(width: number, height: number, fill: (x: number, y: number) => number, stride = width * 4): PixelArea {
  const bytes = new Uint8Array(stride * height);
  const v = new DataView(bytes.buffer);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) v.setUint32(y * stride + x * 4, fill(x, y), true);
  return { addr: 0, stride, bytes, offset: 0, width, height };
}

const flat = area(64, 32, (x) => (x < 32 ? 0xffffff : 0x102030));
const photo = area(64, 32, (x, y) => ((x * 7919 + y * 104729) ^ (x * y)) & 0xffffff);

describe('ImageEncoder', () => {
  it('auto: screen-like areas go LZ, photo-like ones QUIC; LZ4 only to clients that have it', () => {
    const enc = new ImageEncoder({ lz: () => new Uint8Array(1), quic: () => new Uint8Array(1), lz4: () => new Uint8Array(1) });
    expect(screenLike(flat)).toBe(true);
    expect(screenLike(photo)).toBe(false);
    expect(enc.choose(flat, { lz4: true })).toBe('lz');
    expect(enc.choose(photo, { lz4: true })).toBe('quic');
    enc.compression = 'lz4';
    expect(enc.choose(flat, { lz4: true })).toBe('lz4');
    expect(enc.choose(flat, { lz4: false })).toBe('lz');
    enc.compression = 'off';
    expect(enc.choose(flat, { lz4: true })).toBe('bitmap');
    // A client's own preference wins.
    expect(enc.choose(photo, { lz4: false, preferred: 'quic' })).toBe('quic');
  });

  it('JPEG: photo-like areas at low bandwidth (auto), always, never; never for refreshes or screen-like areas', () => {
    const one = (): Uint8Array => new Uint8Array(1);
    const enc = new ImageEncoder({ lz: one, quic: one, jpeg: one });
    const bigPhoto = area(64, 64, (x, y) => ((x * 7919 + y * 104729) ^ (x * y)) & 0xffffff);
    const bigFlat = area(64, 64, (x) => (x < 32 ? 0xffffff : 0x102030));
    expect(enc.choose(bigPhoto, { lz4: false })).toBe('quic');
    expect(enc.choose(bigPhoto, { lz4: false, lowBandwidth: true })).toBe('jpeg');
    expect(enc.choose(bigPhoto, { lz4: false, lowBandwidth: true, lossless: true })).toBe('quic');
    expect(enc.choose(bigFlat, { lz4: false, lowBandwidth: true })).toBe('lz');
    const smallPhoto = area(30, 16, (x, y) => ((x * 7919 + y * 104729) ^ (x * y)) & 0xffffff);
    expect(enc.choose(smallPhoto, { lz4: false, lowBandwidth: true })).toBe('quic'); // too small to be worth it
    enc.jpeg = 'always';
    expect(enc.choose(bigPhoto, { lz4: false })).toBe('jpeg');
    enc.jpeg = 'never';
    expect(enc.choose(bigPhoto, { lz4: false, lowBandwidth: true })).toBe('quic');
    enc.jpeg = 'always';
    enc.compression = 'lz';
    expect(enc.choose(bigPhoto, { lz4: false })).toBe('lz'); // a forced lossless codec wins
  });

  it('falls back to a bitmap when a codec is missing, the area is tiny, or the codec fails', () => {
    const enc = new ImageEncoder({
      lz: () => {
        throw new Error('output does not fit');
      },
    });
    enc.compression = 'quic';
    expect(enc.choose(flat, { lz4: false })).toBe('bitmap');
    enc.compression = 'lz';
    expect(enc.choose(area(4, 4, () => 0), { lz4: false })).toBe('lz'); // only tiny areas may go raw
    const img = enc.encode(flat, 'lz', 7);
    expect(img.type).toBe(ImageType.BITMAP);
    expect(enc.stats.byCodec).toMatchObject({ bitmap: 1, lz: 0 });
  });

  it('compresses all but tiny areas; a tiny one goes raw only when raw is smaller; counts raw multi-row bitmaps', () => {
    let lzOut = 100;
    const enc = new ImageEncoder({ lz: () => new Uint8Array(lzOut), quic: () => new Uint8Array(1) });
    const text = area(9, 16, (x, y) => (x > 2 && x < 6 && y > 3 && y < 12 ? 0xffffff : 0)); // a glyph cell
    const cursor = area(9, 2, () => 0xaaaaaa);
    expect(enc.choose(text, { lz4: false })).toBe('lz');
    expect(enc.choose(cursor, { lz4: false })).toBe('lz');
    enc.compression = 'quic';
    expect(enc.choose(cursor, { lz4: false })).toBe('quic'); // our QUIC takes any size (spice-html5 decodes 1x1 up)
    expect(enc.encode(text, 'lz', 1).type).toBe(ImageType.LZ_RGB); // not tiny: compressed even when raw would be smaller
    const tiny = area(3, 2, () => 0x123456); // 24 pixel bytes, under spice-server's 54
    expect(enc.encode(tiny, 'lz', 2).type).toBe(ImageType.BITMAP); // 18 + 24 < 4 + 100
    lzOut = 10;
    expect(enc.encode(tiny, 'lz', 3).type).toBe(ImageType.LZ_RGB); // 4 + 10 < 18 + 24
    expect(enc.stats.rawMultiRow).toBe(1);
    enc.encode(area(13, 1, () => 0), 'bitmap', 4);
    expect(enc.stats.rawMultiRow).toBe(1); // one row: no orientation to get wrong
  });

  it('streams carry data_size first; bitmaps are packed rows even from a wider surface', () => {
    const enc = new ImageEncoder({ lz: () => new Uint8Array([1, 2, 3, 4, 5]) });
    const img = enc.encode(flat, 'lz', 3);
    expect(img.type).toBe(ImageType.LZ_RGB);
    expect([...img.head, ...img.data]).toEqual([5, 0, 0, 0, 1, 2, 3, 4, 5]);
    const wide = area(3, 2, (x, y) => y * 16 + x, 32);
    const sub: PixelArea = { ...wide, offset: 4, width: 2 };
    expect(Array.from(new Uint32Array(packArea(sub).buffer))).toEqual([1, 2, 17, 18]);
  });
});

describe('auto compression on the benchmark corpus', () => {
  it('picks whichever of LZ and QUIC makes the smaller stream (within 10%)', async () => {
    const { QxlDevice } = await import('../src/qxl/qxl-device.ts');
    const { Region } = await import('../src/qxl/qxl-layout.ts');
    const { makeImage, CORPUS_KINDS } = await import('../bench/corpus.ts');
    const { renderTestPattern } = await import('../src/sources/test-pattern.ts');
    const device = await QxlDevice.create();
    const [w, h] = [1024, 768];
    const surface = new Uint32Array(device.memory.buffer, Region.SURFACE, w * h);
    const pattern = new Uint32Array(w * h);
    renderTestPattern(5, w, h, pattern);
    const images: [string, Uint32Array][] = [...CORPUS_KINDS.map((k): [string, Uint32Array] => [k, makeImage(k, w, h).pixels]), ['test pattern', pattern]];
    const run = (fn: typeof device.wasm.lzEncode): number =>
      fn(Region.SURFACE, w * 4, w, h, 0, Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK);
    const verdicts: string[] = [];
    for (const [name, px] of images) {
      surface.set(px);
      const lz = run(device.wasm.lzEncode);
      const quic = run(device.wasm.quicEncode);
      const a: PixelArea = { addr: Region.SURFACE, stride: w * 4, bytes: device.bytes, offset: Region.SURFACE, width: w, height: h };
      const chosen = screenLike(a) ? lz : quic;
      verdicts.push(`${name}: lz ${lz}, quic ${quic}, chose ${chosen === lz ? 'lz' : 'quic'}`);
      expect(chosen, verdicts.join('\n')).toBeLessThanOrEqual(Math.min(lz, quic) * 1.1);
    }
  });
});
