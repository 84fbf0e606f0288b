/**
 * What the playback channel plays: the sum of every sound input of the
 * session (the test tone, pushed PCM, Web Audio taps, an emulated sound
 * card), clipped to 16 bits. Playback runs while the mixer has inputs.
 */
import { PACKET_FRAMES, PLAYBACK_CHANNELS, type PcmSource } from './pcm.ts';

export class PcmMixer implements PcmSource {
  private readonly inputs = new Set<PcmSource>();
  private readonly scratch = new Int16Array(PACKET_FRAMES * PLAYBACK_CHANNELS);

  get size(): number {
    return this.inputs.size;
  }

  add(input: PcmSource): void {
    this.inputs.add(input);
  }

  delete(input: PcmSource): void {
    this.inputs.delete(input);
  }

  read(out: Int16Array): void {
    out.fill(0);
    for (const input of this.inputs) {
      input.read(this.scratch);
      for (let i = 0; i < out.length; i++) out[i] = Math.max(-32768, Math.min(32767, out[i]! + this.scratch[i]!));
    }
  }

  skip(frames: number): void {
    for (const input of this.inputs) input.skip(frames);
  }
}
