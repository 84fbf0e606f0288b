/**
 * First-fit allocator over the device's data arena, run by the producer thread
 * only (the consumer never allocates; it hands blocks back through the release
 * ring). Free ranges are kept sorted and coalesced, so blocks released out of
 * order (a cursor kept alive while frames stream past) cannot wedge it.
 */

/** Allocation granularity: keeps u64 fields and pixel rows naturally aligned. */
export const ARENA_ALIGN = 8;

interface FreeRange {
  start: number;
  end: number;
}

/** Allocator over the byte range [start, end) of device memory. */
export class QxlArena {
  readonly start: number;
  readonly end: number;
  private free: FreeRange[];
  private used = 0;

  constructor(start: number, end: number) {
    const s = alignUp(start);
    const e = end - (end % ARENA_ALIGN);
    if (!(e > s)) throw new Error(`qxl-arena: expected a non-empty range, got [${start}, ${end})`);
    this.start = s;
    this.end = e;
    this.free = [{ start: s, end: e }];
  }

  /** Bytes currently handed out (after rounding). */
  get usedBytes(): number {
    return this.used;
  }

  /** Bytes currently free. */
  get freeBytes(): number {
    return this.end - this.start - this.used;
  }

  /** Total bytes managed. */
  get capacity(): number {
    return this.end - this.start;
  }

  /** Size of the largest block that could be allocated right now. */
  get largestFree(): number {
    let max = 0;
    for (const r of this.free) max = Math.max(max, r.end - r.start);
    return max;
  }

  /** Allocates `size` bytes; returns the address, or -1 when no free range is big enough. */
  alloc(size: number): number {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`qxl-arena: expected a positive integer size, got ${size}`);
    }
    const need = alignUp(size);
    for (let i = 0; i < this.free.length; i++) {
      const r = this.free[i]!;
      if (r.end - r.start < need) continue;
      const addr = r.start;
      r.start += need;
      if (r.start === r.end) this.free.splice(i, 1);
      this.used += need;
      return addr;
    }
    return -1;
  }

  /** Returns a block obtained from {@link alloc} with the same `size`. */
  release(addr: number, size: number): void {
    const len = alignUp(size);
    const end = addr + len;
    if (addr < this.start || end > this.end || addr % ARENA_ALIGN !== 0) {
      throw new RangeError(`qxl-arena: expected a block inside [${this.start}, ${this.end}), got [${addr}, ${end})`);
    }
    // Binary search for the first free range starting after addr.
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid]!.start < addr) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo > 0 ? this.free[lo - 1]! : undefined;
    const next = lo < this.free.length ? this.free[lo]! : undefined;
    if ((prev && prev.end > addr) || (next && next.start < end)) {
      throw new Error(`qxl-arena: expected an allocated block, got [${addr}, ${end}) overlapping free space (double release?)`);
    }
    this.used -= len;
    const joinPrev = prev !== undefined && prev.end === addr;
    const joinNext = next !== undefined && next.start === end;
    if (joinPrev && joinNext) {
      prev.end = next.end;
      this.free.splice(lo, 1);
    } else if (joinPrev) {
      prev.end = end;
    } else if (joinNext) {
      next.start = addr;
    } else {
      this.free.splice(lo, 0, { start: addr, end });
    }
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;
}
