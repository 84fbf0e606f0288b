import { beforeAll, describe, expect, it } from 'vitest';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import type { CopyRect } from '../src/qxl/qxl-producer.ts';
import { ChangeDetector, type Change, type ChangeDetectorOptions } from '../src/sources/change-detector.ts';
import { setLogLevel } from '../src/util/logger.ts';

let device: QxlDevice;

beforeAll(async () => {
  setLogLevel('error');
  device = await QxlDevice.create();
});

const BG = 0x101418;
const FG = 0xd0d8c8;

/** Deterministic 32-bit hash. */
function hash(a: number, b = 0, c = 0): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35) ^ Math.imul(c + 0x165667b1, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** A terminal: document line `firstLine + row` on each 16-row text row, 8×16 cells with glyph-like bits. */
function drawText(fb: Uint32Array, width: number, height: number, firstLine: number): void {
  fb.fill(BG);
  const rows = Math.floor(height / 16);
  const cols = Math.floor((width - 16) / 8);
  for (let row = 0; row < rows; row++) {
    const line = firstLine + row;
    const len = hash(line) % cols;
    for (let col = 0; col < len; col++) {
      const g = hash(line, col);
      if (g % 7 === 0) continue; // a space
      for (let y = 2; y < 14; y++) {
        for (let x = 0; x < 6; x++) {
          if ((g >>> ((y * 6 + x) % 29)) & 1) fb[(row * 16 + y) * width + 8 + col * 8 + x] = FG;
        }
      }
    }
  }
}

/** A desktop with furniture and a 300×200 window at (wx, wy). */
function drawDesktop(fb: Uint32Array, width: number, height: number, wx: number, wy: number): void {
  const rect = (x: number, y: number, w: number, h: number, c: number): void => {
    for (let yy = Math.max(0, y); yy < Math.min(height, y + h); yy++) {
      fb.fill(c, yy * width + Math.max(0, x), yy * width + Math.min(width, x + w));
    }
  };
  rect(0, 0, width, height, 0x2f6f9f);
  for (let i = 0; i < 40; i++) rect(hash(i, 1) % width, hash(i, 2) % height, 20 + (hash(i, 3) % 60), 20 + (hash(i, 4) % 60), hash(i, 5) & 0xffffff);
  rect(wx - 1, wy - 1, 302, 202, 0x101010);
  rect(wx, wy, 300, 24, 0x1c4f8a);
  rect(wx, wy + 24, 300, 176, 0xf4f4f4);
  for (let row = wy + 34; row < wy + 190; row += 18) rect(wx + 10, row, 180 + (((row - wy) * 13) % 100), 8, 0xb8b8b8); // rigid: moves with the window
}

function randomFrame(fb: Uint32Array, seed: number): void {
  for (let i = 0; i < fb.length; i++) fb[i] = hash(i, seed) & 0xffffff;
}

function detector(width: number, height: number, options: ChangeDetectorOptions = {}): ChangeDetector {
  return new ChangeDetector(device, width, height, options);
}

/** Pushes (commits) everything detect returns, in order; returns what it was. */
function commitAll(d: ChangeDetector, changes: Change[]): Change[] {
  for (const c of changes) {
    if (c.kind === 'copy') d.commit(c.rect);
    else d.commitScroll(c.dest, c.srcX, c.srcY);
  }
  return changes;
}

/** Starts a detector whose mirror equals `draw`'s frame. */
function synced(width: number, height: number, draw: (fb: Uint32Array) => void, options?: ChangeDetectorOptions): ChangeDetector {
  const d = detector(width, height, options);
  draw(d.frame);
  const first = d.detect();
  expect(first).toEqual([{ kind: 'copy', rect: { left: 0, top: 0, width, height } }]);
  commitAll(d, first);
  expect(d.pending).toBe(false);
  return d;
}

function expectMirrorEqualsFrame(d: ChangeDetector): void {
  const { frame, mirror } = d;
  let bad = -1;
  for (let i = 0; i < frame.length; i++) {
    if (frame[i] !== mirror[i]) {
      bad = i;
      break;
    }
  }
  expect(bad === -1 ? 'equal' : `differs at (${bad % d.width}, ${Math.floor(bad / d.width)})`).toBe('equal');
}

/** Every pixel where frame and mirror differ lies in one of `rects`. */
function expectCovered(d: ChangeDetector, rects: readonly CopyRect[]): void {
  const { frame, mirror, width } = d;
  for (let i = 0; i < frame.length; i++) {
    if (frame[i] === mirror[i]) continue;
    const x = i % width;
    const y = Math.floor(i / width);
    const inside = rects.some((r) => x >= r.left && x < r.left + r.width && y >= r.top && y < r.top + r.height);
    if (!inside) expect(`changed pixel (${x}, ${y}) outside every rect`).toBe('covered');
  }
}

const copies = (changes: Change[]): CopyRect[] => changes.flatMap((c) => (c.kind === 'copy' ? [c.rect] : []));

describe('ChangeDetector: diff', () => {
  it('reports nothing for identical frames', () => {
    const d = synced(640, 480, (fb) => randomFrame(fb, 1));
    expect(d.detect()).toEqual([]);
    expect(d.detect([0, 480])).toEqual([]);
  });

  it('reports a single changed pixel as one small rect containing it', () => {
    const d = synced(1024, 768, (fb) => drawText(fb, 1024, 768, 0));
    d.frame[333 * 1024 + 517] ^= 0x00ff00;
    const changes = d.detect();
    expect(changes).toEqual([{ kind: 'copy', rect: { left: 517, top: 333, width: 1, height: 1 } }]);
    commitAll(d, changes);
    expectMirrorEqualsFrame(d);
    expect(d.detect()).toEqual([]);
  });

  it('keeps rects tight around a changed glyph', () => {
    const d = synced(1024, 768, (fb) => drawText(fb, 1024, 768, 0));
    for (let y = 402; y < 414; y++) for (let x = 40; x < 46; x++) d.frame[y * 1024 + x] = 0xff0000;
    const [c] = d.detect();
    expect(c).toEqual({ kind: 'copy', rect: { left: 40, top: 402, width: 6, height: 12 } });
  });

  it('covers many scattered changes with at most maxRects rects', () => {
    for (const maxRects of [1, 3, 8, 16]) {
      const d = synced(1024, 768, (fb) => randomFrame(fb, 2), { maxRects, copyBits: false });
      for (let k = 0; k < 300; k++) {
        const x = hash(k, maxRects, 1) % 1024;
        const y = hash(k, maxRects, 2) % 768;
        d.frame[y * 1024 + x] ^= 0x123456;
      }
      // A few larger blocks as well.
      for (let k = 0; k < 5; k++) {
        const x0 = hash(k, 9) % 900;
        const y0 = hash(k, 10) % 700;
        for (let y = y0; y < y0 + 40; y++) for (let x = x0; x < x0 + 90; x++) d.frame[y * 1024 + x] = 0xabcdef;
      }
      const changes = d.detect();
      expect(changes.length).toBeGreaterThan(0);
      expect(changes.length).toBeLessThanOrEqual(maxRects);
      expect(changes.every((c) => c.kind === 'copy')).toBe(true);
      expectCovered(d, copies(changes));
      commitAll(d, changes);
      expectMirrorEqualsFrame(d);
      expect(d.detect()).toEqual([]);
    }
  });

  it('merges nearby changes into few rects and keeps distant ones apart', () => {
    const d = synced(1024, 768, (fb) => fb.fill(BG));
    // Typing: three adjacent glyphs on one line, and one far away.
    for (const x0 of [100, 108, 116, 900]) for (let y = 202; y < 214; y++) for (let x = x0; x < x0 + 6; x++) d.frame[y * 1024 + x] = FG;
    const rects = copies(d.detect());
    expect(rects).toHaveLength(2);
    expect(rects).toContainEqual({ left: 100, top: 202, width: 22, height: 12 });
    expect(rects).toContainEqual({ left: 900, top: 202, width: 6, height: 12 });
  });

  it('compares only the dirty rows it is told about', () => {
    const d = synced(800, 600, (fb) => randomFrame(fb, 3));
    d.frame[10 * 800 + 10] ^= 1; // outside the hint
    d.frame[300 * 800 + 20] ^= 1; // inside
    const changes = d.detect([256, 320]);
    expect(copies(changes)).toEqual([{ left: 20, top: 300, width: 1, height: 1 }]);
    commitAll(d, changes);
    expect(d.detect([0, 0])).toEqual([]);
    expect(copies(d.detect([0, 16]))).toEqual([{ left: 10, top: 10, width: 1, height: 1 }]);
  });

  it('keeps an area dirty until it is committed', () => {
    const d = synced(800, 600, (fb) => randomFrame(fb, 4));
    d.frame[100 * 800 + 100] ^= 1;
    d.frame[500 * 800 + 700] ^= 1;
    const first = d.detect([0, 600]);
    expect(first).toHaveLength(2);
    // Only the first push succeeds; the next detect's hint does not cover the second.
    commitAll(d, first.slice(0, 1));
    expect(d.pending).toBe(true);
    const again = d.detect([0, 0]);
    expect(copies(again)).toEqual([{ left: 700, top: 500, width: 1, height: 1 }]);
    commitAll(d, again);
    expect(d.pending).toBe(false);
    expectMirrorEqualsFrame(d);
  });

  it('returns the whole frame after invalidate until it is committed', () => {
    const d = synced(320, 200, (fb) => randomFrame(fb, 5));
    d.invalidate();
    const whole = [{ kind: 'copy', rect: { left: 0, top: 0, width: 320, height: 200 } }];
    expect(d.detect()).toEqual(whole);
    expect(d.detect([0, 0])).toEqual(whole); // not committed: still due
    commitAll(d, d.detect());
    expect(d.detect()).toEqual([]);
  });

  it('handles widths that are not a multiple of the tile or word size', () => {
    const w = 1366;
    const h = 77;
    const d = synced(w, h, (fb) => randomFrame(fb, 6), { tileWidth: 8, tileHeight: 4 });
    for (const [x, y] of [[0, 0], [w - 1, h - 1], [w - 1, 0], [683, 40]] as const) d.frame[y * w + x]! ^= 0xff;
    const changes = d.detect();
    expectCovered(d, copies(changes));
    commitAll(d, changes);
    expectMirrorEqualsFrame(d);
  });

  it('rejects sizes and rects it cannot handle', () => {
    expect(() => detector(0, 10)).toThrow(RangeError);
    expect(() => detector(4000, 10)).toThrow(RangeError);
    const d = detector(100, 100);
    expect(() => d.commit({ left: 90, top: 0, width: 20, height: 1 })).toThrow(RangeError);
  });
});

describe('ChangeDetector: scroll and moved blocks', () => {
  const W = 1024;
  const H = 768;
  const stride = W * 4;

  it('detectScroll finds a 16-row text scroll and a band that is exact after COPY_BITS', () => {
    const d = synced(W, H, (fb) => drawText(fb, W, H, 0));
    drawText(d.frame, W, H, 1); // every line moves up one text row; a new bottom line
    const out = Region.SOURCE_MIRROR + 16 * 1024 * 1024 - 256 * 1024;
    const work = out + 64;
    const dy = device.wasm.detectScroll(Region.SOURCE_FRAME, Region.SOURCE_MIRROR, stride, W, H, 0, 0, W, H, 256, out, work);
    expect(dy).toBe(16);
    const [left, top, width, height, srcY] = new Uint32Array(device.memory.buffer, out, 5);
    expect({ left, top, width, srcY: srcY! - top! }).toEqual({ left: 0, top: 0, width: W, srcY: 16 });
    expect(height).toBeGreaterThanOrEqual(H - 16 - 16);
    const mirror = d.mirror.slice();
    mirror.copyWithin(top! * W, srcY! * W, (srcY! + height!) * W);
    const band = (a: Uint32Array): Uint32Array => a.subarray(top! * W, (top! + height!) * W);
    expect(band(mirror).every((v, i) => v === band(d.frame)[i])).toBe(true);
  });

  it('detect puts the scroll first and leaves only the exposed strip to copy', () => {
    const d = synced(W, H, (fb) => drawText(fb, W, H, 0));
    drawText(d.frame, W, H, 1);
    const changes = d.detect();
    const [scroll, ...rest] = changes;
    if (scroll?.kind !== 'scroll') throw new Error(`expected a scroll first, got ${JSON.stringify(scroll)}`);
    expect(scroll.srcY - scroll.dest.top).toBe(16);
    expect(scroll.srcX).toBe(scroll.dest.left);
    expect(scroll.dest.height).toBeGreaterThanOrEqual(H - 32);
    d.commitScroll(scroll.dest, scroll.srcX, scroll.srcY);
    const strips = copies(rest);
    expect(rest.every((c) => c.kind === 'copy')).toBe(true);
    // What is left differs only in the new bottom text row.
    expectCovered(d, strips);
    for (const r of strips) expect(r.top).toBeGreaterThanOrEqual(H - 16);
    commitAll(d, rest);
    expectMirrorEqualsFrame(d);
    expect(d.detect()).toEqual([]);
  });

  it('finds scrolls by several lines either way, inside a window with a static frame around it', () => {
    for (const shift of [3, -2, 10]) {
      const d = synced(W, H, (fb) => drawText(fb, W, H, 100));
      const draw = (fb: Uint32Array, first: number): void => {
        const tmp = new Uint32Array(W * H);
        drawText(tmp, W, H, first);
        for (let y = 64; y < 640; y++) fb.set(tmp.subarray((y - 64) * W, (y - 64) * W + W).subarray(64, 900), y * W + 64);
      };
      draw(d.frame, 100);
      commitAll(d, d.detect());
      draw(d.frame, 100 + shift);
      const changes = d.detect();
      const first = changes[0];
      if (first?.kind !== 'scroll') throw new Error(`expected a scroll by ${shift} lines, got ${JSON.stringify(first)}`);
      expect(first.srcY - first.dest.top).toBe(shift * 16);
      commitAll(d, changes);
      expectMirrorEqualsFrame(d);
    }
  });

  it('detectScroll returns 0 for changes that are not a scroll', () => {
    const d = synced(W, H, (fb) => drawText(fb, W, H, 0));
    const out = Region.SOURCE_MIRROR + 16 * 1024 * 1024 - 256 * 1024;
    const scroll = (): number => device.wasm.detectScroll(Region.SOURCE_FRAME, Region.SOURCE_MIRROR, stride, W, H, 0, 0, W, H, 256, out, out + 64);
    drawText(d.frame, W, H, 5000); // different text in place
    expect(scroll()).toBe(0);
    randomFrame(d.frame, 7); // noise
    expect(scroll()).toBe(0);
    d.frame.fill(0x808080); // a uniform fill
    expect(scroll()).toBe(0);
    drawText(d.frame, W, H, 0);
    expect(scroll()).toBe(0); // unchanged
    const changes = (() => {
      drawText(d.frame, W, H, 5000);
      return d.detect();
    })();
    expect(changes.every((c) => c.kind === 'copy')).toBe(true);
  });

  it('finds a dragged window as a moved block; the rest is the uncovered desktop', () => {
    for (const [dx, dy] of [[7, 4], [-5, 0], [0, -9], [-12, 6]] as const) {
      const d = synced(W, H, (fb) => drawDesktop(fb, W, H, 300, 250));
      drawDesktop(d.frame, W, H, 300 + dx, 250 + dy);
      const changes = d.detect();
      const first = changes[0];
      let rest = changes;
      if (first?.kind === 'scroll') {
        expect([first.srcX - first.dest.left, first.srcY - first.dest.top]).toEqual([0 - dx, 0 - dy]);
        expect(first.dest.width * first.dest.height).toBeGreaterThanOrEqual(0.8 * 300 * 200);
        d.commitScroll(first.dest, first.srcX, first.srcY);
        rest = changes.slice(1);
      } else if (dy !== 0) {
        // A purely horizontal move of this flat window changes only its edges
        // and line ends: copies of those are cheaper than any COPY_BITS.
        throw new Error(`expected a moved block for (${dx}, ${dy}), got ${JSON.stringify(first)}`);
      }
      expectCovered(d, copies(rest));
      const restArea = copies(rest).reduce((a, r) => a + r.width * r.height, 0);
      // With a moved block only the uncovered desktop is left (< 40% of the
      // window); without one, only edges and line ends (< half of it).
      expect(restArea).toBeLessThan((rest === changes ? 0.5 : 0.4) * 300 * 200);
      commitAll(d, rest);
      expectMirrorEqualsFrame(d);
    }
  });
});

describe('ChangeDetector: timings', () => {
  /** Best time of `runs` runs of `fn` (with `before` run untimed before each). */
  function best(runs: number, fn: () => void, before?: () => void): number {
    let ms = Infinity;
    for (let i = 0; i < runs; i++) {
      before?.();
      const t = performance.now();
      fn();
      ms = Math.min(ms, performance.now() - t);
    }
    return ms;
  }

  it('prints ms per frame', () => {
    const lines: string[] = [];
    for (const [w, h] of [
      [1024, 768],
      [1920, 1080],
    ] as const) {
      const d = synced(w, h, (fb) => drawText(fb, w, h, 0));
      const unchanged = best(30, () => expect(d.detect()).toEqual([]));
      const bw = Math.round(w * 0.316);
      const bh = Math.round(h * 0.316);
      let flip = 0;
      let last: Change[] = [];
      const changed = best(
        30,
        () => {
          last = d.detect();
        },
        () => {
          commitAll(d, last);
          flip ^= 0xffffff;
          for (let y = 0; y < bh; y++) d.frame.fill(flip, (100 + y) * w + 100, (100 + y) * w + 100 + bw);
        },
      );
      let line = 0;
      const scrolled = best(
        10,
        () => {
          last = d.detect();
        },
        () => {
          commitAll(d, last);
          drawText(d.frame, w, h, ++line);
        },
      );
      expect(last[0]?.kind).toBe('scroll');
      lines.push(
        `change detection ${w}x${h}: unchanged ${unchanged.toFixed(3)} ms, 10% changed ${changed.toFixed(3)} ms, full-screen text scroll ${scrolled.toFixed(3)} ms`,
      );
    }
    // Printed for the test log (best of several runs).
    console.log(lines.join('\n'));
  });
});
