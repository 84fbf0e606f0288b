/**
 * Playback channel message codecs (spice-wire.md §13; spice-common spice.proto,
 * PlaybackChannel). One encoder per message; the decoders are the client's
 * side, for tests and tools.
 */
import { WireReader, WireWriter } from './wire.ts';

/** DATA: `u32 time` on the media clock, then one packet (raw S16 frames or one Opus packet) to the end. */
export function encodePlaybackData(time: number, audio: Uint8Array): Uint8Array {
  return new WireWriter(4 + audio.byteLength).u32(time).bytes(audio).finish();
}

export function decodePlaybackData(body: Uint8Array): { time: number; data: Uint8Array } {
  const r = new WireReader(body, 'PLAYBACK_DATA');
  return { time: r.u32('time'), data: r.rest() };
}

/** MODE: `u32 time, u16 mode` (AudioDataMode); the optional mode data is never sent. */
export function encodePlaybackMode(time: number, mode: number): Uint8Array {
  return new WireWriter(6).u32(time).u16(mode).finish();
}

export function decodePlaybackMode(body: Uint8Array): { time: number; mode: number } {
  const r = new WireReader(body, 'PLAYBACK_MODE');
  return { time: r.u32('time'), mode: r.u16('mode') };
}

export interface PlaybackStart {
  channels: number;
  /** AudioFormat (S16). */
  format: number;
  frequency: number;
  time: number;
}

/** START: `u32 channels, u16 format, u32 frequency, u32 time` (14 bytes). */
export function encodePlaybackStart(s: PlaybackStart): Uint8Array {
  return new WireWriter(14).u32(s.channels).u16(s.format).u32(s.frequency).u32(s.time).finish();
}

export function decodePlaybackStart(body: Uint8Array): PlaybackStart {
  const r = new WireReader(body, 'PLAYBACK_START');
  return { channels: r.u32('channels'), format: r.u16('format'), frequency: r.u32('frequency'), time: r.u32('time') };
}

/** VOLUME (SpiceMsgAudioVolume): `u8 nchannels, u16 volume[nchannels]`, 0..65535 per channel. */
export function encodeAudioVolume(volume: readonly number[]): Uint8Array {
  const w = new WireWriter(1 + 2 * volume.length).u8(volume.length);
  for (const v of volume) w.u16(v);
  return w.finish();
}

export function decodeAudioVolume(body: Uint8Array): number[] {
  const r = new WireReader(body, 'AUDIO_VOLUME');
  const n = r.u8('nchannels');
  return Array.from({ length: n }, (_, i) => r.u16(`volume[${i}]`));
}

/** MUTE (SpiceMsgAudioMute): `u8 mute`. */
export function encodeAudioMute(mute: boolean): Uint8Array {
  return new WireWriter(1).u8(mute ? 1 : 0).finish();
}

export function decodeAudioMute(body: Uint8Array): boolean {
  return new WireReader(body, 'AUDIO_MUTE').u8('mute') !== 0;
}

/** LATENCY: `u32 latency_ms`, only to clients with PlaybackCap.LATENCY. */
export function encodePlaybackLatency(latencyMs: number): Uint8Array {
  return new WireWriter(4).u32(latencyMs).finish();
}

export function decodePlaybackLatency(body: Uint8Array): number {
  return new WireReader(body, 'PLAYBACK_LATENCY').u32('latency_ms');
}
