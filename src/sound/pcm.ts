/**
 * The one audio format every sound source produces and the playback channel
 * sends: 48 kHz, 2 channels, signed 16-bit little-endian, interleaved — what
 * spice-server's playback channel uses and the only rate/layout spice-html5's
 * Opus player takes. Packets are 10 ms (480 frames): spice-gtk's Opus decoder
 * holds exactly 480 samples per channel, and spice-html5 expects DATA times
 * 10 ms apart.
 */
export const PLAYBACK_FREQUENCY = 48_000;
export const PLAYBACK_CHANNELS = 2;
export const PACKET_MS = 10;
export const PACKET_FRAMES = (PLAYBACK_FREQUENCY * PACKET_MS) / 1000;
/** Bytes of one raw packet (480 frames × 2 channels × 2 bytes). */
export const PACKET_BYTES = PACKET_FRAMES * PLAYBACK_CHANNELS * 2;

/** Where the playback channel takes its samples from, one 10 ms packet at a time. */
export interface PcmSource {
  /** Fills `out` (PACKET_FRAMES interleaved stereo frames); silence where the source has nothing. */
  read(out: Int16Array): void;
  /** `frames` of audio were skipped (the channel fell behind): drop them so what follows stays current. */
  skip(frames: number): void;
}
