/**
 * Loads build/qxl.wasm (compiled from assembly/) onto a given shared device
 * memory. Works on the page main thread, in Web Workers and in Node.
 *
 * The compiled WebAssembly.Module is cached per thread; a Module can also be
 * posted to a worker and passed in as `source` to skip fetching/compiling.
 */

import { createLogger } from '../util/logger.ts';

const log = createLogger('qxl-wasm');

/** Functions exported by build/qxl.wasm. All addresses are absolute byte offsets in device memory. */
export interface QxlWasmExports {
  /** Initialises a ring header and zeroes its items; 0 when `items` is not a power of two. */
  ringInit(ring: number, items: number, itemSize: number): number;
  /** Items waiting in the ring. */
  ringCount(ring: number): number;
  /** 1 when empty. */
  ringIsEmpty(ring: number): number;
  /** 1 when full. */
  ringIsFull(ring: number): number;
  /** Pushes a QXLCommand; 0 = full, else 1 (| 2 when the consumer was woken). */
  cmdRingPush(ring: number, dataLo: number, dataHi: number, type: number): number;
  /** Pops a QXLCommand into 16 bytes at `out`; 0 = empty, else 1 (| 2 when a producer was woken). */
  cmdRingPop(ring: number, out: number): number;
  /** Pushes a u64 release id; 0 = full, else 1 (| 2 when the consumer was woken). */
  releaseRingPush(ring: number, idLo: number, idHi: number): number;
  /** Pops a u64 release id into 8 bytes at `out`; 0 = empty, else 1 (| 2 when a producer was woken). */
  releaseRingPop(ring: number, out: number): number;
  /** Consumer: arm notify_on_prod; 1 = still empty (wait on `prod` expecting `cons`), 0 = items available. */
  ringPrepareWaitItems(ring: number): number;
  /** Producer: arm notify_on_cons; 1 = still full (wait on `cons` expecting `prod - num_items`), 0 = space. */
  ringPrepareWaitSpace(ring: number): number;
  /** Blocking wait for items (timeout ms, negative = forever); 1 = items available. Not on a browser main thread. */
  ringWaitItems(ring: number, timeoutMs: number): number;
  /** Blocking wait for space (timeout ms, negative = forever); 1 = space available. Not on a browser main thread. */
  ringWaitSpace(ring: number, timeoutMs: number): number;
  /** Wakes every waiter on the ring's prod and cons words; returns how many were woken. */
  ringWakeAll(ring: number): number;
  /**
   * Change detection (assembly/diff.ts): compares frame `cur` with mirror
   * `prev` (32-bit pixels, `stride` bytes per row) in rows [rowFrom, rowTo),
   * in tileW×tileH tiles; writes ≤ maxRects rects (4×u32 left, top, width,
   * height) at `out` (room for maxRects + 1) and returns how many.
   */
  diffTiles(
    cur: number,
    prev: number,
    stride: number,
    width: number,
    height: number,
    rowFrom: number,
    rowTo: number,
    tileW: number,
    tileH: number,
    out: number,
    maxRects: number,
  ): number;
  /** Copies a rect from `src` to the same place in `dst`. */
  copyRect(src: number, dst: number, stride: number, left: number, top: number, width: number, height: number): void;
  /** Copies the rect at (srcX, srcY) of `buf` to (left, top), overlap-safe (COPY_BITS on a mirror). */
  moveRect(buf: number, stride: number, left: number, top: number, width: number, height: number, srcX: number, srcY: number): void;
  /**
   * Vertical scroll inside a changed region: returns dy (cur row y = prev row
   * y + dy) and writes 5×u32 (left, top, width, height, srcY) at `out`, or 0.
   * `work` needs 4·(rh + min(height, rh + 2·maxShift)) + 512 bytes.
   */
  detectScroll(
    cur: number,
    prev: number,
    stride: number,
    width: number,
    height: number,
    left: number,
    top: number,
    rw: number,
    rh: number,
    maxShift: number,
    out: number,
    work: number,
  ): number;
  /**
   * Moved block inside a changed region: returns 1 and writes 6×u32 (left,
   * top, width, height, srcX, srcY) at `out`, or 0. `work` needs 1536 bytes.
   */
  detectMove(
    cur: number,
    prev: number,
    stride: number,
    width: number,
    height: number,
    left: number,
    top: number,
    rw: number,
    rh: number,
    maxShift: number,
    out: number,
    work: number,
  ): number;
  /**
   * SPICE LZ (RGB32, or RGBA when `withAlpha` ≠ 0) of the width×height 32-bit
   * pixels at `src` (row pitch `srcStride`) into `dst`: returns the stream's
   * bytes (28-byte header included), 0 when it exceeds `dstCapacity` or the size
   * is invalid. `work` must hold {@link lzWorkBytes} bytes.
   */
  lzEncode(
    src: number,
    srcStride: number,
    width: number,
    height: number,
    withAlpha: number,
    dst: number,
    dstCapacity: number,
    work: number,
  ): number;
  /** Bytes of work memory lzEncode needs for a width×height image. */
  lzWorkBytes(width: number, height: number): number;
  /**
   * SPICE QUIC (type RGB32, or RGBA when `withAlpha` ≠ 0) of the width×height
   * 32-bit pixels at `src` (row pitch `srcStride`) into `dst`: returns the
   * stream's bytes (a multiple of 4, 20-byte header included), 0 when it would
   * exceed `dstCapacity` (nothing is written past it) or the size is invalid.
   * `work` must hold {@link quicWorkBytes} bytes.
   */
  quicEncode(
    src: number,
    srcStride: number,
    width: number,
    height: number,
    withAlpha: number,
    dst: number,
    dstCapacity: number,
    work: number,
  ): number;
  /** Bytes of work memory quicEncode needs for images `width` pixels wide (0: unsupported width). */
  quicWorkBytes(width: number): number;
  /**
   * SPICE LZ4 (top_down byte, format byte 32BIT, then one big-endian length
   * and LZ4 block) of the width×height pixels at `src` into `dst`: returns the
   * bytes written, 0 when they exceed `dstCapacity` or the size is invalid.
   * `work` must hold {@link lz4WorkBytes} bytes.
   */
  lz4Encode(src: number, srcStride: number, width: number, height: number, dst: number, dstCapacity: number, work: number): number;
  /** Bytes of work memory lz4Encode needs for a width×height image (0: too large). */
  lz4WorkBytes(width: number, height: number): number;
  /**
   * Baseline JPEG (JFIF, 4:2:0) of the width×height xRGB pixels at `src` at
   * `quality` 1..100 into `dst`: returns its size, 0 when it exceeds
   * `dstCapacity` or the size is invalid. `work` ({@link jpegWorkBytes}
   * bytes) starts with the standard tables (src/codecs/jpeg.ts jpegTables).
   */
  jpegEncode(src: number, srcStride: number, width: number, height: number, quality: number, dst: number, dstCapacity: number, work: number): number;
  /** Bytes of work memory jpegEncode needs. */
  jpegWorkBytes(): number;
}

const EXPORT_NAMES: readonly (keyof QxlWasmExports)[] = [
  'ringInit',
  'ringCount',
  'ringIsEmpty',
  'ringIsFull',
  'cmdRingPush',
  'cmdRingPop',
  'releaseRingPush',
  'releaseRingPop',
  'ringPrepareWaitItems',
  'ringPrepareWaitSpace',
  'ringWaitItems',
  'ringWaitSpace',
  'ringWakeAll',
];

/** Module bytes, or where to load them from (a URL, or a string resolved against this file). */
export type QxlWasmBytesSource = ArrayBuffer | Uint8Array | URL | string;
/** Where the module comes from; defaults to build/qxl.wasm next to the sources. */
export type QxlWasmSource = WebAssembly.Module | QxlWasmBytesSource;

/** Default location of the module, resolved relative to this file (Vite rewrites it to the bundled asset). */
export function defaultQxlWasmUrl(): URL {
  return new URL('../../build/qxl.wasm', import.meta.url);
}

let cachedModule: Promise<WebAssembly.Module> | null = null;

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

async function readBytes(url: URL): Promise<ArrayBuffer | Uint8Array> {
  if (url.protocol === 'file:' && isNode()) {
    // Variable specifier + @vite-ignore: keeps Node's fs out of the browser bundle.
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    return fs.readFile(url);
  }
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`qxl-wasm: expected HTTP 200 for ${url.href}, got ${response.status} ${response.statusText}`);
  }
  return response.arrayBuffer();
}

/** Compiles (once per thread for the default source) the device module. */
export function compileQxlWasm(source?: QxlWasmSource): Promise<WebAssembly.Module> {
  if (source === undefined) {
    cachedModule ??= compileFrom(defaultQxlWasmUrl()).catch((err: unknown) => {
      cachedModule = null; // let a later call retry (e.g. after `npm run asbuild`)
      throw err;
    });
    return cachedModule;
  }
  // Test the byte sources explicitly: WebAssembly.Module is structurally `{}`,
  // so narrowing on it would swallow every other member of the union.
  if (
    typeof source === 'string' ||
    source instanceof URL ||
    source instanceof ArrayBuffer ||
    source instanceof Uint8Array
  ) {
    return compileFrom(source);
  }
  return Promise.resolve(source);
}

async function compileFrom(source: QxlWasmBytesSource): Promise<WebAssembly.Module> {
  let bytes: ArrayBuffer | Uint8Array;
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) bytes = source;
  else bytes = await readBytes(typeof source === 'string' ? new URL(source, import.meta.url) : source);
  // Copy into a plain ArrayBuffer-backed view: compile() rejects SharedArrayBuffer views.
  const plain = bytes instanceof Uint8Array ? new Uint8Array(bytes) : bytes;
  const module = await WebAssembly.compile(plain);
  log.debug(`compiled device module (${plain.byteLength} bytes)`);
  return module;
}

/**
 * Instantiates the device module on `memory` (must be the shared device
 * memory). Returns its typed exports.
 */
export async function loadQxlWasm(memory: WebAssembly.Memory, source?: QxlWasmSource): Promise<QxlWasmExports> {
  const module = await compileQxlWasm(source);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as Record<string, unknown>;
  for (const name of EXPORT_NAMES) {
    if (typeof exports[name] !== 'function') {
      throw new Error(`qxl-wasm: expected export "${name}" to be a function, got ${typeof exports[name]} (rebuild with npm run asbuild)`);
    }
  }
  return exports as unknown as QxlWasmExports;
}
