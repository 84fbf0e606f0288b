/**
 * Turns a framebuffer into QXL copy drawables: keeps a mirror of what has been
 * pushed, finds the areas that differ (per band of rows, the changed column
 * range, merged into a few rects) and pushes them. The first push after
 * creation or {@link FramebufferPusher.invalidate} is the whole frame.
 * Shared by every framebuffer source (test pattern, v86, canvas).
 */
import type { CopyRect, QxlProducer } from '../qxl/qxl-producer.ts';

/** Rows per band when looking for changed areas. */
const BAND_ROWS = 16;
/** At most this many rects per update; more are merged. */
const MAX_RECTS = 8;

export class FramebufferPusher {
  /** What the consumer has (or will have) once every pushed drawable is applied. */
  private readonly pushed: Uint32Array;
  private fullPending = true;
  private dirtyPending = false;

  constructor(
    private readonly producer: QxlProducer,
    /** xRGB pixels (0x00RRGGBB), rows top to bottom, `width` pixels per row. */
    readonly fb: Uint32Array,
    readonly width: number,
    readonly height: number,
    readonly surfaceId = 0,
  ) {
    if (fb.length !== width * height) {
      throw new RangeError(`FramebufferPusher: expected ${width * height} pixels for ${width}x${height}, got ${fb.length}`);
    }
    this.pushed = new Uint32Array(width * height);
  }

  /** True while something differs from what was pushed (or a full push is due). */
  get pending(): boolean {
    return this.fullPending || this.dirtyPending;
  }

  /** The next flush pushes the whole frame (e.g. after the surface was recreated). */
  invalidate(): void {
    this.fullPending = true;
  }

  /**
   * Pushes what changed. Returns false when the device had no room for all of
   * it; the rest stays pending (the mirror still differs there) for the next call.
   */
  flush(): boolean {
    if (this.fullPending) {
      if (!this.pushRect({ left: 0, top: 0, width: this.width, height: this.height })) return false;
      this.fullPending = false;
      this.dirtyPending = false;
      return true;
    }
    const rects = this.changedRects();
    this.dirtyPending = false;
    for (const r of rects) {
      if (!this.pushRect(r)) {
        this.dirtyPending = true;
        return false;
      }
    }
    return true;
  }

  private pushRect(r: CopyRect): boolean {
    if (!this.producer.pushCopy(this.surfaceId, r, this.fb, this.width, r.left, r.top)) return false;
    for (let y = r.top; y < r.top + r.height; y++) {
      const start = y * this.width + r.left;
      this.pushed.set(this.fb.subarray(start, start + r.width), start);
    }
    return true;
  }

  /** Changed areas between `fb` and `pushed`. */
  private changedRects(): CopyRect[] {
    const { width, height, fb, pushed } = this;
    const rects: CopyRect[] = [];
    for (let band = 0; band < height; band += BAND_ROWS) {
      let minX = width;
      let maxX = -1;
      let minY = -1;
      let maxY = -1;
      const bandEnd = Math.min(height, band + BAND_ROWS);
      for (let y = band; y < bandEnd; y++) {
        const row = y * width;
        let l = 0;
        while (l < width && fb[row + l] === pushed[row + l]) l++;
        if (l === width) continue;
        let r = width - 1;
        while (fb[row + r] === pushed[row + r]) r--;
        if (l < minX) minX = l;
        if (r > maxX) maxX = r;
        if (minY < 0) minY = y;
        maxY = y;
      }
      if (maxX >= 0) rects.push({ left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 });
    }
    return mergeRects(rects);
  }
}

const area = (r: CopyRect): number => r.width * r.height;

function union(a: CopyRect, b: CopyRect): CopyRect {
  const left = Math.min(a.left, b.left);
  const top = Math.min(a.top, b.top);
  const right = Math.max(a.left + a.width, b.left + b.width);
  const bottom = Math.max(a.top + a.height, b.top + b.height);
  return { left, top, width: right - left, height: bottom - top };
}

/**
 * Merges band rects (sorted top to bottom, non-overlapping): neighbours whose
 * union wastes little are joined, then the cheapest pairs until at most
 * MAX_RECTS remain. Each drawable has a fixed cost, so fewer, slightly larger
 * rects are better than many thin ones.
 */
function mergeRects(rects: CopyRect[]): CopyRect[] {
  const out: CopyRect[] = [];
  for (const r of rects) {
    const last = out[out.length - 1];
    if (last) {
      const u = union(last, r);
      if (area(u) <= (area(last) + area(r)) * 1.25 + 1024) {
        out[out.length - 1] = u;
        continue;
      }
    }
    out.push(r);
  }
  while (out.length > MAX_RECTS) {
    let best = 0;
    let bestWaste = Infinity;
    for (let i = 0; i + 1 < out.length; i++) {
      const waste = area(union(out[i]!, out[i + 1]!)) - area(out[i]!) - area(out[i + 1]!);
      if (waste < bestWaste) {
        bestWaste = waste;
        best = i;
      }
    }
    out.splice(best, 2, union(out[best]!, out[best + 1]!));
  }
  return out;
}
