/**
 * Change detection for framebuffer sources: compares a source's current frame
 * with its mirror (what has been pushed as drawables) and finds
 * - the changed areas, as a few rectangles ({@link diffTiles});
 * - a vertical scroll inside a changed area ({@link detectScroll}) or a moved
 *   block ({@link detectMove}), which a COPY_BITS drawable reproduces from
 *   what the client already has.
 * {@link copyRect} and {@link moveRect} update the mirror once the caller has
 * pushed something; nothing here changes either buffer by itself.
 *
 * Buffers are 32-bit pixels, rows `stride` bytes apart, at absolute addresses
 * in the shared device memory. Nothing here allocates or uses static data (the
 * memory is shared between threads). No SIMD: it is not enabled for this
 * module, so comparisons fold several u64 XORs before each branch instead.
 */

/** Fixed cost of one more rectangle (drawable, headers, encoder start), in pixels. */
// @ts-ignore: decorator
@inline const RECT_COST: i64 = 1024;

/** Pixels in a scroll/move anchor segment. */
// @ts-ignore: decorator
@inline const ANCHOR_PIXELS: u32 = 8;

/** Candidate shifts kept by detectScroll. */
// @ts-ignore: decorator
@inline const MAX_CANDIDATES: u32 = 64;

/** Anchor rows detectScroll looks up. */
// @ts-ignore: decorator
@inline const ANCHORS: u32 = 16;

/** An anchor row matching more prev rows than this says nothing about the shift (blank lines). */
// @ts-ignore: decorator
@inline const MAX_ANCHOR_HITS: u32 = 8;

/** Anchor matches detectMove grows into blocks, per anchor. */
// @ts-ignore: decorator
@inline const MAX_MOVE_HITS: u32 = 24;

/** Span breakpoints kept per direction by detectMove. */
// @ts-ignore: decorator
@inline const MAX_BREAKS: u32 = 64;

/** Returned by the backward scan when nothing differs. */
// @ts-ignore: decorator
@inline const NONE: u32 = 0xffffffff;

// ---------------------------------------------------------------------------
// Row primitives

/** First pixel index in [from, to) where rows `a` and `b` differ, or `to`. */
function firstDiff(a: usize, b: usize, from: u32, to: u32): u32 {
  let i = from;
  // 32 then 16 pixels per step: 128-bit XORs folded into one branch keep the loop at load speed.
  while (i + 32 <= to) {
    const pa = a + (<usize>i << 2);
    const pb = b + (<usize>i << 2);
    const d0 = v128.or(
      v128.or(v128.xor(v128.load(pa), v128.load(pb)), v128.xor(v128.load(pa, 16), v128.load(pb, 16))),
      v128.or(v128.xor(v128.load(pa, 32), v128.load(pb, 32)), v128.xor(v128.load(pa, 48), v128.load(pb, 48))),
    );
    const d1 = v128.or(
      v128.or(v128.xor(v128.load(pa, 64), v128.load(pb, 64)), v128.xor(v128.load(pa, 80), v128.load(pb, 80))),
      v128.or(v128.xor(v128.load(pa, 96), v128.load(pb, 96)), v128.xor(v128.load(pa, 112), v128.load(pb, 112))),
    );
    if (v128.any_true(v128.or(d0, d1))) break;
    i += 32;
  }
  while (i + 16 <= to) {
    const pa = a + (<usize>i << 2);
    const pb = b + (<usize>i << 2);
    const d = v128.or(
      v128.or(v128.xor(v128.load(pa), v128.load(pb)), v128.xor(v128.load(pa, 16), v128.load(pb, 16))),
      v128.or(v128.xor(v128.load(pa, 32), v128.load(pb, 32)), v128.xor(v128.load(pa, 48), v128.load(pb, 48))),
    );
    if (v128.any_true(d)) break;
    i += 16;
  }
  while (i < to) {
    if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return i;
    i++;
  }
  return to;
}

/** Last pixel index in [from, to) where rows `a` and `b` differ, or NONE. */
function lastDiff(a: usize, b: usize, from: u32, to: u32): u32 {
  let i = to;
  while (i >= from + 16) {
    const pa = a + (<usize>(i - 16) << 2);
    const pb = b + (<usize>(i - 16) << 2);
    const d =
      (load<u64>(pa) ^ load<u64>(pb)) |
      (load<u64>(pa, 8) ^ load<u64>(pb, 8)) |
      (load<u64>(pa, 16) ^ load<u64>(pb, 16)) |
      (load<u64>(pa, 24) ^ load<u64>(pb, 24)) |
      (load<u64>(pa, 32) ^ load<u64>(pb, 32)) |
      (load<u64>(pa, 40) ^ load<u64>(pb, 40)) |
      (load<u64>(pa, 48) ^ load<u64>(pb, 48)) |
      (load<u64>(pa, 56) ^ load<u64>(pb, 56));
    if (d != 0) break;
    i -= 16;
  }
  while (i > from) {
    i--;
    if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return i;
  }
  return NONE;
}

/** True when `n` pixels at `a` and `b` are equal. */
// @ts-ignore: decorator
@inline function rowsEqual(a: usize, b: usize, n: u32): bool {
  return firstDiff(a, b, 0, n) == n;
}

// @ts-ignore: decorator
@inline const HASH_MUL: u64 = 0x9e3779b97f4a7c15;

/** 32-bit hash of `n` pixels at `p` (four independent lanes so the multiplies overlap). */
function rowHash(p: usize, n: u32): u32 {
  let h0: u64 = 0x243f6a8885a308d3;
  let h1: u64 = 0x13198a2e03707344;
  let h2: u64 = 0xa4093822299f31d0;
  let h3: u64 = 0x082efa98ec4e6c89;
  const bytes = <usize>n << 2;
  let i: usize = 0;
  while (i + 32 <= bytes) {
    h0 = (h0 ^ load<u64>(p + i)) * HASH_MUL;
    h1 = (h1 ^ load<u64>(p + i, 8)) * HASH_MUL;
    h2 = (h2 ^ load<u64>(p + i, 16)) * HASH_MUL;
    h3 = (h3 ^ load<u64>(p + i, 24)) * HASH_MUL;
    i += 32;
  }
  while (i < bytes) {
    h0 = (h0 ^ <u64>load<u32>(p + i)) * HASH_MUL;
    i += 4;
  }
  let h = h0 ^ rotl<u64>(h1, 17) ^ rotl<u64>(h2, 31) ^ rotl<u64>(h3, 47);
  // Fold the high bits down: the multiplies only carry information upwards.
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9;
  h ^= h >> 32;
  return <u32>h;
}

// ---------------------------------------------------------------------------
// Rectangle list (internally left, top, right, bottom; exclusive right/bottom)

// @ts-ignore: decorator
@inline function rl(out: usize, i: u32): u32 { return load<u32>(out + (<usize>i << 4)); }
// @ts-ignore: decorator
@inline function rt(out: usize, i: u32): u32 { return load<u32>(out + (<usize>i << 4), 4); }
// @ts-ignore: decorator
@inline function rr(out: usize, i: u32): u32 { return load<u32>(out + (<usize>i << 4), 8); }
// @ts-ignore: decorator
@inline function rb(out: usize, i: u32): u32 { return load<u32>(out + (<usize>i << 4), 12); }

// @ts-ignore: decorator
@inline function setRect(out: usize, i: u32, l: u32, t: u32, r: u32, b: u32): void {
  const p = out + (<usize>i << 4);
  store<u32>(p, l);
  store<u32>(p, t, 4);
  store<u32>(p, r, 8);
  store<u32>(p, b, 12);
}

/**
 * What merging rects i and j costs: pixels the union adds that neither covers,
 * minus the saved rect cost and an eighth of their size (big neighbours merge
 * more easily — a drawable's cost grows slower than its area). ≤ 0: merge.
 */
function mergeCost(out: usize, i: u32, j: u32): i64 {
  const al = rl(out, i), at = rt(out, i), ar = rr(out, i), ab = rb(out, i);
  const bl = rl(out, j), bt = rt(out, j), br = rr(out, j), bb = rb(out, j);
  const areaA = <i64>(ar - al) * <i64>(ab - at);
  const areaB = <i64>(br - bl) * <i64>(bb - bt);
  const ul = min(al, bl), ut = min(at, bt), ur = max(ar, br), ub = max(ab, bb);
  const union = <i64>(ur - ul) * <i64>(ub - ut);
  const ol = max(al, bl), ot = max(at, bt), or = min(ar, br), ob = min(ab, bb);
  const overlap = or > ol && ob > ot ? <i64>(or - ol) * <i64>(ob - ot) : 0;
  const waste = union - (areaA + areaB - overlap);
  return waste - RECT_COST - ((areaA + areaB) >> 3);
}

/** Replaces rect i by the union of i and j and removes j (order kept); returns i's new index. */
function mergeInto(out: usize, count: u32, i: u32, j: u32): u32 {
  setRect(
    out,
    i,
    min(rl(out, i), rl(out, j)),
    min(rt(out, i), rt(out, j)),
    max(rr(out, i), rr(out, j)),
    max(rb(out, i), rb(out, j)),
  );
  const tail = count - j - 1;
  if (tail > 0) memory.copy(out + (<usize>j << 4), out + (<usize>(j + 1) << 4), <usize>tail << 4);
  return j < i ? i - 1 : i;
}

/** Merges rect i with its cheapest partners while that pays; returns the new count. */
function settle(out: usize, count: u32, i: u32): u32 {
  while (count > 1) {
    let best: u32 = NONE;
    let bestCost: i64 = 0;
    for (let j: u32 = 0; j < count; j++) {
      if (j == i) continue;
      const c = mergeCost(out, i, j);
      if (c <= bestCost) {
        bestCost = c;
        best = j;
      }
    }
    if (best == NONE) break;
    i = mergeInto(out, count, i, best);
    count--;
  }
  return count;
}

/** Adds a rect (slot `count` must exist), merging as needed; returns the new count (≤ maxRects). */
function addRect(out: usize, count: u32, maxRects: u32, l: u32, t: u32, r: u32, b: u32): u32 {
  setRect(out, count, l, t, r, b);
  count = settle(out, count + 1, count);
  while (count > maxRects) {
    // Over budget: merge the pair that wastes least, even at a loss.
    let bi: u32 = 0;
    let bj: u32 = 1;
    let bestCost = i64.MAX_VALUE;
    for (let i: u32 = 0; i < count; i++) {
      for (let j = i + 1; j < count; j++) {
        const c = mergeCost(out, i, j);
        if (c < bestCost) {
          bestCost = c;
          bi = i;
          bj = j;
        }
      }
    }
    const k = mergeInto(out, count, bi, bj);
    count = settle(out, count - 1, k);
  }
  return count;
}

// @ts-ignore: decorator
@inline function isMarked(m0: u64, m1: u64, t: u32): bool {
  return t < 64 ? ((m0 >> <u64>t) & 1) != 0 : ((m1 >> <u64>(t - 64)) & 1) != 0;
}

/**
 * Compares `cur` with `prev` in rows [rowFrom, rowTo) and writes the changed
 * areas as at most `maxRects` rectangles at `out`: 4×u32 each (left, top,
 * width, height), tight around the changed pixels. Returns how many.
 *
 * Rows are compared in bands of `tileH` rows (aligned to multiples of tileH),
 * each band in tiles of `tileW` columns; once a tile differs, its remaining
 * rows in the band are skipped. Changed tiles become runs, runs merge with
 * each other when the union wastes little (a rect costs about RECT_COST
 * pixels), then over budget the cheapest pairs merge. Finally each rect
 * shrinks to the bounding box of its changed pixels.
 *
 * `out` must have room for maxRects + 1 rects (one slot of scratch). At most
 * 128 tile columns are tracked: wider frames use wider tiles. Nothing is copied.
 */
export function diffTiles(
  cur: usize,
  prev: usize,
  stride: u32,
  width: u32,
  height: u32,
  rowFrom: u32,
  rowTo: u32,
  tileW: u32,
  tileH: u32,
  out: usize,
  maxRects: u32,
): u32 {
  if (rowTo > height) rowTo = height;
  if (width == 0 || rowFrom >= rowTo || maxRects == 0) return 0;
  let tw: u32 = tileW < 1 ? 1 : tileW;
  const minTw = (width + 127) >> 7;
  if (tw < minTw) tw = minTw;
  const th: u32 = tileH < 1 ? 1 : tileH;
  const nTiles = (width + tw - 1) / tw;
  let count: u32 = 0;
  for (let bandTop = rowFrom - (rowFrom % th); bandTop < rowTo; bandTop += th) {
    const y0 = max(bandTop, rowFrom);
    const y1 = min(bandTop + th, rowTo);
    let m0: u64 = 0;
    let m1: u64 = 0;
    for (let y = y0; y < y1; y++) {
      const a = cur + <usize>y * stride;
      const b = prev + <usize>y * stride;
      let t: u32 = 0;
      while (t < nTiles) {
        if (isMarked(m0, m1, t)) {
          t++;
          continue;
        }
        // A run of unmarked tiles is scanned in one go (the whole row while nothing differs).
        let u = t + 1;
        while (u < nTiles && !isMarked(m0, m1, u)) u++;
        const xEnd = min(u * tw, width);
        let x = t * tw;
        while (x < xEnd) {
          const d = firstDiff(a, b, x, xEnd);
          if (d >= xEnd) break;
          const dt = d / tw;
          if (dt < 64) m0 |= (<u64>1) << <u64>dt;
          else m1 |= (<u64>1) << <u64>(dt - 64);
          x = (dt + 1) * tw;
        }
        t = u;
      }
    }
    if ((m0 | m1) == 0) continue;
    let t: u32 = 0;
    while (t < nTiles) {
      if (!isMarked(m0, m1, t)) {
        t++;
        continue;
      }
      let u = t + 1;
      while (u < nTiles && isMarked(m0, m1, u)) u++;
      count = addRect(out, count, maxRects, t * tw, y0, min(u * tw, width), y1);
      t = u;
    }
  }
  // Tighten each rect to its changed pixels; the result is (left, top, width, height).
  let n: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const l = rl(out, i), r = rr(out, i);
    let t = rt(out, i), b = rb(out, i);
    let left = r;
    while (t < b) {
      left = firstDiff(cur + <usize>t * stride, prev + <usize>t * stride, l, r);
      if (left < r) break;
      t++;
    }
    if (t == b) continue; // nothing differs any more
    while (b > t + 1 && firstDiff(cur + <usize>(b - 1) * stride, prev + <usize>(b - 1) * stride, l, r) == r) b--;
    let right = left + 1;
    for (let y = t; y < b; y++) {
      const a = cur + <usize>y * stride;
      const p = prev + <usize>y * stride;
      if (left > l) left = firstDiff(a, p, l, left);
      const last = lastDiff(a, p, right, r);
      if (last != NONE) right = last + 1;
    }
    setRect(out, n++, left, t, right - left, b - t);
  }
  return n;
}

/** Copies a rect from `src` to the same place in `dst` (mirror update after a push). */
export function copyRect(src: usize, dst: usize, stride: u32, left: u32, top: u32, width: u32, height: u32): void {
  const bytes = <usize>width << 2;
  let o = <usize>top * stride + (<usize>left << 2);
  for (let y: u32 = 0; y < height; y++) {
    memory.copy(dst + o, src + o, bytes);
    o += stride;
  }
}

/**
 * Copies the `width`×`height` rect at (srcX, srcY) of `buf` to (left, top) of
 * the same buffer, overlap-safe — what COPY_BITS does on the client, applied
 * to the mirror.
 */
export function moveRect(buf: usize, stride: u32, left: u32, top: u32, width: u32, height: u32, srcX: u32, srcY: u32): void {
  const bytes = <usize>width << 2;
  if (height == 0) return;
  const dst0 = buf + <usize>top * stride + (<usize>left << 2);
  const src0 = buf + <usize>srcY * stride + (<usize>srcX << 2);
  if (srcY < top) {
    // Moving down: bottom row first so no source row is overwritten before it is read.
    for (let y = height; y > 0; y--) {
      const o = <usize>(y - 1) * stride;
      memory.copy(dst0 + o, src0 + o, bytes);
    }
  } else {
    for (let y: u32 = 0; y < height; y++) {
      const o = <usize>y * stride;
      memory.copy(dst0 + o, src0 + o, bytes);
    }
  }
}

// ---------------------------------------------------------------------------
// Scroll

/**
 * Looks for a vertical scroll inside the changed region (left, top, rw, rh):
 * a shift dy (0 < |dy| ≤ maxShift) such that cur row y equals prev row y + dy
 * over the region's full width for a tall band of rows. Positive dy: content
 * moved up (new rows appear at the bottom).
 *
 * Row hashes of cur (region rows) and prev (region rows ± maxShift, within the
 * frame) go to `work`; distinctive changed rows ("anchors") are looked up in
 * the prev hashes to get candidate shifts; each candidate is scored over all
 * rows and the best one (≥ 70 % of the rows that have a source match) is
 * verified exactly. The longest run of exactly equal rows is the band; it is
 * accepted when it has ≥ 8 rows and ≥ half of those rows.
 *
 * On success writes at `out` 5×u32: the destination band (left, top, width,
 * height) and the source y (the source x is `left`), and returns dy; else 0.
 * `work` needs 4·(rh + min(height, rh + 2·maxShift)) + 576 bytes. Nothing is
 * copied.
 */
export function detectScroll(
  cur: usize,
  prev: usize,
  stride: u32,
  width: u32,
  height: u32,
  left: u32,
  top: u32,
  rw: u32,
  rh: u32,
  maxShift: u32,
  out: usize,
  work: usize,
): i32 {
  if (left >= width || top >= height) return 0;
  if (rw > width - left) rw = width - left;
  if (rh > height - top) rh = height - top;
  if (rw == 0 || rh < 2) return 0;
  const m = min(maxShift, rh - 1);
  if (m == 0) return 0;
  const xOff = <usize>left << 2;
  // Hashes: hc[i] for cur row top + i; hp[j] for prev row pTop + j.
  const pTop = top > m ? top - m : 0;
  const pEnd = min(height, top + rh + m);
  const hc = work;
  const hp = hc + (<usize>rh << 2);
  const cand = hp + (<usize>(pEnd - pTop) << 2); // MAX_CANDIDATES × (i32 dy, i32 score)
  const anchor = cand + (<usize>MAX_CANDIDATES << 3); // ANCHORS × u32 row index
  for (let i: u32 = 0; i < rh; i++) {
    store<u32>(hc + (<usize>i << 2), rowHash(cur + <usize>(top + i) * stride + xOff, rw));
    store<u32>(hp + (<usize>(top + i - pTop) << 2), rowHash(prev + <usize>(top + i) * stride + xOff, rw));
  }
  // Anchors: per slice of the region, the first changed row that differs from the row above.
  let nAnchors: u32 = 0;
  const step = max<u32>(1, rh / ANCHORS);
  for (let k: u32 = 0; k < rh && nAnchors < ANCHORS; k += step) {
    const iEnd = min(rh, k + step);
    for (let i = k; i < iEnd; i++) {
      const h = load<u32>(hc + (<usize>i << 2));
      if (h == load<u32>(hp + (<usize>(top + i - pTop) << 2))) continue;
      if (i > 0 && h == load<u32>(hc + (<usize>(i - 1) << 2))) continue;
      store<u32>(anchor + (<usize>nAnchors << 2), i);
      nAnchors++;
      break;
    }
  }
  if (nAnchors == 0) return 0; // e.g. a uniform fill: no row says where it came from
  // The prev rows above and below the region, only now that they are needed.
  for (let y = pTop; y < top; y++) store<u32>(hp + (<usize>(y - pTop) << 2), rowHash(prev + <usize>y * stride + xOff, rw));
  for (let y = top + rh; y < pEnd; y++) store<u32>(hp + (<usize>(y - pTop) << 2), rowHash(prev + <usize>y * stride + xOff, rw));
  // Candidate shifts: where each anchor's hash occurs in prev within ±m rows.
  let nCand: u32 = 0;
  for (let a: u32 = 0; a < nAnchors && nCand < MAX_CANDIDATES; a++) {
    const i = load<u32>(anchor + (<usize>a << 2));
    const h = load<u32>(hc + (<usize>i << 2));
    const y = top + i;
    const sFrom = y > pTop + m ? y - m : pTop;
    const sTo = min(pEnd, y + m + 1);
    // Count first: an anchor that matches many rows (a blank line) is no evidence.
    let hits: u32 = 0;
    for (let s = sFrom; s < sTo; s++) if (load<u32>(hp + (<usize>(s - pTop) << 2)) == h && s != y) hits++;
    if (hits == 0 || hits > MAX_ANCHOR_HITS) continue;
    for (let s = sFrom; s < sTo && nCand < MAX_CANDIDATES; s++) {
      if (s == y || load<u32>(hp + (<usize>(s - pTop) << 2)) != h) continue;
      const dy = <i32>s - <i32>y;
      let dup = false;
      for (let c: u32 = 0; c < nCand; c++) {
        if (load<i32>(cand + (<usize>c << 3)) == dy) {
          dup = true;
          break;
        }
      }
      if (dup) continue;
      store<i32>(cand + (<usize>nCand << 3), dy);
      nCand++;
    }
  }
  if (nCand == 0) return 0;
  // Score: rows whose hash matches the shifted prev row.
  for (let c: u32 = 0; c < nCand; c++) {
    const dy = load<i32>(cand + (<usize>c << 3));
    let score: i32 = 0;
    let overlap: i32 = 0;
    for (let i: u32 = 0; i < rh; i++) {
      const s = <i32>(top + i) + dy;
      if (s < <i32>pTop || s >= <i32>pEnd) continue;
      overlap++;
      if (load<u32>(hc + (<usize>i << 2)) == load<u32>(hp + (<usize>(s - <i32>pTop) << 2))) score++;
    }
    // Below 70 % of the overlapping rows is no scroll.
    store<i32>(cand + (<usize>c << 3), score * 10 >= overlap * 7 && overlap >= 8 ? score : -1, 4);
  }
  // Try the best few candidates (highest score, then smallest shift), verifying exactly.
  for (let attempt = 0; attempt < 3; attempt++) {
    let best: u32 = NONE;
    let bestScore: i32 = 0;
    let bestAbs: i32 = 0;
    for (let c: u32 = 0; c < nCand; c++) {
      const score = load<i32>(cand + (<usize>c << 3), 4);
      const dy = load<i32>(cand + (<usize>c << 3));
      const ady = dy < 0 ? -dy : dy;
      if (score > bestScore || (score == bestScore && score > 0 && ady < bestAbs)) {
        best = c;
        bestScore = score;
        bestAbs = ady;
      }
    }
    if (best == NONE) return 0;
    store<i32>(cand + (<usize>best << 3), -1, 4);
    const dy = load<i32>(cand + (<usize>best << 3));
    let runStart: u32 = 0;
    let runLen: u32 = 0;
    let bestStart: u32 = 0;
    let bestLen: u32 = 0;
    let overlap: u32 = 0;
    for (let i: u32 = 0; i < rh; i++) {
      const s = <i32>(top + i) + dy;
      let ok = false;
      if (s >= <i32>pTop && s < <i32>pEnd) {
        overlap++;
        ok =
          load<u32>(hc + (<usize>i << 2)) == load<u32>(hp + (<usize>(s - <i32>pTop) << 2)) &&
          rowsEqual(cur + <usize>(top + i) * stride + xOff, prev + <usize>s * stride + xOff, rw);
      }
      if (ok) {
        if (runLen == 0) runStart = i;
        runLen++;
        if (runLen > bestLen) {
          bestLen = runLen;
          bestStart = runStart;
        }
      } else runLen = 0;
    }
    if (bestLen >= 8 && bestLen * 2 >= overlap) {
      store<u32>(out, left);
      store<u32>(out, top + bestStart, 4);
      store<u32>(out, rw, 8);
      store<u32>(out, bestLen, 12);
      store<u32>(out, <u32>(<i32>(top + bestStart) + dy), 16);
      return dy;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Moved block

/**
 * Grows the block that matches under shift (dx, dy) from the anchor segment
 * at (ax, ay) up (dir −1) or down (dir +1): per row, the span around the
 * anchor where cur equals the shifted prev, never wider than the row before.
 * Records (rows, left, right) at `brk` each time the span is about to shrink
 * or growth ends (3×u32 each, at most MAX_BREAKS); returns how many.
 */
function growBlock(
  cur: usize,
  prev: usize,
  stride: u32,
  height: u32,
  top: u32,
  bottom: u32,
  ax: u32,
  ay: u32,
  dx: i32,
  dy: i32,
  dir: i32,
  l0: u32,
  r0: u32,
  brk: usize,
): u32 {
  let n: u32 = 0;
  let l = l0;
  let r = r0;
  let rows: u32 = 0;
  let y = <i32>ay + dir;
  while (n < MAX_BREAKS) {
    let stop = y < <i32>top || y >= <i32>bottom || y + dy < 0 || y + dy >= <i32>height;
    let nl = l;
    let nr = r;
    if (!stop) {
      const a = cur + <usize>y * stride;
      // Shifted source row, indexed by destination x (address arithmetic wraps like the shift).
      const b = prev + <usize>(y + dy) * stride + (<usize>dx << 2);
      // The anchor columns must still match; then the span extends within [l, r).
      if (firstDiff(a, b, ax, ax + ANCHOR_PIXELS) < ax + ANCHOR_PIXELS) stop = true;
      else {
        nl = ax;
        while (nl > l && load<u32>(a + (<usize>(nl - 1) << 2)) == load<u32>(b + (<usize>(nl - 1) << 2))) nl--;
        nr = firstDiff(a, b, ax + ANCHOR_PIXELS, r);
      }
    }
    if (stop || nl != l || nr != r) {
      const p = brk + <usize>n * 12;
      store<u32>(p, rows);
      store<u32>(p, l, 4);
      store<u32>(p, r, 8);
      n++;
      if (stop) break;
      l = nl;
      r = nr;
    }
    rows++;
    y += dir;
  }
  return n;
}

/**
 * Looks for a block inside the changed region (left, top, rw, rh) that moved
 * by (dx, dy), |dx|, |dy| ≤ maxShift, not both 0 — a dragged window. Anchors
 * are short non-uniform segments of changed pixels on a few rows; each is
 * searched in prev around its position, and each match grows into the largest
 * rectangle where cur equals prev shifted, verified pixel by pixel. The best
 * block is accepted when it covers ≥ 1024 pixels and ≥ a quarter of the region.
 *
 * On success writes at `out` 6×u32: destination (left, top, width, height),
 * source x, source y, and returns 1; else 0. `work` needs 2·12·64 bytes.
 * The search costs about (2·maxShift)² pixel compares per anchor, so keep
 * maxShift modest (≤ 128). Nothing is copied.
 */
export function detectMove(
  cur: usize,
  prev: usize,
  stride: u32,
  width: u32,
  height: u32,
  left: u32,
  top: u32,
  rw: u32,
  rh: u32,
  maxShift: u32,
  out: usize,
  work: usize,
): i32 {
  if (left >= width || top >= height) return 0;
  if (rw > width - left) rw = width - left;
  if (rh > height - top) rh = height - top;
  if (rw < ANCHOR_PIXELS || rh == 0 || maxShift == 0) return 0;
  const right = left + rw;
  const bottom = top + rh;
  const m = <i32>maxShift;
  const up = work;
  const down = work + MAX_BREAKS * 12;
  let bestArea: u64 = 0;
  let bl: u32 = 0, bt: u32 = 0, bw: u32 = 0, bh: u32 = 0;
  let bdx: i32 = 0, bdy: i32 = 0;
  const anchorRows: u32 = 8;
  // Three anchors per row, searched from its start, a third and two thirds in: the
  // first may sit where the block meets static content that did not move.
  for (let k: u32 = 0; k < anchorRows * 3; k++) {
    const ay = top + ((2 * (k / 3) + 1) * rh) / (2 * anchorRows);
    const a = cur + <usize>ay * stride;
    const p = prev + <usize>ay * stride;
    // Anchor: the first changed pixel starting a non-uniform segment.
    let ax = left + ((k % 3) * rw) / 3;
    let found = false;
    while (ax + ANCHOR_PIXELS <= right) {
      ax = firstDiff(a, p, ax, right - ANCHOR_PIXELS + 1);
      if (ax + ANCHOR_PIXELS > right) break;
      const first = load<u32>(a + (<usize>ax << 2));
      for (let i: u32 = 1; i < ANCHOR_PIXELS; i++) {
        if (load<u32>(a + (<usize>(ax + i) << 2)) != first) {
          found = true;
          break;
        }
      }
      if (found) break;
      ax++;
    }
    if (!found) continue;
    const first = load<u32>(a + (<usize>ax << 2));
    let hits: u32 = 0;
    // Nearest shifts first (rings of growing Chebyshev distance): a window moves a few
    // pixels per frame, while repeated structure (a border, a rule) matches far shifts too.
    for (let d: i32 = 1; d <= m && hits < MAX_MOVE_HITS; d++) {
      for (let dy = -d; dy <= d && hits < MAX_MOVE_HITS; dy++) {
        const ring = dy == -d || dy == d;
        const sy = <i32>ay + dy;
        if (sy < 0 || sy >= <i32>height) continue;
        const srow = prev + <usize>sy * stride;
        for (let dx = -d; dx <= d; dx += ring ? 1 : 2 * d) {
          const sx = <i32>ax + dx;
          if (sx < 0 || sx + <i32>ANCHOR_PIXELS > <i32>width) continue;
          if (load<u32>(srow + (<usize>sx << 2)) != first) continue;
          if (!rowsEqual(a + (<usize>ax << 2), srow + (<usize>sx << 2), ANCHOR_PIXELS)) continue;
          hits++;
          // Span on the anchor row, then up and down.
          const b = srow + (<usize>dx << 2);
          let l = ax;
          const minL = dx < 0 ? max<u32>(left, <u32>(-dx)) : left;
          while (l > minL && load<u32>(a + (<usize>(l - 1) << 2)) == load<u32>(b + (<usize>(l - 1) << 2))) l--;
          const maxR = dx > 0 ? min<u32>(right, <u32>(<i32>width - dx)) : right;
          const r = firstDiff(a, b, ax + ANCHOR_PIXELS, maxR);
          if (<u64>(r - l) * <u64>rh < bestArea) continue; // cannot beat the best
          const nUp = growBlock(cur, prev, stride, height, top, bottom, ax, ay, dx, dy, -1, l, r, up);
          const nDown = growBlock(cur, prev, stride, height, top, bottom, ax, ay, dx, dy, 1, l, r, down);
          for (let u: u32 = 0; u < nUp; u++) {
            const uRows = load<u32>(up + <usize>u * 12);
            const uL = load<u32>(up + <usize>u * 12, 4);
            const uR = load<u32>(up + <usize>u * 12, 8);
            for (let q: u32 = 0; q < nDown; q++) {
              const dRows = load<u32>(down + <usize>q * 12);
              const cl = max(uL, load<u32>(down + <usize>q * 12, 4));
              const cr = min(uR, load<u32>(down + <usize>q * 12, 8));
              const h = uRows + dRows + 1;
              const area = <u64>(cr - cl) * <u64>h;
              if (area > bestArea) {
                bestArea = area;
                bl = cl;
                bt = ay - uRows;
                bw = cr - cl;
                bh = h;
                bdx = dx;
                bdy = dy;
              }
            }
          }
          if (hits >= MAX_MOVE_HITS) break;
        }
      }
    }
  }
  if (bestArea < 1024 || bestArea * 4 < <u64>rw * <u64>rh || bw < ANCHOR_PIXELS || bh < 2) return 0;
  store<u32>(out, bl);
  store<u32>(out, bt, 4);
  store<u32>(out, bw, 8);
  store<u32>(out, bh, 12);
  store<u32>(out, <u32>(<i32>bl + bdx), 16);
  store<u32>(out, <u32>(<i32>bt + bdy), 20);
  return 1;
}
