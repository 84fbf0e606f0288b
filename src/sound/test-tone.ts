/**
 * The test pattern's test signal (`--tone HZ`): a continuous sine of one
 * frequency on both channels, at -12 dBFS so it is clearly heard but never
 * harsh. The phase carries over between packets (and across skips), so a
 * listener hears one unbroken tone and an FFT sees one clean peak.
 */
import { PLAYBACK_CHANNELS, PLAYBACK_FREQUENCY, type PcmSource } from './pcm.ts';

/** The frequencies `--tone` accepts: audible, and below half the sample rate. */
export const TONE_MIN_HZ = 20;
export const TONE_MAX_HZ = 20_000;
const AMPLITUDE = 0.25 * 32767;

/** Checks a `--tone` value; returns it, or throws saying what was expected. */
export function parseToneHz(value: string | number): number {
  const hz = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(hz) || hz < TONE_MIN_HZ || hz > TONE_MAX_HZ) {
    throw new Error(`tone: expected a frequency in Hz from ${TONE_MIN_HZ} to ${TONE_MAX_HZ}, got "${value}"`);
  }
  return hz;
}

export class TestTone implements PcmSource {
  private phase = 0;
  private readonly step: number;

  constructor(readonly hz: number) {
    this.step = (2 * Math.PI * parseToneHz(hz)) / PLAYBACK_FREQUENCY;
  }

  read(out: Int16Array): void {
    for (let i = 0; i < out.length; i += PLAYBACK_CHANNELS) {
      const v = Math.round(AMPLITUDE * Math.sin(this.phase));
      for (let c = 0; c < PLAYBACK_CHANNELS; c++) out[i + c] = v;
      this.phase += this.step;
    }
    this.phase %= 2 * Math.PI;
  }

  skip(frames: number): void {
    this.phase = (this.phase + frames * this.step) % (2 * Math.PI);
  }
}
