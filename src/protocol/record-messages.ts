/**
 * Record channel message codecs (spice-wire.md §13; spice-common spice.proto,
 * RecordChannel): the server's START, and the client's DATA, MODE and
 * START_MARK (with encoders for tests and tools that play the client).
 */
import { WireReader, WireWriter } from './wire.ts';

export interface RecordStart {
  channels: number;
  /** AudioFormat (S16). */
  format: number;
  frequency: number;
}

/** START: `u32 channels, u16 format, u32 frequency` (10 bytes): what the client should capture. */
export function encodeRecordStart(s: RecordStart): Uint8Array {
  return new WireWriter(10).u32(s.channels).u16(s.format).u32(s.frequency).finish();
}

export function decodeRecordStart(body: Uint8Array): RecordStart {
  const r = new WireReader(body, 'RECORD_START');
  return { channels: r.u32('channels'), format: r.u16('format'), frequency: r.u32('frequency') };
}

/** Client DATA: `u32 time`, then the captured audio (raw S16 or one Opus packet) to the end. */
export function decodeRecordData(body: Uint8Array): { time: number; data: Uint8Array } {
  const r = new WireReader(body, 'RECORD_DATA');
  return { time: r.u32('time'), data: r.rest() };
}

export function encodeRecordData(time: number, audio: Uint8Array): Uint8Array {
  return new WireWriter(4 + audio.byteLength).u32(time).bytes(audio).finish();
}

/** Client MODE: `u32 time, u16 mode` (AudioDataMode), optional mode data after it. */
export function decodeRecordMode(body: Uint8Array): { time: number; mode: number } {
  const r = new WireReader(body, 'RECORD_MODE');
  return { time: r.u32('time'), mode: r.u16('mode') };
}

export function encodeRecordMode(time: number, mode: number): Uint8Array {
  return new WireWriter(6).u32(time).u16(mode).finish();
}

/** Client START_MARK: `u32 time`, when its capture began. */
export function decodeRecordStartMark(body: Uint8Array): { time: number } {
  return { time: new WireReader(body, 'RECORD_START_MARK').u32('time') };
}
