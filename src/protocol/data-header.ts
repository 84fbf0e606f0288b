/**
 * Data headers after the link stage (spice-wire.md §3): the 6-byte mini header
 * (both real clients use it) and the 18-byte full header.
 */
import { WireReader, WireWriter } from './wire.ts';

export const MINI_HEADER_SIZE = 6;
export const FULL_HEADER_SIZE = 18;

export interface DataHeader {
  type: number;
  size: number;
  /** Only present with the full header. */
  serial?: bigint;
}

export function decodeMiniHeader(bytes: Uint8Array): DataHeader {
  const r = new WireReader(bytes, 'SpiceMiniDataHeader');
  return { type: r.u16('type'), size: r.u32('size') };
}

export function encodeMiniHeader(type: number, size: number): Uint8Array {
  return new WireWriter(MINI_HEADER_SIZE).u16(type).u32(size).finish();
}

export function decodeFullHeader(bytes: Uint8Array): DataHeader {
  const r = new WireReader(bytes, 'SpiceDataHeader');
  const serial = r.u64('serial');
  const type = r.u16('type');
  const size = r.u32('size');
  r.u32('sub_list');
  return { serial, type, size };
}

export function encodeFullHeader(serial: bigint, type: number, size: number): Uint8Array {
  return new WireWriter(FULL_HEADER_SIZE).u64(serial).u16(type).u32(size).u32(0).finish();
}

/**
 * One whole message, header and body in a single buffer: a transport that
 * frames each send (a WebSocket message) must never end a frame on a header,
 * since clients that reassemble per frame drop such a message.
 * `serial` selects the full header; without it, the mini header.
 */
export function encodeMessage(type: number, body: Uint8Array, serial?: bigint): Uint8Array {
  const headerSize = serial === undefined ? MINI_HEADER_SIZE : FULL_HEADER_SIZE;
  const w = new WireWriter(headerSize + body.byteLength);
  if (serial === undefined) w.u16(type).u32(body.byteLength);
  else w.u64(serial).u16(type).u32(body.byteLength).u32(0);
  return w.bytes(body).finish();
}
