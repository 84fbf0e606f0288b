/** Messages common to every channel (spice-wire.md §4). */
import { WireReader, WireWriter } from './wire.ts';

export function encodeSetAck(generation: number, window: number): Uint8Array {
  return new WireWriter(8).u32(generation).u32(window).finish();
}

export function encodePing(id: number, timestamp: bigint): Uint8Array {
  return new WireWriter(12).u32(id).u64(timestamp).finish();
}

export function encodeDisconnecting(timeStamp: bigint, reason: number): Uint8Array {
  return new WireWriter(12).u64(timeStamp).u32(reason).finish();
}

export interface Notify {
  timeStamp: bigint;
  severity: number;
  visibility: number;
  what: number;
  message: string;
}

export function encodeNotify(n: Notify): Uint8Array {
  const text = new TextEncoder().encode(n.message);
  // spice-server counts and sends the terminating NUL.
  return new WireWriter(24 + text.byteLength + 1)
    .u64(n.timeStamp)
    .u32(n.severity)
    .u32(n.visibility)
    .u32(n.what)
    .u32(text.byteLength + 1)
    .bytes(text)
    .u8(0)
    .finish();
}

export function decodeAckSync(body: Uint8Array): { generation: number } {
  return { generation: new WireReader(body, 'ACK_SYNC').u32('generation') };
}

export function decodePong(body: Uint8Array): { id: number; timestamp: bigint } {
  const r = new WireReader(body, 'PONG');
  return { id: r.u32('id'), timestamp: r.u64('timestamp') };
}

export function decodeClientDisconnecting(body: Uint8Array): { timeStamp: bigint; reason: number } {
  const r = new WireReader(body, 'DISCONNECTING');
  return { timeStamp: r.u64('time_stamp'), reason: r.u32('reason') };
}
