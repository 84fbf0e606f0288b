/**
 * Every offset and size of the virtual QXL device, declared once.
 *
 * Struct layouts follow spice-protocol's `spice/qxl_dev.h` and
 * `spice/ipc_ring.h` (all packed, little-endian). A "physical address" is a byte
 * offset into device memory; 0 means "none".
 *
 * Device memory map (the shared WebAssembly.Memory, 128 MiB):
 *
 * ```
 *   0x00000  WASM_RESERVED      64 KiB for the AssemblyScript module (stack, scratch)
 *   0x10000  QXL_RAM            QXLRam: magic, int_pending, int_mask, log_buf,
 *                               cmd_ring, cursor_ring, release_ring, ...
 *   0x12000  DEVICE_HEADER      our header: magic, version, arena bounds, pop scratch
 *   0x14000  ARENA              drawables, images, chunks, cursors
 *   ...      DEVICE_MEMORY_BYTES
 * ```
 */

import { BitmapFormat, ImageType } from '../protocol/constants.ts';

/** WebAssembly pages of device memory; must match asconfig.json's initial/maximum memory. */
export const DEVICE_MEMORY_PAGES = 4096;
/** Bytes of device memory (256 MiB). */
export const DEVICE_MEMORY_BYTES = DEVICE_MEMORY_PAGES * 65536;

const MiB = 1024 * 1024;
/** Largest primary surface the device supports (VBE modes beyond this are refused). */
export const MAX_SURFACE_WIDTH = 2560;
export const MAX_SURFACE_HEIGHT = 1600;
/** Bytes of one 32-bit surface of the largest size (16 000 KiB). */
export const MAX_SURFACE_BYTES = MAX_SURFACE_WIDTH * MAX_SURFACE_HEIGHT * 4;

/**
 * Fixed regions after the drawable arena, each owned by one thread:
 * - SURFACE: the RedWorker's primary surface (B,G,R,x rows, stride 4·width),
 *   which the encoders read in place;
 * - SOURCE: the framebuffer source's current frame and its mirror of what was
 *   pushed (each MAX_SURFACE_BYTES), for change detection in WASM;
 * - ENCODER: the RedWorker's encoder scratch: output bytes, then work memory
 *   (hash tables, models).
 */
export const Region = {
  ARENA_END: 128 * MiB,
  SURFACE: 128 * MiB,
  SURFACE_SIZE: 16 * MiB,
  SOURCE_FRAME: 144 * MiB,
  SOURCE_MIRROR: 160 * MiB,
  SOURCE_SIZE: 16 * MiB,
  ENCODER_OUT: 176 * MiB,
  ENCODER_OUT_SIZE: 32 * MiB,
  ENCODER_WORK: 208 * MiB,
  ENCODER_WORK_SIZE: 48 * MiB,
} as const;
/** Bytes at the start of memory kept for the AssemblyScript module. */
export const WASM_RESERVED_BYTES = 0x10000;

/** QXL command types (QXLCmdType). */
export const QxlCmdType = {
  NOP: 0,
  DRAW: 1,
  UPDATE: 2,
  CURSOR: 3,
  MESSAGE: 4,
  SURFACE: 5,
} as const;
export type QxlCmdType = (typeof QxlCmdType)[keyof typeof QxlCmdType];

/** Ring sizes from qxl_dev.h. */
export const QXL_COMMAND_RING_SIZE = 32;
export const QXL_CURSOR_RING_SIZE = 32;
export const QXL_RELEASE_RING_SIZE = 8;

/** Ring header (ipc_ring.h), then `items[num_items]`. */
export const SpiceRing = {
  NUM_ITEMS: 0,
  PROD: 4,
  NOTIFY_ON_PROD: 8,
  CONS: 12,
  NOTIFY_ON_CONS: 16,
  ITEMS: 20,
} as const;

/** QXLCommand: u64 data, u32 type, u32 padding. */
export const QXLCommand = { DATA: 0, TYPE: 8, PADDING: 12, SIZE: 16 } as const;
/** Release ring item: u64 release id. */
export const RELEASE_ITEM_SIZE = 8;

/** Bytes of a ring with `items` slots of `itemSize` bytes. */
export function ringBytes(items: number, itemSize: number): number {
  return SpiceRing.ITEMS + items * itemSize;
}

/** QXLRect: i32 top, left, bottom, right (16 bytes). */
export const QXLRect = { TOP: 0, LEFT: 4, BOTTOM: 8, RIGHT: 12, SIZE: 16 } as const;
/** QXLPoint: i32 x, y. */
export const QXLPoint = { X: 0, Y: 4, SIZE: 8 } as const;
/** QXLPoint16: i16 x, y. */
export const QXLPoint16 = { X: 0, Y: 2, SIZE: 4 } as const;

/** QXLRam (only the part up to and including the rings is used by us). */
export const QXLRam = {
  MAGIC: 0,
  INT_PENDING: 4,
  INT_MASK: 8,
  LOG_BUF: 12,
  LOG_BUF_SIZE: 4096,
  CMD_RING: 12 + 4096,
  CURSOR_RING: 12 + 4096 + ringBytes(QXL_COMMAND_RING_SIZE, QXLCommand.SIZE),
  RELEASE_RING:
    12 + 4096 + 2 * ringBytes(QXL_COMMAND_RING_SIZE, QXLCommand.SIZE),
  UPDATE_AREA:
    12 + 4096 + 2 * ringBytes(QXL_COMMAND_RING_SIZE, QXLCommand.SIZE) +
    ringBytes(QXL_RELEASE_RING_SIZE, RELEASE_ITEM_SIZE),
} as const;
/** QXL_RAM_MAGIC, "QXRA" read as a little-endian u32. */
export const QXL_RAM_MAGIC = 0x41525851;

/** Where QXLRam starts in device memory. */
export const QXL_RAM_OFFSET = WASM_RESERVED_BYTES;
/** Absolute addresses of the three rings. */
export const CMD_RING_ADDR = QXL_RAM_OFFSET + QXLRam.CMD_RING;
export const CURSOR_RING_ADDR = QXL_RAM_OFFSET + QXLRam.CURSOR_RING;
export const RELEASE_RING_ADDR = QXL_RAM_OFFSET + QXLRam.RELEASE_RING;

/** Our own device header (not part of QXL), after QXLRam. */
export const DEVICE_HEADER_OFFSET = QXL_RAM_OFFSET + 0x2000;
export const DeviceHeader = {
  MAGIC: 0,
  VERSION: 4,
  ARENA_START: 8,
  ARENA_END: 12,
  /** Scratch where the command-ring consumer's pop writes the item (16 bytes). */
  CMD_POP_OUT: 16,
  /** Scratch for the cursor-ring consumer's pop (16 bytes). */
  CURSOR_POP_OUT: 32,
  /** Scratch for the release-ring consumer's pop (8 bytes). */
  RELEASE_POP_OUT: 48,
  SIZE: 64,
} as const;
/** "SWQX" as a little-endian u32: marks memory initialised by QxlDevice.create(). */
export const DEVICE_MAGIC = 0x58515753;
export const DEVICE_LAYOUT_VERSION = 1;

/** Start of the data arena (drawables, images, cursors). */
export const ARENA_OFFSET = QXL_RAM_OFFSET + 0x4000;

/** QXLReleaseInfo: union { u64 id (in); u64 next (out) }. */
export const QXLReleaseInfo = { ID: 0, NEXT: 0, SIZE: 8 } as const;

/** QXLDataChunk: u32 data_size, u64 prev_chunk, u64 next_chunk, u8 data[]. */
export const QXLDataChunk = { DATA_SIZE: 0, PREV_CHUNK: 4, NEXT_CHUNK: 12, DATA: 20, SIZE: 20 } as const;

/** QXLClip: u32 type, u64 data. */
export const QXLClip = { TYPE: 0, DATA: 4, SIZE: 12 } as const;
/** SPICE_CLIP_TYPE_*. */
export const ClipType = { NONE: 0, RECTS: 1 } as const;

/** QXLQMask: u8 flags, QXLPoint pos, u64 bitmap. */
export const QXLQMask = { FLAGS: 0, POS: 1, BITMAP: 9, SIZE: 17 } as const;

/** QXLCopy (also QXLBlend): u64 src_bitmap, QXLRect src_area, u16 rop_descriptor, u8 scale_mode, QXLQMask mask. */
export const QXLCopy = {
  SRC_BITMAP: 0,
  SRC_AREA: 8,
  ROP_DESCRIPTOR: 24,
  SCALE_MODE: 26,
  MASK: 27,
  SIZE: 44,
} as const;

/** Size of the QXLDrawable union `u` (largest members: QXLOpaque, QXLText). */
export const QXL_DRAWABLE_UNION_SIZE = 60;

/** QXLDrawable. */
export const QXLDrawable = {
  RELEASE_INFO: 0,
  SURFACE_ID: 8,
  EFFECT: 12,
  TYPE: 13,
  SELF_BITMAP: 14,
  SELF_BITMAP_AREA: 15,
  BBOX: 31,
  CLIP: 47,
  MM_TIME: 59,
  SURFACES_DEST: 63,
  SURFACES_RECTS: 75,
  U: 123,
  SIZE: 123 + QXL_DRAWABLE_UNION_SIZE,
} as const;

/** QXL_DRAW_* (QXLDrawable.type). */
export const QxlDrawType = {
  NOP: 0,
  FILL: 1,
  OPAQUE: 2,
  COPY: 3,
  COPY_BITS: 4,
  BLEND: 5,
  BLACKNESS: 6,
  WHITENESS: 7,
  INVERS: 8,
  ROP3: 9,
  STROKE: 10,
  TEXT: 11,
  TRANSPARENT: 12,
  ALPHA_BLEND: 13,
} as const;

/** QXLEffectType. */
export const QxlEffect = {
  BLEND: 0,
  OPAQUE: 1,
  REVERT_ON_DUP: 2,
  BLACKNESS_ON_DUP: 3,
  WHITENESS_ON_DUP: 4,
  NOP_ON_DUP: 5,
  NOP: 6,
  OPAQUE_BRUSH: 7,
} as const;

/** SPICE_ROPD_* bits of rop_descriptor. */
export const Ropd = { OP_PUT: 1 << 3 } as const;
/** SPICE_IMAGE_SCALE_MODE_*. */
export const ScaleMode = { INTERPOLATE: 0, NEAREST: 1 } as const;

/** QXLImageDescriptor: u64 id, u8 type, u8 flags, u32 width, u32 height. */
export const QXLImageDescriptor = { ID: 0, TYPE: 8, FLAGS: 9, WIDTH: 10, HEIGHT: 14, SIZE: 18 } as const;

/** QXLBitmap: u8 format, u8 flags, u32 x (width), u32 y (height), u32 stride, u64 palette, u64 data (QXLDataChunk). */
export const QXLBitmap = { FORMAT: 0, FLAGS: 1, X: 2, Y: 6, STRIDE: 10, PALETTE: 14, DATA: 22, SIZE: 30 } as const;

/** QXLImage = descriptor followed by the bitmap (for BITMAP images). */
export const QXLImage = {
  DESCRIPTOR: 0,
  BITMAP: QXLImageDescriptor.SIZE,
  SIZE: QXLImageDescriptor.SIZE + QXLBitmap.SIZE,
} as const;

// The image types and bitmap formats are SPICE's own enums, shared with the wire.
export { BitmapFormat, ImageType };
/** QXL_IMAGE_GROUP_* (low 32 bits of an image id; the unique part is the high 32 bits). */
export const ImageGroup = { DRIVER: 0, DEVICE: 1, RED: 2, DRIVER_DONT_CACHE: 3 } as const;
/** QXLImageFlags (QXLImageDescriptor.flags). */
export const ImageFlags = { CACHE: 1 << 0, HIGH_BITS_SET: 1 << 1 } as const;
/** QXLBitmapFlags. */
export const BitmapFlags = { DIRECT: 1 << 0, UNSTABLE: 1 << 1, TOP_DOWN: 1 << 2 } as const;

/** Bits per pixel of each bitmap format (0 = unknown). */
export function bitmapFormatBpp(format: number): number {
  switch (format) {
    case BitmapFormat._1BIT_LE:
    case BitmapFormat._1BIT_BE:
      return 1;
    case BitmapFormat._4BIT_LE:
    case BitmapFormat._4BIT_BE:
      return 4;
    case BitmapFormat._8BIT:
    case BitmapFormat._8BIT_A:
      return 8;
    case BitmapFormat._16BIT:
      return 16;
    case BitmapFormat._24BIT:
      return 24;
    case BitmapFormat._32BIT:
    case BitmapFormat.RGBA:
      return 32;
    default:
      return 0;
  }
}

/** QXL_CURSOR_* (QXLCursorCmd.type). */
export const QxlCursorCmdType = { SET: 0, MOVE: 1, HIDE: 2, TRAIL: 3 } as const;

/** Bytes of QXLCursorCmd.device_data. */
export const QXL_CURSOR_DEVICE_DATA_SIZE = 128;

/**
 * QXLCursorCmd: release_info, u8 type, union u { set {QXLPoint16 position,
 * u8 visible, u64 shape}; trail {u16 length, u16 frequency}; QXLPoint16
 * position }, u8 device_data[128].
 */
export const QXLCursorCmd = {
  RELEASE_INFO: 0,
  TYPE: 8,
  U: 9,
  SET_POSITION: 9,
  SET_VISIBLE: 13,
  SET_SHAPE: 14,
  TRAIL_LENGTH: 9,
  TRAIL_FREQUENCY: 11,
  POSITION: 9,
  DEVICE_DATA: 22,
  SIZE: 22 + QXL_CURSOR_DEVICE_DATA_SIZE,
} as const;

/** QXLCursorHeader: u64 unique, u16 type, width, height, hot_spot_x, hot_spot_y. */
export const QXLCursorHeader = { UNIQUE: 0, TYPE: 8, WIDTH: 10, HEIGHT: 12, HOT_SPOT_X: 14, HOT_SPOT_Y: 16, SIZE: 18 } as const;

/** QXLCursor: header, u32 data_size, QXLDataChunk chunk. */
export const QXLCursor = {
  HEADER: 0,
  DATA_SIZE: QXLCursorHeader.SIZE,
  CHUNK: QXLCursorHeader.SIZE + 4,
  SIZE: QXLCursorHeader.SIZE + 4 + QXLDataChunk.SIZE,
} as const;

/** SPICE_CURSOR_TYPE_*. */
export const CursorType = { ALPHA: 0, MONO: 1, COLOR4: 2, COLOR8: 3, COLOR16: 4, COLOR24: 5, COLOR32: 6 } as const;
