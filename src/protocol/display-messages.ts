/** Display channel message codecs (spice-wire.md §6). */
import { BitmapFlags, BitmapFormat, ImageType, Rop } from './constants.ts';
import { ProtocolError, WireReader, WireWriter } from './wire.ts';

/** SPICE Rect: top, left, bottom, right; bottom and right exclusive. */
export interface Rect {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

export function writeRect(w: WireWriter, r: Rect): void {
  w.i32(r.top).i32(r.left).i32(r.bottom).i32(r.right);
}

export interface SurfaceCreate {
  surfaceId: number;
  width: number;
  height: number;
  format: number;
  flags: number;
}

export function encodeSurfaceCreate(s: SurfaceCreate): Uint8Array {
  return new WireWriter(20).u32(s.surfaceId).u32(s.width).u32(s.height).u32(s.format).u32(s.flags).finish();
}

export function encodeSurfaceDestroy(surfaceId: number): Uint8Array {
  return new WireWriter(4).u32(surfaceId).finish();
}

/** DisplayBase with clip NONE: 21 bytes. */
function writeDisplayBase(w: WireWriter, surfaceId: number, box: Rect): void {
  w.u32(surfaceId);
  writeRect(w, box);
  w.u8(0); // clip NONE
}

const DRAW_COPY_FIXED = 21 + 36;
const IMAGE_DESCRIPTOR_SIZE = 18;
const BITMAP_HEADER_SIZE = 18;

export interface BitmapImage {
  id: number;
  width: number;
  height: number;
  /** B,G,R,x bytes, rows top to bottom, stride = 4·width (spice-html5 ignores padding). */
  pixels: Uint8Array;
}

/** A SpiceImage: the descriptor's type, size and id, and the bytes after the descriptor. */
export interface SpiceImage {
  id: number;
  type: number;
  width: number;
  height: number;
  /**
   * What follows the 18-byte descriptor, in two parts the message encoder
   * writes straight into the message (no intermediate join): the bitmap
   * header or `u32 data_size`, then the pixels or the codec's stream.
   */
  head: Uint8Array;
  data: Uint8Array;
}

/** Bytes after the descriptor of an image. */
export function imagePayloadSize(image: SpiceImage): number {
  return image.head.byteLength + image.data.byteLength;
}

/** A BITMAP image: 32-bit, top-down, stride = 4·width (spice-html5 ignores stride padding). */
export function bitmapImage(image: BitmapImage): SpiceImage {
  const { width, height, pixels } = image;
  const stride = width * 4;
  if (pixels.byteLength !== stride * height) {
    throw new ProtocolError(`bitmap ${width}x${height}: expected ${stride * height} pixel bytes, got ${pixels.byteLength}`);
  }
  const header = new WireWriter(BITMAP_HEADER_SIZE)
    .u8(BitmapFormat._32BIT)
    .u8(BitmapFlags.TOP_DOWN)
    .u32(width)
    .u32(height)
    .u32(stride)
    .u32(0) // no palette
    .finish();
  return { id: image.id, type: ImageType.BITMAP, width, height, head: header, data: pixels };
}

/** An LZ_RGB, QUIC or LZ4 image: `u32 data_size` then the codec's stream. */
export function streamImage(id: number, type: number, width: number, height: number, stream: Uint8Array): SpiceImage {
  const size = new WireWriter(4).u32(stream.byteLength).finish();
  return { id, type, width, height, head: size, data: stream };
}

/**
 * DRAW_COPY with the image placed straight after the fixed part, src_area =
 * the whole image, box the same size (spice-html5 draws the image unscaled at
 * the box's top-left).
 */
export function encodeDrawCopy(surfaceId: number, left: number, top: number, image: SpiceImage): Uint8Array {
  const { width, height } = image;
  const w = new WireWriter(DRAW_COPY_FIXED + IMAGE_DESCRIPTOR_SIZE + imagePayloadSize(image));
  writeDisplayBase(w, surfaceId, { top, left, bottom: top + height, right: left + width });
  w.u32(DRAW_COPY_FIXED); // src_bitmap pointer: the image follows the fixed part
  writeRect(w, { top: 0, left: 0, bottom: height, right: width });
  w.u16(Rop.OP_PUT).u8(0); // rop, scale_mode
  w.u8(0).i32(0).i32(0).u32(0); // mask: flags, pos, bitmap = none
  w.u64(image.id).u8(image.type).u8(0).u32(width).u32(height); // SpiceImage descriptor
  w.bytes(image.head).bytes(image.data);
  return w.finish();
}

/** DRAW_COPY of a raw 32-bit top-down BITMAP. */
export function encodeDrawCopyBitmap(surfaceId: number, left: number, top: number, image: BitmapImage): Uint8Array {
  return encodeDrawCopy(surfaceId, left, top, bitmapImage(image));
}

/** DRAW_FILL with a solid brush, clip NONE, no mask: 41 bytes. */
export function encodeDrawFillSolid(surfaceId: number, box: Rect, color: number): Uint8Array {
  const w = new WireWriter(41);
  writeDisplayBase(w, surfaceId, box);
  w.u8(1).u32(color); // brush SOLID
  w.u16(Rop.OP_PUT);
  w.u8(0).i32(0).i32(0).u32(0);
  return w.finish();
}

/** COPY_BITS: copy the box-sized area at (srcX, srcY) to the box. */
export function encodeCopyBits(surfaceId: number, box: Rect, srcX: number, srcY: number): Uint8Array {
  const w = new WireWriter(29);
  writeDisplayBase(w, surfaceId, box);
  w.i32(srcX).i32(srcY);
  return w.finish();
}

export interface MonitorConfig {
  id: number;
  surfaceId: number;
  width: number;
  height: number;
  x: number;
  y: number;
  flags: number;
}

export function encodeMonitorsConfig(maxAllowed: number, heads: readonly MonitorConfig[]): Uint8Array {
  const w = new WireWriter(4 + 28 * heads.length).u16(heads.length).u16(maxAllowed);
  for (const h of heads) w.u32(h.id).u32(h.surfaceId).u32(h.width).u32(h.height).u32(h.x).u32(h.y).u32(h.flags);
  return w.finish();
}

export interface DisplayInit {
  pixmapCacheId: number;
  pixmapCacheSize: bigint;
  glzDictionaryId: number;
  glzDictionaryWindowSize: number;
}

export function decodeDisplayInit(body: Uint8Array): DisplayInit {
  const r = new WireReader(body, 'DISPLAY_INIT');
  return {
    pixmapCacheId: r.u8('pixmap_cache_id'),
    pixmapCacheSize: r.i64('pixmap_cache_size'),
    glzDictionaryId: r.u8('glz_dictionary_id'),
    glzDictionaryWindowSize: r.i32('glz_dictionary_window_size'),
  };
}

export function encodeDisplayInit(d: DisplayInit): Uint8Array {
  return new WireWriter(14)
    .u8(d.pixmapCacheId)
    .i64(d.pixmapCacheSize)
    .u8(d.glzDictionaryId)
    .i32(d.glzDictionaryWindowSize)
    .finish();
}

/** SPICE_VIDEO_CODEC_TYPE_MJPEG. */
export const VideoCodec = { MJPEG: 1 } as const;
/** STREAM_CREATE flags: TOP_DOWN, or spice-gtk shows frames upside down. */
export const StreamFlags = { TOP_DOWN: 1 } as const;

export interface StreamCreate {
  id: number;
  surfaceId: number;
  codec: number;
  /** Frame size, source size and destination (all the same: spice-html5 draws unscaled). */
  width: number;
  height: number;
  dest: Rect;
}

/** STREAM_CREATE with clip NONE: 51 bytes. */
export function encodeStreamCreate(s: StreamCreate): Uint8Array {
  const w = new WireWriter(51);
  w.u32(s.surfaceId).u32(s.id).u8(StreamFlags.TOP_DOWN).u8(s.codec).u64(0);
  w.u32(s.width).u32(s.height).u32(s.width).u32(s.height);
  writeRect(w, s.dest);
  w.u8(0); // clip NONE
  return w.finish();
}

/** STREAM_DATA: id, the frame's media time, then one complete JPEG. */
export function encodeStreamData(id: number, mmTime: number, frame: Uint8Array): Uint8Array {
  return new WireWriter(12 + frame.byteLength).u32(id).u32(mmTime).u32(frame.byteLength).bytes(frame).finish();
}

export function encodeStreamDestroy(id: number): Uint8Array {
  return new WireWriter(4).u32(id).finish();
}
