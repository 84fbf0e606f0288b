/**
 * The benchmark corpus: deterministic screen-like images generated here, so
 * every machine measures the same pixels. Pixels are xRGB (0x00RRGGBB).
 */

export type CorpusKind = 'text' | 'ui' | 'gradient' | 'photo' | 'noise';
export const CORPUS_KINDS: readonly CorpusKind[] = ['text', 'ui', 'gradient', 'photo', 'noise'];
export const CORPUS_SIZES: ReadonlyArray<readonly [number, number]> = [
  [1024, 768],
  [1920, 1080],
];

export interface CorpusImage {
  name: string;
  kind: CorpusKind;
  width: number;
  height: number;
  pixels: Uint32Array;
}

/** xorshift32: a small deterministic generator of integers in [0, 2^32). */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** The same sequence scaled to [0, 1). */
function rng(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 4294967296;
}

function fillRect(px: Uint32Array, width: number, x: number, y: number, w: number, h: number, c: number): void {
  for (let yy = y; yy < y + h; yy++) px.fill(c, yy * width + x, yy * width + x + w);
}

/** Black-on-white "text": glyph-like 6x10 blocks of strokes in lines, like a terminal or document. */
function text(width: number, height: number): Uint32Array {
  const px = new Uint32Array(width * height).fill(0xffffff);
  const r = rng(7);
  for (let y = 8; y + 12 < height; y += 14) {
    let x = 8;
    const lineLen = width - 16 - Math.floor(r() * width * 0.4);
    while (x + 7 < lineLen) {
      if (r() < 0.15) {
        x += 7; // a space
        continue;
      }
      const glyph = Math.floor(r() * 4096);
      for (let gy = 0; gy < 10; gy++) {
        for (let gx = 0; gx < 6; gx++) {
          if ((glyph >> ((gy * 6 + gx) % 12)) & 1 && (gx + gy) % 3 !== 0) px[(y + gy) * width + x + gx] = 0x202020;
        }
      }
      x += 7;
    }
  }
  return px;
}

/** A desktop: flat background, windows with title bars, borders, buttons, icon grid. */
function ui(width: number, height: number): Uint32Array {
  const px = new Uint32Array(width * height).fill(0x3a6ea5);
  const r = rng(11);
  for (let i = 0; i < 24; i++) fillRect(px, width, 16 + (i % 2) * 80, 16 + Math.floor(i / 2) * 70, 48, 48, [0xf0c040, 0x60a060, 0xd05050][i % 3]!);
  for (let wdw = 0; wdw < 6; wdw++) {
    const w = 300 + Math.floor(r() * (width / 3));
    const h = 200 + Math.floor(r() * (height / 3));
    const x = 180 + Math.floor(r() * (width - w - 200));
    const y = 20 + Math.floor(r() * (height - h - 40));
    fillRect(px, width, x - 1, y - 1, w + 2, h + 2, 0x202020);
    fillRect(px, width, x, y, w, 24, wdw % 2 ? 0x1c4f8a : 0x7a7a7a);
    fillRect(px, width, x, y + 24, w, h - 24, 0xf4f4f4);
    for (let b = 0; b < 3; b++) fillRect(px, width, x + w - 22 - b * 22, y + 4, 16, 16, 0xdddddd);
    for (let row = y + 34; row + 14 < y + h; row += 20) fillRect(px, width, x + 10, row, Math.floor(r() * (w - 20)), 10, 0xc8c8c8);
    fillRect(px, width, x + w - 90, y + h - 34, 80, 24, 0xe0e0e0);
  }
  fillRect(px, width, 0, height - 32, width, 32, 0x202838);
  return px;
}

function gradient(width: number, height: number): Uint32Array {
  const px = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = (x * 255) / (width - 1);
      const g = (y * 255) / (height - 1);
      const b = 255 - (r + g) / 2;
      px[y * width + x] = (Math.round(r) << 16) | (Math.round(g) << 8) | Math.round(b);
    }
  }
  return px;
}

/** Smooth value noise at several scales plus fine grain: photo-like (no two neighbours quite equal). */
function photo(width: number, height: number): Uint32Array {
  const px = new Uint32Array(width * height);
  const r = rng(23);
  const grid = (cell: number): { w: number; v: Float32Array } => {
    const w = Math.ceil(width / cell) + 2;
    const h = Math.ceil(height / cell) + 2;
    const v = new Float32Array(w * h * 3);
    for (let i = 0; i < v.length; i++) v[i] = r();
    return { w, v };
  };
  const scales = [96, 24, 6].map((cell) => ({ cell, ...grid(cell) }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = [0, 0, 0];
      let weight = 0.6;
      for (const s of scales) {
        const fx = x / s.cell;
        const fy = y / s.cell;
        const ix = Math.floor(fx);
        const iy = Math.floor(fy);
        const tx = fx - ix;
        const ty = fy - iy;
        for (let ch = 0; ch < 3; ch++) {
          const at = (gx: number, gy: number): number => s.v[(gy * s.w + gx) * 3 + ch]!;
          const top = at(ix, iy) * (1 - tx) + at(ix + 1, iy) * tx;
          const bottom = at(ix, iy + 1) * (1 - tx) + at(ix + 1, iy + 1) * tx;
          c[ch]! += (top * (1 - ty) + bottom * ty) * weight;
        }
        weight *= 0.5;
      }
      const grain = (r() - 0.5) * 6;
      const ch = (v: number): number => Math.max(0, Math.min(255, Math.round((v / 1.05) * 255 + grain)));
      px[y * width + x] = (ch(c[0]!) << 16) | (ch(c[1]!) << 8) | ch(c[2]!);
    }
  }
  return px;
}

function noise(width: number, height: number): Uint32Array {
  const px = new Uint32Array(width * height);
  const r = rng(31);
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(r() * 0x1000000);
  return px;
}

const MAKERS: Record<CorpusKind, (w: number, h: number) => Uint32Array> = { text, ui, gradient, photo, noise };

export function makeImage(kind: CorpusKind, width: number, height: number): CorpusImage {
  return { name: `${kind} ${width}x${height}`, kind, width, height, pixels: MAKERS[kind](width, height) };
}

export function makeCorpus(): CorpusImage[] {
  return CORPUS_SIZES.flatMap(([w, h]) => CORPUS_KINDS.map((k) => makeImage(k, w, h)));
}
