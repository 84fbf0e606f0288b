/**
 * Opus for the playback channel, with WebCodecs' AudioEncoder (in the
 * SoundWorker): 48 kHz stereo, one 10 ms packet per 480-frame input, raw
 * Opus packets (no Ogg) — what spice-gtk's decoder (at most 480 samples per
 * channel per packet) and spice-html5's WebM muxer both take.
 */
import { AudioDataMode } from '../protocol/constants.ts';
import { createLogger } from '../util/logger.ts';
import { PACKET_FRAMES, PACKET_MS, PLAYBACK_CHANNELS, PLAYBACK_FREQUENCY } from './pcm.ts';
import type { PacketEncoder } from './playback-channel.ts';

const log = createLogger('opus');

/** Music-grade stereo (spice-server leaves libopus at its default, about this for 48 kHz stereo). */
export const OPUS_BITRATE = 96_000;

const CONFIG: AudioEncoderConfig = {
  codec: 'opus',
  sampleRate: PLAYBACK_FREQUENCY,
  numberOfChannels: PLAYBACK_CHANNELS,
  bitrate: OPUS_BITRATE,
  opus: { frameDuration: PACKET_MS * 1000, format: 'opus' },
};

/** Whether this thread can encode Opus (WebCodecs present and the codec configurable). */
export async function opusEncoderSupported(): Promise<boolean> {
  if (typeof AudioEncoder === 'undefined' || typeof AudioData === 'undefined') return false;
  try {
    return (await AudioEncoder.isConfigSupported(CONFIG)).supported === true;
  } catch {
    return false;
  }
}

export class WebCodecsOpusEncoder implements PacketEncoder {
  readonly mode = AudioDataMode.OPUS;
  private readonly encoder: AudioEncoder;
  /**
   * Media times of the packets given and not yet coded: output comes in input
   * order, one packet per input, so each takes the next time (the encoder's own
   * timestamps run on from its first input and would hide skipped audio).
   */
  private readonly times: number[] = [];
  private closed = false;
  /** Wall-clock ms spent in encode() calls, for the benchmark's CPU figure (the coding itself runs off-thread too). */
  busyMs = 0;

  constructor(private readonly emit: (time: number, packet: Uint8Array) => void) {
    this.encoder = new AudioEncoder({
      output: (chunk) => {
        const time = this.times.shift();
        if (time === undefined || this.closed) return;
        const packet = new Uint8Array(chunk.byteLength);
        chunk.copyTo(packet);
        this.emit(time, packet);
      },
      error: (e) => {
        log.error(`Opus encoder failed: ${e.message}; Opus clients get no audio until playback restarts`);
        this.closed = true;
      },
    });
    this.encoder.configure(CONFIG);
  }

  encode(pcm: Int16Array, time: number): void {
    if (this.closed) return;
    const t0 = performance.now();
    const data = new AudioData({
      format: 's16',
      sampleRate: PLAYBACK_FREQUENCY,
      numberOfFrames: PACKET_FRAMES,
      numberOfChannels: PLAYBACK_CHANNELS,
      timestamp: time * 1000,
      data: pcm.slice(),
    });
    this.times.push(time);
    this.encoder.encode(data);
    data.close();
    this.busyMs += performance.now() - t0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.encoder.close();
  }
}
