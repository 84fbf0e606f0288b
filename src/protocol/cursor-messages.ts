/** Cursor channel message codecs (spice-wire.md §10). */
import { CursorFlags } from './constants.ts';
import { WireWriter } from './wire.ts';

export interface CursorShape {
  unique: number;
  type: number;
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  /** For ALPHA: w·h little-endian ARGB words (bytes B,G,R,A). */
  data: Uint8Array;
}

/** SpiceCursor: u16 flags, then (unless NONE) the 17-byte header and the shape data to the end. */
function writeCursor(w: WireWriter, shape: CursorShape | null): void {
  if (!shape) {
    w.u16(CursorFlags.NONE);
    return;
  }
  w.u16(0);
  w.u64(shape.unique).u8(shape.type).u16(shape.width).u16(shape.height).u16(shape.hotX).u16(shape.hotY);
  w.bytes(shape.data);
}

export interface CursorInit {
  x: number;
  y: number;
  trailLength: number;
  trailFrequency: number;
  visible: boolean;
  shape: CursorShape | null;
}

export function encodeCursorInit(c: CursorInit): Uint8Array {
  const w = new WireWriter(32 + (c.shape?.data.byteLength ?? 0));
  w.i16(c.x).i16(c.y).u16(c.trailLength).u16(c.trailFrequency).u8(c.visible ? 1 : 0);
  writeCursor(w, c.shape);
  return w.finish();
}

/** SET. Never send it with no shape: spice-html5 throws on flags NONE; use HIDE. */
export function encodeCursorSet(x: number, y: number, visible: boolean, shape: CursorShape): Uint8Array {
  const w = new WireWriter(24 + shape.data.byteLength);
  w.i16(x).i16(y).u8(visible ? 1 : 0);
  writeCursor(w, shape);
  return w.finish();
}

export function encodeCursorMove(x: number, y: number): Uint8Array {
  return new WireWriter(4).i16(x).i16(y).finish();
}
