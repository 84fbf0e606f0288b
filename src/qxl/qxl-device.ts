/**
 * The virtual QXL device: one shared WebAssembly.Memory holding QXLRam (the
 * command, cursor and release rings), our device header and the data arena,
 * plus the ring module instantiated on it for this thread.
 *
 * The page creates a device with {@link QxlDevice.create}, posts
 * `device.memory` to the RedWorker, which calls {@link QxlDevice.attach}.
 */

import { createLogger } from '../util/logger.ts';
import {
  ARENA_OFFSET,
  CMD_RING_ADDR,
  CURSOR_RING_ADDR,
  DEVICE_HEADER_OFFSET,
  DEVICE_LAYOUT_VERSION,
  DEVICE_MAGIC,
  DEVICE_MEMORY_BYTES,
  DEVICE_MEMORY_PAGES,
  DeviceHeader,
  QXL_COMMAND_RING_SIZE,
  QXL_CURSOR_RING_SIZE,
  QXL_RAM_MAGIC,
  QXL_RAM_OFFSET,
  QXL_RELEASE_RING_SIZE,
  QXLCommand,
  QXLRam,
  Region,
  RELEASE_ITEM_SIZE,
  RELEASE_RING_ADDR,
  SpiceRing,
} from './qxl-layout.ts';
import { loadQxlWasm, type QxlWasmExports, type QxlWasmSource } from './qxl-wasm.ts';

const log = createLogger('qxl-device');

/** Options for creating or attaching to a device. */
export interface QxlDeviceOptions {
  /** Module bytes/URL or an already compiled Module (e.g. posted from another thread). */
  wasm?: QxlWasmSource;
}

/** One QXL device's memory and ring functions, as seen from the current thread. */
export class QxlDevice {
  /** The shared device memory (post this to other threads). */
  readonly memory: WebAssembly.Memory;
  /** Ring functions bound to {@link memory} in this thread. */
  readonly wasm: QxlWasmExports;
  /** Little-endian view over the whole device memory, for packed structs. */
  readonly view: DataView;
  /** Byte view over the whole device memory. */
  readonly bytes: Uint8Array;
  /** 32-bit view over the whole device memory (pixel copies, Atomics). */
  readonly i32: Int32Array;
  /** Absolute address of the command ring. */
  readonly cmdRing = CMD_RING_ADDR;
  /** Absolute address of the cursor ring. */
  readonly cursorRing = CURSOR_RING_ADDR;
  /** Absolute address of the release ring. */
  readonly releaseRing = RELEASE_RING_ADDR;
  /** First byte of the data arena. */
  readonly arenaStart: number;
  /** One past the last byte of the data arena. */
  readonly arenaEnd: number;

  private constructor(memory: WebAssembly.Memory, wasm: QxlWasmExports) {
    this.memory = memory;
    this.wasm = wasm;
    const buffer = memory.buffer;
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.arenaStart = this.view.getUint32(DEVICE_HEADER_OFFSET + DeviceHeader.ARENA_START, true);
    this.arenaEnd = this.view.getUint32(DEVICE_HEADER_OFFSET + DeviceHeader.ARENA_END, true);
  }

  /** Size of device memory in bytes. */
  get byteLength(): number {
    return this.bytes.byteLength;
  }

  /** Creates a fresh device memory, initialises the rings and the header. */
  static async create(options: QxlDeviceOptions = {}): Promise<QxlDevice> {
    const memory = new WebAssembly.Memory({ initial: DEVICE_MEMORY_PAGES, maximum: DEVICE_MEMORY_PAGES, shared: true });
    const wasm = await loadQxlWasm(memory, options.wasm);
    const view = new DataView(memory.buffer);
    const ram = QXL_RAM_OFFSET;
    view.setUint32(ram + QXLRam.MAGIC, QXL_RAM_MAGIC, true);
    initRing(wasm, CMD_RING_ADDR, QXL_COMMAND_RING_SIZE, QXLCommand.SIZE);
    initRing(wasm, CURSOR_RING_ADDR, QXL_CURSOR_RING_SIZE, QXLCommand.SIZE);
    initRing(wasm, RELEASE_RING_ADDR, QXL_RELEASE_RING_SIZE, RELEASE_ITEM_SIZE);
    const hdr = DEVICE_HEADER_OFFSET;
    view.setUint32(hdr + DeviceHeader.VERSION, DEVICE_LAYOUT_VERSION, true);
    view.setUint32(hdr + DeviceHeader.ARENA_START, ARENA_OFFSET, true);
    view.setUint32(hdr + DeviceHeader.ARENA_END, Region.ARENA_END, true);
    // Magic last, atomically: a thread attaching sees either nothing or a complete header.
    Atomics.store(new Int32Array(memory.buffer), (hdr + DeviceHeader.MAGIC) >> 2, DEVICE_MAGIC);
    log.debug(`created device: ${DEVICE_MEMORY_BYTES} bytes, arena ${ARENA_OFFSET}..${Region.ARENA_END}`);
    return new QxlDevice(memory, wasm);
  }

  /** Attaches to a device memory created by {@link create} (typically in another thread). */
  static async attach(memory: WebAssembly.Memory, options: QxlDeviceOptions = {}): Promise<QxlDevice> {
    const buffer: unknown = memory.buffer; // typed ArrayBuffer, but shared memories hand out a SharedArrayBuffer
    if (typeof SharedArrayBuffer === 'undefined' || !(buffer instanceof SharedArrayBuffer)) {
      throw new Error('qxl-device: expected a shared WebAssembly.Memory, got one backed by a non-shared ArrayBuffer');
    }
    if (buffer.byteLength !== DEVICE_MEMORY_BYTES) {
      throw new Error(`qxl-device: expected ${DEVICE_MEMORY_BYTES} bytes of device memory, got ${buffer.byteLength}`);
    }
    const magic = Atomics.load(new Int32Array(buffer), (DEVICE_HEADER_OFFSET + DeviceHeader.MAGIC) >> 2) >>> 0;
    if (magic !== DEVICE_MAGIC) {
      throw new Error(
        `qxl-device: expected device magic 0x${DEVICE_MAGIC.toString(16)} at ${DEVICE_HEADER_OFFSET}, got 0x${magic.toString(16)} (memory not made by QxlDevice.create?)`,
      );
    }
    const version = new DataView(buffer).getUint32(DEVICE_HEADER_OFFSET + DeviceHeader.VERSION, true);
    if (version !== DEVICE_LAYOUT_VERSION) {
      throw new Error(`qxl-device: expected layout version ${DEVICE_LAYOUT_VERSION}, got ${version}`);
    }
    const wasm = await loadQxlWasm(memory, options.wasm);
    return new QxlDevice(memory, wasm);
  }

  /** Reads a ring header word (see {@link SpiceRing}) atomically. */
  ringWord(ring: number, field: number): number {
    return Atomics.load(this.i32, (ring + field) >> 2) >>> 0;
  }

  /** Int32Array index of a ring's `prod` word (for Atomics.wait/waitAsync). */
  prodIndex(ring: number): number {
    return (ring + SpiceRing.PROD) >> 2;
  }

  /** Int32Array index of a ring's `cons` word. */
  consIndex(ring: number): number {
    return (ring + SpiceRing.CONS) >> 2;
  }

  /** True when [addr, addr + size) lies inside the data arena. */
  inArena(addr: number, size: number): boolean {
    return (
      Number.isSafeInteger(addr) &&
      Number.isSafeInteger(size) &&
      size >= 0 &&
      addr >= this.arenaStart &&
      addr + size <= this.arenaEnd
    );
  }
}

function initRing(wasm: QxlWasmExports, ring: number, items: number, itemSize: number): void {
  if (wasm.ringInit(ring, items, itemSize) !== 1) {
    throw new Error(`qxl-device: expected a power-of-two ring size, got ${items}`);
  }
}
