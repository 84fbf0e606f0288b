/**
 * Producer side of a QXL device: builds drawables and cursor commands in the
 * data arena and pushes them on the command and cursor rings. Used by sources
 * on the page main thread, so nothing here ever blocks: when a ring is full or
 * the arena has no room, a push returns false with nothing half-written and
 * the caller retries later.
 *
 * One producer per device: it owns the arena and is the only consumer of the
 * release ring, through which the RedWorker hands resources back.
 */

import { createLogger } from '../util/logger.ts';
import { QxlArena } from './qxl-arena.ts';
import type { QxlDevice } from './qxl-device.ts';
import {
  BitmapFlags,
  BitmapFormat,
  ClipType,
  CursorType,
  DEVICE_HEADER_OFFSET,
  DeviceHeader,
  ImageGroup,
  ImageType,
  QXLBitmap,
  QXLClip,
  QXLCopy,
  QXLCursor,
  QXLCursorCmd,
  QXLCursorHeader,
  QXLDataChunk,
  QXLDrawable,
  QXLImage,
  QXLImageDescriptor,
  QXLRect,
  QXLReleaseInfo,
  QxlCmdType,
  QxlCursorCmdType,
  QxlDrawType,
  QxlEffect,
  Ropd,
  ScaleMode,
  SpiceRing,
} from './qxl-layout.ts';
import { WordWaiter } from './qxl-wait.ts';

const log = createLogger('qxl-producer');

/** A destination rectangle on a surface, in pixels. */
export interface CopyRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** An ALPHA cursor image: `argb` holds width*height pixels 0xAARRGGBB, rows top-down. */
export interface CursorShape {
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  argb: Uint32Array;
}

/** Counters for status displays and tests. */
export interface QxlProducerStats {
  drawsPushed: number;
  cursorCommandsPushed: number;
  released: number;
  /** Pushes refused because a ring was full. */
  ringFull: number;
  /** Pushes refused because the arena had no room. */
  arenaFull: number;
}

interface Allocation {
  addr: number;
  size: number;
}

// Block layout of a copy drawable: QXLDrawable, QXLImage, QXLDataChunk, pixels.
// The pixel data offset is 4-aligned (blocks are 8-aligned) so rows can be
// copied through a Uint32Array.
const COPY_IMAGE_OFF = align(QXLDrawable.SIZE, 8);
const COPY_DATA_OFF = align(COPY_IMAGE_OFF + QXLImage.SIZE + QXLDataChunk.SIZE, 4);
const COPY_CHUNK_OFF = COPY_DATA_OFF - QXLDataChunk.SIZE;

// Block layout of a cursor SET: QXLCursorCmd, QXLCursor (with its chunk), ARGB data.
const CURSOR_SHAPE_OFF = align(QXLCursorCmd.SIZE, 8);

const U16_MAX = 0xffff;

/** Builds QXL commands in device memory and pushes them; never blocks. */
export class QxlProducer {
  readonly device: QxlDevice;
  private readonly arena: QxlArena;
  private readonly live = new Map<number, Allocation>();
  private nextReleaseId = 1;
  private nextImageUnique = 1;
  private readonly releaseOut = DEVICE_HEADER_OFFSET + DeviceHeader.RELEASE_POP_OUT;
  private readonly mem32: Uint32Array;
  private readonly releaseWaiter: WordWaiter;
  private readonly cmdSpaceWaiter: WordWaiter;
  private readonly cursorSpaceWaiter: WordWaiter;
  private readonly counters: QxlProducerStats = { drawsPushed: 0, cursorCommandsPushed: 0, released: 0, ringFull: 0, arenaFull: 0 };

  constructor(device: QxlDevice) {
    this.device = device;
    this.arena = new QxlArena(device.arenaStart, device.arenaEnd);
    this.mem32 = new Uint32Array(device.memory.buffer);
    this.releaseWaiter = new WordWaiter(device.i32, device.prodIndex(device.releaseRing));
    this.cmdSpaceWaiter = new WordWaiter(device.i32, device.consIndex(device.cmdRing));
    this.cursorSpaceWaiter = new WordWaiter(device.i32, device.consIndex(device.cursorRing));
  }

  /** Snapshot of the counters. */
  get stats(): QxlProducerStats {
    return { ...this.counters };
  }

  /** Number of resources pushed and not yet released by the consumer. */
  get inFlight(): number {
    return this.live.size;
  }

  /** Free bytes in the data arena (after the last reclaim). */
  get freeBytes(): number {
    return this.arena.freeBytes;
  }

  /** Total bytes of the data arena. */
  get arenaCapacity(): number {
    return this.arena.capacity;
  }

  /** Bytes a copy drawable of `width` x `height` pixels takes in the arena. */
  static copyBlockBytes(width: number, height: number): number {
    return COPY_DATA_OFF + width * height * 4;
  }

  /**
   * Takes every release off the release ring and frees the resources. Each
   * ring item is the head of a chain linked through QXLReleaseInfo.next (the
   * consumer overwrites the id with the next id; 0, or the id itself when
   * untouched, ends it). Returns how many resources were freed. Called before
   * each allocation.
   */
  reclaim(): number {
    const { wasm, view } = this.device;
    let n = 0;
    while (wasm.releaseRingPop(this.device.releaseRing, this.releaseOut) !== 0) {
      let lo = view.getUint32(this.releaseOut, true);
      let hi = view.getUint32(this.releaseOut + 4, true);
      for (;;) {
        const id = hi * 2 ** 32 + lo;
        const block = hi === 0 ? this.live.get(lo) : undefined;
        if (!block) {
          log.warn(`release ring: expected the id of a live resource, got ${id}; rest of its chain ignored`);
          break;
        }
        // Read the link before freeing: the block may be reused right away.
        const nextLo = view.getUint32(block.addr + QXLReleaseInfo.NEXT, true);
        const nextHi = view.getUint32(block.addr + QXLReleaseInfo.NEXT + 4, true);
        this.live.delete(lo);
        this.arena.release(block.addr, block.size);
        n++;
        if ((nextLo === 0 && nextHi === 0) || (nextLo === lo && nextHi === hi)) break;
        lo = nextLo;
        hi = nextHi;
      }
    }
    this.counters.released += n;
    return n;
  }

  /**
   * Pushes a QXL_DRAW_COPY of the `rect.width` x `rect.height` pixels at
   * (`srcX`, `srcY`) of `pixels` (xRGB 0x00RRGGBB, `stride` pixels per row) to
   * (`rect.left`, `rect.top`) of surface `surfaceId`.
   * Returns false (nothing pushed) when the command ring is full or the arena
   * has no room; throws on arguments that could never succeed.
   */
  pushCopy(
    surfaceId: number,
    rect: CopyRect,
    pixels: Uint32Array,
    stride: number,
    srcX: number = rect.left,
    srcY: number = rect.top,
  ): boolean {
    const { left, top, width, height } = rect;
    checkRectArgs('pushCopy', rect, [['stride', stride], ['srcX', srcX], ['srcY', srcY]]);
    if (srcX + width > stride || (srcY + height - 1) * stride + srcX + width > pixels.length) {
      throw new RangeError(
        `pushCopy: expected source ${width}x${height}+${srcX}+${srcY} inside a ${stride}-pixel-stride buffer of ${pixels.length} pixels`,
      );
    }
    const dataBytes = width * height * 4;
    const size = COPY_DATA_OFF + dataBytes;
    if (size > this.arena.capacity) {
      throw new RangeError(`pushCopy: expected a drawable of at most ${this.arena.capacity} bytes, got ${size}`);
    }
    const { device } = this;
    if (device.wasm.ringIsFull(device.cmdRing)) {
      this.counters.ringFull++;
      return false;
    }
    const a = this.allocate(size);
    if (!a) return false;
    const { addr: block, releaseId } = a;
    const v = device.view;
    device.bytes.fill(0, block, block + COPY_DATA_OFF);

    const d = block;
    const image = block + COPY_IMAGE_OFF;
    const chunk = block + COPY_CHUNK_OFF;
    v.setUint32(d + QXLDrawable.RELEASE_INFO, releaseId, true);
    v.setUint32(d + QXLDrawable.SURFACE_ID, surfaceId, true);
    v.setUint8(d + QXLDrawable.EFFECT, QxlEffect.OPAQUE);
    v.setUint8(d + QXLDrawable.TYPE, QxlDrawType.COPY);
    writeRect(v, d + QXLDrawable.BBOX, top, left, top + height, left + width);
    v.setUint32(d + QXLDrawable.CLIP + QXLClip.TYPE, ClipType.NONE, true);
    v.setUint32(d + QXLDrawable.MM_TIME, mmTime(), true);
    for (let i = 0; i < 3; i++) v.setInt32(d + QXLDrawable.SURFACES_DEST + 4 * i, -1, true);
    const copy = d + QXLDrawable.U;
    v.setUint32(copy + QXLCopy.SRC_BITMAP, image, true);
    writeRect(v, copy + QXLCopy.SRC_AREA, 0, 0, height, width);
    v.setUint16(copy + QXLCopy.ROP_DESCRIPTOR, Ropd.OP_PUT, true);
    v.setUint8(copy + QXLCopy.SCALE_MODE, ScaleMode.NEAREST);

    // Image id as QXL_SET_IMAGE_ID does it: group in the low word, unique in the high word.
    v.setUint32(image + QXLImageDescriptor.ID, ImageGroup.DRIVER, true);
    v.setUint32(image + QXLImageDescriptor.ID + 4, this.takeImageUnique(), true);
    v.setUint8(image + QXLImageDescriptor.TYPE, ImageType.BITMAP);
    v.setUint8(image + QXLImageDescriptor.FLAGS, 0);
    v.setUint32(image + QXLImageDescriptor.WIDTH, width, true);
    v.setUint32(image + QXLImageDescriptor.HEIGHT, height, true);
    const bmp = image + QXLImage.BITMAP;
    v.setUint8(bmp + QXLBitmap.FORMAT, BitmapFormat._32BIT);
    v.setUint8(bmp + QXLBitmap.FLAGS, BitmapFlags.TOP_DOWN);
    v.setUint32(bmp + QXLBitmap.X, width, true);
    v.setUint32(bmp + QXLBitmap.Y, height, true);
    v.setUint32(bmp + QXLBitmap.STRIDE, width * 4, true);
    v.setUint32(bmp + QXLBitmap.DATA, chunk, true);
    v.setUint32(chunk + QXLDataChunk.DATA_SIZE, dataBytes, true);

    let dst = (block + COPY_DATA_OFF) >> 2;
    for (let y = 0; y < height; y++) {
      const src = (srcY + y) * stride + srcX;
      this.mem32.set(pixels.subarray(src, src + width), dst);
      dst += width;
    }
    return this.push(device.cmdRing, d, QxlCmdType.DRAW, releaseId, true);
  }

  /**
   * Pushes a QXL_COPY_BITS drawable: the `rect`-sized area at (`srcX`, `srcY`)
   * of the surface is copied to `rect` (a scroll or a moved block). Returns
   * false (nothing pushed) when the ring is full or the arena has no room.
   */
  pushCopyBits(surfaceId: number, rect: CopyRect, srcX: number, srcY: number): boolean {
    const { left, top, width, height } = rect;
    checkRectArgs('pushCopyBits', rect, [['srcX', srcX], ['srcY', srcY]]);
    const { device } = this;
    if (device.wasm.ringIsFull(device.cmdRing)) {
      this.counters.ringFull++;
      return false;
    }
    const a = this.allocate(QXLDrawable.SIZE);
    if (!a) return false;
    const { addr: d, releaseId } = a;
    const v = device.view;
    device.bytes.fill(0, d, d + QXLDrawable.SIZE);
    v.setUint32(d + QXLDrawable.RELEASE_INFO, releaseId, true);
    v.setUint32(d + QXLDrawable.SURFACE_ID, surfaceId, true);
    v.setUint8(d + QXLDrawable.EFFECT, QxlEffect.OPAQUE);
    v.setUint8(d + QXLDrawable.TYPE, QxlDrawType.COPY_BITS);
    writeRect(v, d + QXLDrawable.BBOX, top, left, top + height, left + width);
    v.setUint32(d + QXLDrawable.CLIP + QXLClip.TYPE, ClipType.NONE, true);
    v.setUint32(d + QXLDrawable.MM_TIME, mmTime(), true);
    for (let i = 0; i < 3; i++) v.setInt32(d + QXLDrawable.SURFACES_DEST + 4 * i, -1, true);
    // QXLCopyBits: QXLPoint src_pos.
    v.setInt32(d + QXLDrawable.U, srcX, true);
    v.setInt32(d + QXLDrawable.U + 4, srcY, true);
    return this.push(device.cmdRing, d, QxlCmdType.DRAW, releaseId, true);
  }

  /**
   * Pushes a QXL_CURSOR_SET with an ALPHA shape at (`x`, `y`), visible.
   * Returns false (nothing pushed) when the cursor ring is full or the arena has no room.
   */
  pushCursorSet(x: number, y: number, shape: CursorShape): boolean {
    const { width, height, hotX, hotY, argb } = shape;
    for (const [name, v] of [
      ['width', width],
      ['height', height],
      ['hotX', hotX],
      ['hotY', hotY],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v > U16_MAX) {
        throw new RangeError(`pushCursorSet: expected shape.${name} to be an integer in 0..${U16_MAX}, got ${v}`);
      }
    }
    if (argb.length < width * height) {
      throw new RangeError(`pushCursorSet: expected at least ${width * height} ARGB pixels for ${width}x${height}, got ${argb.length}`);
    }
    const dataBytes = width * height * 4;
    const cursor = (block: number, v: DataView): void => {
      const c = block + CURSOR_SHAPE_OFF;
      v.setUint16(c + QXLCursorHeader.TYPE, CursorType.ALPHA, true);
      v.setUint16(c + QXLCursorHeader.WIDTH, width, true);
      v.setUint16(c + QXLCursorHeader.HEIGHT, height, true);
      v.setUint16(c + QXLCursorHeader.HOT_SPOT_X, hotX, true);
      v.setUint16(c + QXLCursorHeader.HOT_SPOT_Y, hotY, true);
      v.setUint32(c + QXLCursor.DATA_SIZE, dataBytes, true);
      v.setUint32(c + QXLCursor.CHUNK + QXLDataChunk.DATA_SIZE, dataBytes, true);
      const data = c + QXLCursor.CHUNK + QXLDataChunk.DATA;
      // Pixels as little-endian u32 0xAARRGGBB: bytes B, G, R, A (SPICE's ALPHA cursor format).
      this.device.bytes.set(new Uint8Array(argb.buffer, argb.byteOffset, dataBytes), data);
      v.setInt16(block + QXLCursorCmd.SET_POSITION, clampI16(x), true);
      v.setInt16(block + QXLCursorCmd.SET_POSITION + 2, clampI16(y), true);
      v.setUint8(block + QXLCursorCmd.SET_VISIBLE, 1);
      v.setUint32(block + QXLCursorCmd.SET_SHAPE, c, true);
    };
    return this.pushCursor(QxlCursorCmdType.SET, CURSOR_SHAPE_OFF + QXLCursor.SIZE + dataBytes, cursor);
  }

  /** Pushes a QXL_CURSOR_MOVE to (`x`, `y`). Returns false when the ring is full or the arena has no room. */
  pushCursorMove(x: number, y: number): boolean {
    return this.pushCursor(QxlCursorCmdType.MOVE, QXLCursorCmd.SIZE, (block, v) => {
      v.setInt16(block + QXLCursorCmd.POSITION, clampI16(x), true);
      v.setInt16(block + QXLCursorCmd.POSITION + 2, clampI16(y), true);
    });
  }

  /** Pushes a QXL_CURSOR_HIDE. Returns false when the ring is full or the arena has no room. */
  pushCursorHide(): boolean {
    return this.pushCursor(QxlCursorCmdType.HIDE, QXLCursorCmd.SIZE, () => {});
  }

  /**
   * Resolves when pushing may succeed again: the consumer released resources
   * or took a command off a full ring (or after `timeoutMs`). Never blocks;
   * resolves at once when releases are waiting, or when no ring is full and
   * nothing is in flight (nothing could change).
   */
  async whenWritable(timeoutMs = Infinity): Promise<void> {
    const { device } = this;
    const { wasm } = device;
    const cmdFull = wasm.ringPrepareWaitSpace(device.cmdRing) === 1;
    const cursorFull = wasm.ringPrepareWaitSpace(device.cursorRing) === 1;
    // Releases: arm notify_on_prod on the release ring (we are its consumer).
    const noReleases = wasm.ringPrepareWaitItems(device.releaseRing) === 1;
    if (!noReleases) return; // releases already waiting
    if (!cmdFull && !cursorFull && this.live.size === 0) return; // nothing could change
    const waits: Promise<unknown>[] = [
      // Empty release ring: prod == cons, and cons only changes here.
      this.releaseWaiter.wait(device.ringWord(device.releaseRing, SpiceRing.CONS)),
    ];
    // A full ring has cons == prod - num_items; prod only changes here.
    const full = (ring: number): number =>
      (device.ringWord(ring, SpiceRing.PROD) - device.ringWord(ring, SpiceRing.NUM_ITEMS)) | 0;
    if (cmdFull) waits.push(this.cmdSpaceWaiter.wait(full(device.cmdRing)));
    if (cursorFull) waits.push(this.cursorSpaceWaiter.wait(full(device.cursorRing)));
    if (Number.isFinite(timeoutMs)) waits.push(new Promise((r) => setTimeout(r, timeoutMs)));
    await Promise.race(waits);
  }

  private pushCursor(type: number, size: number, fill: (block: number, v: DataView) => void): boolean {
    const { device } = this;
    if (device.wasm.ringIsFull(device.cursorRing)) {
      this.counters.ringFull++;
      return false;
    }
    const a = this.allocate(size);
    if (!a) return false;
    const { addr: block, releaseId } = a;
    const v = device.view;
    device.bytes.fill(0, block, block + Math.min(size, CURSOR_SHAPE_OFF + QXLCursor.SIZE));
    v.setUint32(block + QXLCursorCmd.RELEASE_INFO, releaseId, true);
    v.setUint8(block + QXLCursorCmd.TYPE, type);
    fill(block, v);
    return this.push(device.cursorRing, block, QxlCmdType.CURSOR, releaseId, false);
  }

  private push(ring: number, addr: number, type: number, releaseId: number, draw: boolean): boolean {
    if (this.device.wasm.cmdRingPush(ring, addr, 0, type) === 0) {
      // Only possible with a second producer on this ring; undo so nothing is half-pushed.
      const block = this.live.get(releaseId)!;
      this.live.delete(releaseId);
      this.arena.release(block.addr, block.size);
      this.counters.ringFull++;
      return false;
    }
    if (draw) this.counters.drawsPushed++;
    else this.counters.cursorCommandsPushed++;
    return true;
  }

  /** Reclaims released blocks, then allocates a block recorded under a fresh release id. */
  private allocate(size: number): { addr: number; releaseId: number } | null {
    this.reclaim();
    const addr = this.arena.alloc(size);
    if (addr < 0) {
      this.counters.arenaFull++;
      return null;
    }
    const releaseId = this.nextReleaseId;
    this.live.set(releaseId, { addr, size });
    // Next id: u32, never 0, never one still in flight.
    do {
      this.nextReleaseId = (this.nextReleaseId + 1) >>> 0 || 1;
    } while (this.live.has(this.nextReleaseId));
    return { addr, releaseId };
  }

  private takeImageUnique(): number {
    const u = this.nextImageUnique;
    this.nextImageUnique = (u + 1) >>> 0 || 1;
    return u;
  }
}

function writeRect(v: DataView, at: number, top: number, left: number, bottom: number, right: number): void {
  v.setInt32(at + QXLRect.TOP, top, true);
  v.setInt32(at + QXLRect.LEFT, left, true);
  v.setInt32(at + QXLRect.BOTTOM, bottom, true);
  v.setInt32(at + QXLRect.RIGHT, right, true);
}

function clampI16(n: number): number {
  return Math.max(-0x8000, Math.min(0x7fff, Math.round(n)));
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Multimedia time in ms (QXLDrawable.mm_time); wraps at 2^32. */
function mmTime(): number {
  return Math.floor(performance.now()) >>> 0;
}

/** Throws unless the rect and the named extra values are non-negative integers and the rect is not empty. */
function checkRectArgs(op: string, rect: CopyRect, extra: ReadonlyArray<readonly [string, number]>): void {
  const { left, top, width, height } = rect;
  const values: ReadonlyArray<readonly [string, number]> = [
    ['rect.left', left], ['rect.top', top], ['rect.width', width], ['rect.height', height], ...extra,
  ];
  for (const [name, v] of values) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: expected ${name} to be a non-negative integer, got ${v}`);
  }
  if (width === 0 || height === 0) throw new RangeError(`${op}: expected a non-empty rect, got ${width}x${height}`);
}
