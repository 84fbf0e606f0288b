/**
 * Consumer side of a QXL device, run by the RedWorker: takes commands off the
 * command and cursor rings, parses drawables and cursor commands out of device
 * memory, and hands resources back through the release ring.
 *
 * Device memory is written by a producer we do not trust (eventually a guest):
 * every address and size is checked against the data arena before it is read,
 * and parsed data is copied out, so later writes by the producer cannot change
 * what we already parsed.
 */

import { createLogger } from '../util/logger.ts';
import type { QxlDevice } from './qxl-device.ts';
import {
  BitmapFlags,
  DEVICE_HEADER_OFFSET,
  DeviceHeader,
  ImageType,
  QXLBitmap,
  QXLClip,
  QXLCommand,
  QXLCopy,
  QXLCursor,
  QXLCursorCmd,
  QXLCursorHeader,
  QXLDataChunk,
  QXLDrawable,
  QXLImage,
  QXLImageDescriptor,
  QXLQMask,
  QXLReleaseInfo,
  QXLRect,
  QxlCursorCmdType,
  QxlDrawType,
  SpiceRing,
  bitmapFormatBpp,
} from './qxl-layout.ts';
import { WordWaiter } from './qxl-wait.ts';

const log = createLogger('qxl-consumer');

/** A command taken off a ring: its QXLCmdType and the physical address of its data. */
export interface QxlCommandRef {
  type: number;
  /** Physical address (u64 as a number; out-of-range values fail later validation). */
  addr: number;
}

/** QXLRect as stored: exclusive right/bottom. */
export interface QxlRect {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** A bitmap image parsed out of device memory. */
export interface QxlBitmapImage {
  /** QXLImageDescriptor.id (u64 as a number). */
  id: number;
  /** QXLImageDescriptor.flags (QXL_IMAGE_CACHE, ...). */
  imageFlags: number;
  width: number;
  height: number;
  /** SPICE_BITMAP_FMT_*. */
  format: number;
  /** QXLBitmapFlags. */
  bitmapFlags: number;
  /** Bytes per row. */
  stride: number;
  /** Rows stored top row first. */
  topDown: boolean;
  /** Physical address of the palette (0 when none); not parsed. */
  palette: number;
  /** Copy of the `stride * height` pixel bytes. */
  pixels: Uint8Array;
}

/** The QXLCopy member of a drawable's union. */
export interface QxlCopyOp {
  srcArea: QxlRect;
  /** rop_descriptor (SPICE_ROPD_*). */
  rop: number;
  scaleMode: number;
  mask: { flags: number; x: number; y: number; bitmap: number };
  image: QxlBitmapImage;
}

/** A QXLDrawable parsed out of device memory. */
export interface QxlDrawable {
  /** Physical address it was read from. */
  addr: number;
  releaseId: number;
  surfaceId: number;
  effect: number;
  /** QXL_DRAW_*. */
  type: number;
  selfBitmap: number;
  bbox: QxlRect;
  clip: { type: number; data: number };
  mmTime: number;
  surfacesDest: [number, number, number];
  /** Present for QXL_DRAW_COPY. */
  copy?: QxlCopyOp;
  /** Present for QXL_COPY_BITS: where the bbox-sized area is copied from. */
  copyBits?: { srcX: number; srcY: number };
}

/** A cursor shape parsed out of device memory. */
export interface QxlCursorShape {
  unique: number;
  /** SPICE_CURSOR_TYPE_*. */
  type: number;
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  /** Copy of the shape bytes (ALPHA: width*height little-endian 0xAARRGGBB). */
  data: Uint8Array;
}

/** A QXLCursorCmd parsed out of device memory. */
export interface QxlCursorCommand {
  addr: number;
  releaseId: number;
  /** QXL_CURSOR_*. */
  type: number;
  /** SET and MOVE: the position; otherwise 0,0. */
  position: { x: number; y: number };
  /** SET: whether the cursor is visible. */
  visible: boolean;
  /** SET: the shape. */
  shape?: QxlCursorShape;
  /** TRAIL: trail parameters. */
  trail?: { length: number; frequency: number };
}

/** Options of {@link QxlConsumer.waitForWork}. */
export interface WaitForWorkOptions {
  /** Resolve anyway after this many milliseconds. */
  timeoutMs?: number;
}

/** Most chunks a chain may have; more means a loop or garbage. */
const MAX_CHUNKS = 65536;
/** Largest bitmap dimension we accept. */
const MAX_IMAGE_DIM = 65536;
/** Releases kept locally while the release ring is full before we warn. */
const PENDING_RELEASE_WARN = 4096;

/** Reads commands and resources from a QXL device and releases them. */
export class QxlConsumer {
  readonly device: QxlDevice;
  /** Releases not yet in the ring; addr -1 when the resource cannot carry a chain link. */
  private readonly pendingReleases: { id: number; addr: number }[] = [];
  private readonly cmdOut = DEVICE_HEADER_OFFSET + DeviceHeader.CMD_POP_OUT;
  private readonly cursorOut = DEVICE_HEADER_OFFSET + DeviceHeader.CURSOR_POP_OUT;
  private readonly cmdWaiter: WordWaiter;
  private readonly cursorWaiter: WordWaiter;
  private readonly releaseSpaceWaiter: WordWaiter;
  private interrupted = false;
  private wakeInterrupt: (() => void) | null = null;
  private warnedPending = false;

  constructor(device: QxlDevice) {
    this.device = device;
    this.cmdWaiter = new WordWaiter(device.i32, device.prodIndex(device.cmdRing));
    this.cursorWaiter = new WordWaiter(device.i32, device.prodIndex(device.cursorRing));
    this.releaseSpaceWaiter = new WordWaiter(device.i32, device.consIndex(device.releaseRing));
  }

  /** Release ids waiting for room in the release ring. */
  get pendingReleaseCount(): number {
    return this.pendingReleases.length;
  }

  /** Takes the next command off the command ring, or null when it is empty. */
  nextCommand(): QxlCommandRef | null {
    return this.pop(this.device.cmdRing, this.cmdOut);
  }

  /** Takes the next command off the cursor ring, or null when it is empty. */
  nextCursorCommand(): QxlCommandRef | null {
    return this.pop(this.device.cursorRing, this.cursorOut);
  }

  /** True when either ring holds a command. */
  hasWork(): boolean {
    const { wasm } = this.device;
    return wasm.ringIsEmpty(this.device.cmdRing) === 0 || wasm.ringIsEmpty(this.device.cursorRing) === 0;
  }

  /**
   * Resolves when the command or cursor ring has items (or on timeout, or
   * after {@link interrupt}). Never blocks the thread. While releases are
   * pending it also wakes when the release ring gets room, and flushes them.
   */
  async waitForWork(options: WaitForWorkOptions = {}): Promise<void> {
    const deadline = options.timeoutMs === undefined ? Infinity : performanceNow() + options.timeoutMs;
    const { device } = this;
    const { wasm } = device;
    for (;;) {
      this.flushReleases();
      if (this.interrupted) {
        this.interrupted = false;
        return;
      }
      // Arm both rings before sleeping; if either has items we are done.
      const cmdEmpty = wasm.ringPrepareWaitItems(device.cmdRing) === 1;
      const cursorEmpty = wasm.ringPrepareWaitItems(device.cursorRing) === 1;
      if (!cmdEmpty || !cursorEmpty) return;
      const remaining = deadline - performanceNow();
      if (remaining <= 0) return;
      // Empty ring: prod == cons, and cons only changes in this thread, so it
      // is the right "expected" value; a push in between makes the wait return.
      const waits: Promise<unknown>[] = [
        this.cmdWaiter.wait(device.ringWord(device.cmdRing, SpiceRing.CONS)),
        this.cursorWaiter.wait(device.ringWord(device.cursorRing, SpiceRing.CONS)),
      ];
      if (this.pendingReleases.length > 0) {
        // Room appeared since the flush above: flush again rather than sleep on it.
        if (wasm.ringPrepareWaitSpace(device.releaseRing) === 0) continue;
        const full = device.ringWord(device.releaseRing, SpiceRing.PROD) - device.ringWord(device.releaseRing, SpiceRing.NUM_ITEMS);
        waits.push(this.releaseSpaceWaiter.wait(full | 0));
      }
      waits.push(new Promise<void>((r) => (this.wakeInterrupt = r)));
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (Number.isFinite(remaining)) waits.push(new Promise<void>((r) => (timer = setTimeout(r, remaining))));
      await Promise.race(waits);
      this.wakeInterrupt = null;
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Makes a pending (or the next) {@link waitForWork} in this thread resolve at once. */
  interrupt(): void {
    this.interrupted = true;
    this.wakeInterrupt?.();
  }

  /**
   * Hands a resource back to the producer. Pass the resource's address (the
   * `addr` of a parsed drawable or cursor command) when known: releases are
   * then chained through QXLReleaseInfo.next as in QXL, so one release-ring
   * slot carries any number of them. If the ring is full, releases are kept
   * and flushed on the next release or {@link waitForWork}.
   */
  release(releaseId: number, addr?: number): void {
    if (!Number.isSafeInteger(releaseId) || releaseId <= 0) {
      throw new RangeError(`release: expected a positive integer release id, got ${releaseId}`);
    }
    // Chain only through a release_info that still holds this id: anything else
    // means we were handed the wrong address, and writing there would corrupt it.
    const chainable =
      addr !== undefined && this.device.inArena(addr, QXLReleaseInfo.SIZE) && this.u64(addr + QXLReleaseInfo.ID) === releaseId;
    this.pendingReleases.push({ id: releaseId, addr: chainable ? addr : -1 });
    this.flushReleases();
    if (this.pendingReleases.length > PENDING_RELEASE_WARN && !this.warnedPending) {
      this.warnedPending = true;
      log.warn(`${this.pendingReleases.length} releases pending: the producer is not draining the release ring`);
    }
  }

  /** Pushes pending releases while the ring has room; returns how many are still pending. */
  flushReleases(): number {
    const { wasm, releaseRing, view } = this.device;
    const pending = this.pendingReleases;
    let i = 0;
    while (i < pending.length && wasm.ringIsFull(releaseRing) === 0) {
      // The longest run of chainable releases goes in one slot: each one's
      // release_info becomes `next` (the following id, 0 at the end).
      let end = i + 1;
      if (pending[i]!.addr >= 0) while (end < pending.length && pending[end]!.addr >= 0) end++;
      for (let k = i; k < end; k++) {
        const at = pending[k]!.addr;
        if (at < 0) continue;
        const next = k + 1 < end ? pending[k + 1]!.id : 0;
        view.setUint32(at + QXLReleaseInfo.NEXT, next >>> 0, true);
        view.setUint32(at + QXLReleaseInfo.NEXT + 4, Math.floor(next / 2 ** 32) >>> 0, true);
      }
      const head = pending[i]!.id;
      if (wasm.releaseRingPush(releaseRing, head >>> 0, Math.floor(head / 2 ** 32) >>> 0) === 0) break;
      i = end;
    }
    if (i > 0) pending.splice(0, i);
    if (pending.length === 0) this.warnedPending = false;
    return pending.length;
  }

  /** Parses the QXLDrawable at physical address `addr` (validated). */
  readDrawable(addr: number): QxlDrawable {
    this.check(addr, QXLDrawable.SIZE, 'QXLDrawable');
    const v = this.device.view;
    const type = v.getUint8(addr + QXLDrawable.TYPE);
    const drawable: QxlDrawable = {
      addr,
      releaseId: this.u64(addr + QXLDrawable.RELEASE_INFO),
      surfaceId: v.getUint32(addr + QXLDrawable.SURFACE_ID, true),
      effect: v.getUint8(addr + QXLDrawable.EFFECT),
      type,
      selfBitmap: v.getUint8(addr + QXLDrawable.SELF_BITMAP),
      bbox: this.rect(addr + QXLDrawable.BBOX),
      clip: {
        type: v.getUint32(addr + QXLDrawable.CLIP + QXLClip.TYPE, true),
        data: this.u64(addr + QXLDrawable.CLIP + QXLClip.DATA),
      },
      mmTime: v.getUint32(addr + QXLDrawable.MM_TIME, true),
      surfacesDest: [0, 1, 2].map((i) => v.getInt32(addr + QXLDrawable.SURFACES_DEST + 4 * i, true)) as [number, number, number],
    };
    const b = drawable.bbox;
    if (b.right < b.left || b.bottom < b.top) {
      throw new Error(`QXLDrawable at ${addr}: expected bbox with left <= right and top <= bottom, got ${fmtRect(b)}`);
    }
    if (type === QxlDrawType.COPY_BITS) {
      drawable.copyBits = { srcX: v.getInt32(addr + QXLDrawable.U, true), srcY: v.getInt32(addr + QXLDrawable.U + 4, true) };
    }
    if (type === QxlDrawType.COPY) {
      const c = addr + QXLDrawable.U;
      const srcArea = this.rect(c + QXLCopy.SRC_AREA);
      const image = this.readBitmapImage(this.u64(c + QXLCopy.SRC_BITMAP));
      if (
        srcArea.left < 0 ||
        srcArea.top < 0 ||
        srcArea.right > image.width ||
        srcArea.bottom > image.height ||
        srcArea.left > srcArea.right ||
        srcArea.top > srcArea.bottom
      ) {
        throw new Error(
          `QXLDrawable at ${addr}: expected src_area inside the ${image.width}x${image.height} image, got ${fmtRect(srcArea)}`,
        );
      }
      const m = c + QXLCopy.MASK;
      drawable.copy = {
        srcArea,
        rop: v.getUint16(c + QXLCopy.ROP_DESCRIPTOR, true),
        scaleMode: v.getUint8(c + QXLCopy.SCALE_MODE),
        mask: {
          flags: v.getUint8(m + QXLQMask.FLAGS),
          x: v.getInt32(m + QXLQMask.POS, true),
          y: v.getInt32(m + QXLQMask.POS + 4, true),
          bitmap: this.u64(m + QXLQMask.BITMAP),
        },
        image,
      };
    }
    return drawable;
  }

  /** Parses the QXLImage (type BITMAP) at physical address `addr` (validated), copying its pixels. */
  readBitmapImage(addr: number): QxlBitmapImage {
    this.check(addr, QXLImageDescriptor.SIZE, 'QXLImage descriptor');
    const v = this.device.view;
    const imageType = v.getUint8(addr + QXLImageDescriptor.TYPE);
    if (imageType !== ImageType.BITMAP) {
      throw new Error(`QXLImage at ${addr}: expected image type BITMAP (${ImageType.BITMAP}), got ${imageType}`);
    }
    this.check(addr, QXLImage.SIZE, 'QXLImage');
    const bmp = addr + QXLImage.BITMAP;
    const format = v.getUint8(bmp + QXLBitmap.FORMAT);
    const bitmapFlags = v.getUint8(bmp + QXLBitmap.FLAGS);
    const width = v.getUint32(bmp + QXLBitmap.X, true);
    const height = v.getUint32(bmp + QXLBitmap.Y, true);
    const stride = v.getUint32(bmp + QXLBitmap.STRIDE, true);
    const bpp = bitmapFormatBpp(format);
    if (bpp === 0) throw new Error(`QXLBitmap at ${bmp}: expected a known SPICE_BITMAP_FMT, got ${format}`);
    if (width === 0 || height === 0 || width > MAX_IMAGE_DIM || height > MAX_IMAGE_DIM) {
      throw new Error(`QXLBitmap at ${bmp}: expected 1..${MAX_IMAGE_DIM} x 1..${MAX_IMAGE_DIM} pixels, got ${width}x${height}`);
    }
    const minStride = Math.ceil((width * bpp) / 8);
    if (stride < minStride) {
      throw new Error(`QXLBitmap at ${bmp}: expected stride >= ${minStride} for ${width} pixels of ${bpp} bpp, got ${stride}`);
    }
    const descW = v.getUint32(addr + QXLImageDescriptor.WIDTH, true);
    const descH = v.getUint32(addr + QXLImageDescriptor.HEIGHT, true);
    if (descW !== width || descH !== height) {
      throw new Error(`QXLImage at ${addr}: expected descriptor size to match bitmap ${width}x${height}, got ${descW}x${descH}`);
    }
    const total = stride * height;
    const data = this.u64(bmp + QXLBitmap.DATA);
    const pixels =
      bitmapFlags & BitmapFlags.DIRECT ? this.copyDirect(data, total, 'QXLBitmap data') : this.readChunks(data, total, 'QXLBitmap');
    return {
      id: this.u64(addr + QXLImageDescriptor.ID),
      imageFlags: v.getUint8(addr + QXLImageDescriptor.FLAGS),
      width,
      height,
      format,
      bitmapFlags,
      stride,
      topDown: (bitmapFlags & BitmapFlags.TOP_DOWN) !== 0,
      palette: this.u64(bmp + QXLBitmap.PALETTE),
      pixels,
    };
  }

  /** Parses the QXLCursorCmd at physical address `addr` (validated). */
  readCursorCommand(addr: number): QxlCursorCommand {
    this.check(addr, QXLCursorCmd.SIZE, 'QXLCursorCmd');
    const v = this.device.view;
    const type = v.getUint8(addr + QXLCursorCmd.TYPE);
    const cmd: QxlCursorCommand = {
      addr,
      releaseId: this.u64(addr + QXLCursorCmd.RELEASE_INFO),
      type,
      position: { x: 0, y: 0 },
      visible: false,
    };
    switch (type) {
      case QxlCursorCmdType.SET: {
        cmd.position = this.point16(addr + QXLCursorCmd.SET_POSITION);
        cmd.visible = v.getUint8(addr + QXLCursorCmd.SET_VISIBLE) !== 0;
        cmd.shape = this.readCursorShape(this.u64(addr + QXLCursorCmd.SET_SHAPE));
        break;
      }
      case QxlCursorCmdType.MOVE:
        cmd.position = this.point16(addr + QXLCursorCmd.POSITION);
        break;
      case QxlCursorCmdType.HIDE:
        break;
      case QxlCursorCmdType.TRAIL:
        cmd.trail = {
          length: v.getUint16(addr + QXLCursorCmd.TRAIL_LENGTH, true),
          frequency: v.getUint16(addr + QXLCursorCmd.TRAIL_FREQUENCY, true),
        };
        break;
      default:
        throw new Error(`QXLCursorCmd at ${addr}: expected type SET/MOVE/HIDE/TRAIL (0..3), got ${type}`);
    }
    return cmd;
  }

  private readCursorShape(addr: number): QxlCursorShape {
    this.check(addr, QXLCursor.SIZE, 'QXLCursor');
    const v = this.device.view;
    const h = addr + QXLCursor.HEADER;
    const dataSize = v.getUint32(addr + QXLCursor.DATA_SIZE, true);
    return {
      unique: this.u64(h + QXLCursorHeader.UNIQUE),
      type: v.getUint16(h + QXLCursorHeader.TYPE, true),
      width: v.getUint16(h + QXLCursorHeader.WIDTH, true),
      height: v.getUint16(h + QXLCursorHeader.HEIGHT, true),
      hotX: v.getUint16(h + QXLCursorHeader.HOT_SPOT_X, true),
      hotY: v.getUint16(h + QXLCursorHeader.HOT_SPOT_Y, true),
      // The first chunk is embedded in QXLCursor.
      data: this.readChunks(addr + QXLCursor.CHUNK, dataSize, 'QXLCursor'),
    };
  }

  /** Collects exactly `total` bytes from a QXLDataChunk chain starting at `first`. */
  private readChunks(first: number, total: number, what: string): Uint8Array {
    this.check(0, total, `${what} data size`, true);
    const out = new Uint8Array(total);
    const v = this.device.view;
    let filled = 0;
    let chunk = first;
    for (let n = 0; chunk !== 0; n++) {
      if (n >= MAX_CHUNKS) throw new Error(`${what}: expected at most ${MAX_CHUNKS} data chunks, got more (loop?)`);
      this.check(chunk, QXLDataChunk.SIZE, `${what} QXLDataChunk`);
      const size = v.getUint32(chunk + QXLDataChunk.DATA_SIZE, true);
      if (size > total - filled) {
        throw new Error(`${what}: expected data chunks totalling ${total} bytes, got ${filled + size} or more`);
      }
      const data = chunk + QXLDataChunk.DATA;
      this.check(data, size, `${what} chunk data`);
      out.set(this.device.bytes.subarray(data, data + size), filled);
      filled += size;
      chunk = this.u64(chunk + QXLDataChunk.NEXT_CHUNK);
    }
    if (filled !== total) throw new Error(`${what}: expected data chunks totalling ${total} bytes, got ${filled}`);
    return out;
  }

  private copyDirect(addr: number, size: number, what: string): Uint8Array {
    this.check(addr, size, what);
    return this.device.bytes.slice(addr, addr + size);
  }

  private pop(ring: number, out: number): QxlCommandRef | null {
    if (this.device.wasm.cmdRingPop(ring, out) === 0) return null;
    const v = this.device.view;
    return { addr: this.u64(out + QXLCommand.DATA), type: v.getUint32(out + QXLCommand.TYPE, true) };
  }

  /** Throws unless [addr, addr + size) lies inside the data arena (or, for sizes only, fits in it). */
  private check(addr: number, size: number, what: string, sizeOnly = false): void {
    const { arenaStart, arenaEnd } = this.device;
    if (sizeOnly) {
      if (size > arenaEnd - arenaStart) {
        throw new Error(`${what}: expected at most ${arenaEnd - arenaStart} bytes (device arena), got ${size}`);
      }
      return;
    }
    if (!this.device.inArena(addr, size)) {
      throw new Error(
        `${what}: expected ${size} bytes inside device memory [${arenaStart}, ${arenaEnd}), got address ${addr}`,
      );
    }
  }

  private u64(at: number): number {
    const v = this.device.view;
    return v.getUint32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
  }

  private rect(at: number): QxlRect {
    const v = this.device.view;
    return {
      top: v.getInt32(at + QXLRect.TOP, true),
      left: v.getInt32(at + QXLRect.LEFT, true),
      bottom: v.getInt32(at + QXLRect.BOTTOM, true),
      right: v.getInt32(at + QXLRect.RIGHT, true),
    };
  }

  private point16(at: number): { x: number; y: number } {
    const v = this.device.view;
    return { x: v.getInt16(at, true), y: v.getInt16(at + 2, true) };
  }
}

function fmtRect(r: QxlRect): string {
  return `{top ${r.top}, left ${r.left}, bottom ${r.bottom}, right ${r.right}}`;
}

function performanceNow(): number {
  return performance.now();
}
