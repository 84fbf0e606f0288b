/**
 * Change detection for framebuffer sources, run in WASM (assembly/diff.ts) on
 * the device memory: the source renders into {@link ChangeDetector.frame}
 * (the SOURCE_FRAME region); a mirror of what the client has (SOURCE_MIRROR)
 * is compared with it in tiles, like QEMU's simple display path, and the
 * differences come back as a few rects to push as copy drawables — plus, when
 * a tall changed area turns out to be a scroll or a moved block, one
 * COPY_BITS operation to push first.
 *
 * The mirror changes only through {@link ChangeDetector.commit} and
 * {@link ChangeDetector.commitScroll}, called once a push succeeded, so a
 * failed push leaves its area dirty for the next {@link ChangeDetector.detect}.
 *
 * Typical use (one flush):
 * ```ts
 * for (const c of detector.detect(dirtyRows)) {
 *   if (c.kind === 'scroll') {
 *     if (!producer.pushCopyBits(0, c.dest, c.srcX, c.srcY)) break;
 *     detector.commitScroll(c.dest, c.srcX, c.srcY);
 *   } else {
 *     if (!producer.pushCopy(0, c.rect, detector.frame, detector.width)) break;
 *     detector.commit(c.rect);
 *   }
 * }
 * ```
 */
import type { QxlDevice } from '../qxl/qxl-device.ts';
import { MAX_SURFACE_BYTES, MAX_SURFACE_HEIGHT, MAX_SURFACE_WIDTH, Region } from '../qxl/qxl-layout.ts';
import type { CopyRect } from '../qxl/qxl-producer.ts';
import type { QxlWasmExports } from '../qxl/qxl-wasm.ts';

/** One thing to push, in order. */
export type Change =
  /** Push the frame's pixels in `rect` (QXL_DRAW_COPY), then {@link ChangeDetector.commit} it. */
  | { kind: 'copy'; rect: CopyRect }
  /**
   * Copy the area at (srcX, srcY) of what the client has to `dest`
   * (QXL_DRAW_COPY_BITS), then {@link ChangeDetector.commitScroll}. srcX equals
   * dest.left for a vertical scroll and differs for a moved block. Comes
   * before every copy of the same detect: its source may lie under them.
   */
  | { kind: 'scroll'; dest: CopyRect; srcX: number; srcY: number };

/** A COPY_BITS change. */
export type ScrollChange = Extract<Change, { kind: 'scroll' }>;

/** Tuning; the defaults suit a desktop-like source. */
export interface ChangeDetectorOptions {
  /** Copy rects per detect, 1..64 (fewer, slightly larger rects are cheaper to send). Default 8. */
  maxRects?: number;
  /** Tile size of the comparison. Default 32×16. */
  tileWidth?: number;
  tileHeight?: number;
  /** Look for scrolls and moved blocks (COPY_BITS). Default true. */
  copyBits?: boolean;
  /** Largest vertical scroll looked for, in rows. Default 512. */
  maxScroll?: number;
  /** Largest move (each axis) looked for, in pixels; the search costs its square. Default 64. */
  maxMove?: number;
}

/** Only tall, large changed areas are worth a scroll/move search. */
const MIN_COPY_BITS_ROWS = 24;
const MIN_COPY_BITS_AREA = 16384;
const MAX_RECTS_LIMIT = 64;

// Scratch after the mirror's pixels, inside SOURCE_MIRROR (384 KiB are spare
// there): rect output, scroll/move output, hash work.
const SCRATCH = Region.SOURCE_MIRROR + MAX_SURFACE_BYTES;
const RECTS_ADDR = SCRATCH; // (MAX_RECTS_LIMIT + 1) × 16 bytes
const OP_ADDR = SCRATCH + 2048; // 6 × u32
const WORK_ADDR = SCRATCH + 4096; // ≤ 4·2·MAX_SURFACE_HEIGHT + 576 bytes
const SCRATCH_END = WORK_ADDR + 8 * MAX_SURFACE_HEIGHT + 1024;
if (SCRATCH_END > Region.SOURCE_MIRROR + Region.SOURCE_SIZE) throw new Error('change-detector: scratch does not fit after the mirror');

type DiffExports = Pick<QxlWasmExports, 'diffTiles' | 'copyRect' | 'moveRect' | 'detectScroll' | 'detectMove'>;

export class ChangeDetector {
  /** The source renders here: xRGB pixels (0x00RRGGBB), `width` per row, in SOURCE_FRAME. */
  readonly frame: Uint32Array;
  /** What the client has once every committed change is applied (read-only for callers). */
  readonly mirror: Uint32Array;
  private readonly wasm: DiffExports;
  private readonly u32: Uint32Array;
  private readonly stride: number;
  private readonly maxRects: number;
  private readonly tileWidth: number;
  private readonly tileHeight: number;
  private readonly copyBits: boolean;
  private readonly maxScroll: number;
  private readonly maxMove: number;
  /** The mirror is unknown: the next detect returns the whole frame. */
  private full = true;
  /** Changes returned by the last detect and not committed yet (their rows are compared again). */
  private outstanding: Change[] = [];

  constructor(
    device: QxlDevice,
    readonly width: number,
    readonly height: number,
    options: ChangeDetectorOptions = {},
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
        width > MAX_SURFACE_WIDTH || height > MAX_SURFACE_HEIGHT) {
      throw new RangeError(`ChangeDetector: expected a size from 1x1 to ${MAX_SURFACE_WIDTH}x${MAX_SURFACE_HEIGHT}, got ${width}x${height}`);
    }
    const wasm = device.wasm as Partial<DiffExports>;
    for (const name of ['diffTiles', 'copyRect', 'moveRect', 'detectScroll', 'detectMove'] as const) {
      if (typeof wasm[name] !== 'function') {
        throw new Error(`ChangeDetector: expected the device module to export "${name}" (rebuild with npm run asbuild)`);
      }
    }
    this.wasm = wasm as DiffExports;
    this.maxRects = intOption('maxRects', options.maxRects ?? 8, 1, MAX_RECTS_LIMIT);
    this.tileWidth = intOption('tileWidth', options.tileWidth ?? 32, 1, MAX_SURFACE_WIDTH);
    this.tileHeight = intOption('tileHeight', options.tileHeight ?? 16, 1, MAX_SURFACE_HEIGHT);
    this.maxScroll = intOption('maxScroll', options.maxScroll ?? 512, 0, MAX_SURFACE_HEIGHT);
    this.maxMove = intOption('maxMove', options.maxMove ?? 64, 0, 256);
    this.copyBits = options.copyBits ?? true;
    this.stride = width * 4;
    const buffer = device.memory.buffer;
    this.frame = new Uint32Array(buffer, Region.SOURCE_FRAME, width * height);
    this.mirror = new Uint32Array(buffer, Region.SOURCE_MIRROR, width * height);
    this.u32 = new Uint32Array(buffer, SCRATCH, (OP_ADDR + 32 - SCRATCH) / 4);
  }

  /** True while something may differ from what was committed (or a full push is due). */
  get pending(): boolean {
    return this.full || this.outstanding.length > 0;
  }

  /** Forget the mirror: the next detect returns the whole frame (e.g. the surface was recreated). */
  invalidate(): void {
    this.full = true;
    this.outstanding = [];
  }

  /**
   * What to push so the client shows the frame: at most one `scroll` first,
   * then copies (at most maxRects, plus up to 4 strips around a COPY_BITS
   * area). `dirtyRows` [from, to) limits the rows compared to those the
   * source says may have changed since the last detect; rows of changes
   * returned before and not committed are compared again anyway.
   */
  detect(dirtyRows?: readonly [number, number]): Change[] {
    const { width, height } = this;
    if (this.full) {
      const all: Change[] = [{ kind: 'copy', rect: { left: 0, top: 0, width, height } }];
      this.outstanding = all.slice();
      return all;
    }
    let from = 0;
    let to = height;
    if (dirtyRows) {
      from = Math.max(0, Math.floor(dirtyRows[0]));
      to = Math.min(height, Math.ceil(dirtyRows[1]));
    }
    for (const c of this.outstanding) {
      const r = c.kind === 'copy' ? c.rect : c.dest;
      if (from >= to) {
        from = r.top;
        to = r.top + r.height;
      } else {
        from = Math.min(from, r.top);
        to = Math.max(to, r.top + r.height);
      }
    }
    this.outstanding = [];
    if (from >= to) return [];
    const n = this.wasm.diffTiles(
      Region.SOURCE_FRAME, Region.SOURCE_MIRROR, this.stride, width, height,
      from, to, this.tileWidth, this.tileHeight, RECTS_ADDR, this.maxRects,
    );
    let rects: CopyRect[] = [];
    const u = this.u32;
    for (let i = 0; i < n; i++) {
      rects.push({ left: u[i * 4]!, top: u[i * 4 + 1]!, width: u[i * 4 + 2]!, height: u[i * 4 + 3]! });
    }
    const changes: Change[] = [];
    const cb = this.copyBits ? this.findCopyBits(rects) : null;
    if (cb) {
      changes.push(cb);
      rects = rects.flatMap((r) => subtract(r, cb.dest));
    }
    for (const rect of rects) changes.push({ kind: 'copy', rect });
    this.outstanding = changes.slice();
    return changes;
  }

  /** Records that `rect` of the frame was pushed: copies it into the mirror. */
  commit(rect: CopyRect): void {
    this.checkRect('commit', rect);
    const { left, top, width, height } = rect;
    this.wasm.copyRect(Region.SOURCE_FRAME, Region.SOURCE_MIRROR, this.stride, left, top, width, height);
    if (left === 0 && top === 0 && width === this.width && height === this.height) this.full = false;
    this.settle((c) => c.kind === 'copy' && sameRect(c.rect, rect));
  }

  /** Records that a COPY_BITS from (srcX, srcY) to `dest` was pushed: applies it to the mirror. */
  commitScroll(dest: CopyRect, srcX: number, srcY: number): void {
    this.checkRect('commitScroll', dest);
    this.checkRect('commitScroll', { left: srcX, top: srcY, width: dest.width, height: dest.height });
    this.wasm.moveRect(Region.SOURCE_MIRROR, this.stride, dest.left, dest.top, dest.width, dest.height, srcX, srcY);
    this.settle((c) => c.kind === 'scroll' && sameRect(c.dest, dest) && c.srcX === srcX && c.srcY === srcY);
  }

  /** Drops the first outstanding change matching `match`. */
  private settle(match: (c: Change) => boolean): void {
    const i = this.outstanding.findIndex(match);
    if (i >= 0) this.outstanding.splice(i, 1);
  }

  /** A scroll, else a moved block, in the largest tall changed rect. */
  private findCopyBits(rects: readonly CopyRect[]): ScrollChange | null {
    let best: CopyRect | undefined;
    for (const r of rects) {
      if (r.height >= MIN_COPY_BITS_ROWS && r.width * r.height >= MIN_COPY_BITS_AREA &&
          (!best || r.width * r.height > best.width * best.height)) best = r;
    }
    if (!best) return null;
    const { left, top, width, height } = best;
    const u = this.u32;
    const o = (OP_ADDR - SCRATCH) / 4;
    if (this.maxScroll > 0) {
      const dy = this.wasm.detectScroll(
        Region.SOURCE_FRAME, Region.SOURCE_MIRROR, this.stride, this.width, this.height,
        left, top, width, height, this.maxScroll, OP_ADDR, WORK_ADDR,
      );
      if (dy !== 0) {
        const dest = { left: u[o]!, top: u[o + 1]!, width: u[o + 2]!, height: u[o + 3]! };
        return { kind: 'scroll', dest, srcX: dest.left, srcY: u[o + 4]! };
      }
    }
    if (this.maxMove > 0) {
      const found = this.wasm.detectMove(
        Region.SOURCE_FRAME, Region.SOURCE_MIRROR, this.stride, this.width, this.height,
        left, top, width, height, this.maxMove, OP_ADDR, WORK_ADDR,
      );
      if (found) {
        const dest = { left: u[o]!, top: u[o + 1]!, width: u[o + 2]!, height: u[o + 3]! };
        return { kind: 'scroll', dest, srcX: u[o + 4]!, srcY: u[o + 5]! };
      }
    }
    return null;
  }

  private checkRect(what: string, r: CopyRect): void {
    const { left, top, width, height } = r;
    if (![left, top, width, height].every(Number.isInteger) || left < 0 || top < 0 || width < 0 || height < 0 ||
        left + width > this.width || top + height > this.height) {
      throw new RangeError(`ChangeDetector.${what}: expected a rect inside ${this.width}x${this.height}, got ${width}x${height} at (${left}, ${top})`);
    }
  }
}

function intOption(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`ChangeDetector: expected ${name} to be an integer from ${lo} to ${hi}, got ${v}`);
  }
  return v;
}

function sameRect(a: CopyRect, b: CopyRect): boolean {
  return a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;
}

/** `r` minus `cut`: up to four rects (above, below, left, right of the cut). */
function subtract(r: CopyRect, cut: CopyRect): CopyRect[] {
  const rRight = r.left + r.width;
  const rBottom = r.top + r.height;
  const cRight = cut.left + cut.width;
  const cBottom = cut.top + cut.height;
  const il = Math.max(r.left, cut.left);
  const it = Math.max(r.top, cut.top);
  const ir = Math.min(rRight, cRight);
  const ib = Math.min(rBottom, cBottom);
  if (il >= ir || it >= ib) return [r];
  const out: CopyRect[] = [];
  if (it > r.top) out.push({ left: r.left, top: r.top, width: r.width, height: it - r.top });
  if (ib < rBottom) out.push({ left: r.left, top: ib, width: r.width, height: rBottom - ib });
  if (il > r.left) out.push({ left: r.left, top: it, width: il - r.left, height: ib - it });
  if (ir < rRight) out.push({ left: ir, top: it, width: rRight - ir, height: ib - it });
  return out;
}
