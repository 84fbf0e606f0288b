/**
 * Audio that sources push into the SoundWorker: PCM at any rate, 1 or 2
 * channels, as float (Web Audio) or S16 (emulated sound cards) blocks,
 * arriving on a MessagePort straight from wherever it is made (the page,
 * an AudioWorklet, the v86 worker), so it never queues behind the page's
 * main thread on its way to the playback channel.
 *
 * A PcmFeed resamples to 48 kHz stereo (linear interpolation: sources are
 * mostly 44.1 or 48 kHz, and SPICE's Opus and spice-html5 take only 48 kHz)
 * keeps what clients hear current: when the producer stays ahead of the
 * playback clock, the audio it never drains below (its floor over
 * FLOOR_PERIOD_READS packets) beyond MAX_FEED_MS is dropped, oldest first,
 * and a burst beyond FEED_BURST_MS is cut at once. A floor rather than the
 * level itself, because producers such as an emulated sound card's DMA hand
 * over 100 ms or more in one block and then nothing until the next: the
 * level peaks after each block without the producer being ahead. When the
 * feed runs dry the packet is padded with silence.
 */
import { PACKET_FRAMES, PLAYBACK_CHANNELS, PLAYBACK_FREQUENCY, type PcmSource } from './pcm.ts';

/** One block of a feed, as posted on its port. `end` closes the feed. */
export type PcmFeedMessage =
  | { kind: 'f32'; sampleRate: number; channels: Float32Array[] }
  | { kind: 's16'; sampleRate: number; channelCount: number; samples: Int16Array }
  | { kind: 'end' };

/** Audio a feed never drains below, beyond this, is dropped, oldest first (two packets of slack over the 10 ms cadence and a producer's jitter). */
export const MAX_FEED_MS = 60;
const MAX_FRAMES = (PLAYBACK_FREQUENCY * MAX_FEED_MS) / 1000;
/** Reads over which a feed's floor is taken: half a second of packets. */
export const FLOOR_PERIOD_READS = 50;
/** A burst that leaves more than this queued is cut to it at once (bounds the delay until the floor catches it). */
export const FEED_BURST_MS = 400;
const BURST_FRAMES = (PLAYBACK_FREQUENCY * FEED_BURST_MS) / 1000;
/** The ring holds a second: room for a producer's burst before the trim. */
const RING_FRAMES = PLAYBACK_FREQUENCY;

export class PcmFeed implements PcmSource {
  private readonly ring = new Int16Array(RING_FRAMES * PLAYBACK_CHANNELS);
  private head = 0; // next frame to read
  private size = 0; // frames held
  /**
   * Resampler state: where the next output frame falls, in input frames after
   * `last` (the newest input frame seen); 1 = exactly on the next input frame.
   */
  private pos = 1;
  private last: [number, number] = [0, 0];
  framesIn = 0;
  /** Wall-clock ms of the latest block (0: none yet). */
  lastPushAt = 0;
  framesDropped = 0;
  underruns = 0;
  /** The least held after a read in this floor period, and the reads so far in it. */
  private floor = Infinity;
  private reads = 0;

  constructor(readonly name: string) {}

  get bufferedFrames(): number {
    return this.size;
  }

  /** Takes one block; throws on a malformed one, saying what it expected. */
  push(m: Exclude<PcmFeedMessage, { kind: 'end' }>): void {
    if (!(m.sampleRate >= 8000 && m.sampleRate <= 192_000)) {
      throw new Error(`audio feed ${this.name}: expected a sample rate of 8000..192000 Hz, got ${m.sampleRate}`);
    }
    this.lastPushAt = Date.now();
    if (m.kind === 'f32') {
      const [l, r = l] = m.channels;
      if (!l) throw new Error(`audio feed ${this.name}: expected 1 or 2 channels of samples, got none`);
      this.resample(l.length, m.sampleRate, (i) => [l[i]! * 32767, r![i]! * 32767]);
    } else {
      const n = m.channelCount;
      if (n !== 1 && n !== 2) throw new Error(`audio feed ${this.name}: expected 1 or 2 channels, got ${n}`);
      const s = m.samples;
      this.resample(Math.floor(s.length / n), m.sampleRate, (i) => [s[i * n]!, s[i * n + n - 1]!]);
    }
    this.trim();
  }

  /**
   * Linear interpolation from `rate` to 48 kHz, continuing across blocks (an
   * output frame between a block's last input and the next block's first
   * waits for that block). At 48 kHz frames are copied as they are.
   */
  private resample(frames: number, rate: number, frame: (i: number) => [number, number]): void {
    this.framesIn += frames;
    if (rate === PLAYBACK_FREQUENCY) {
      for (let i = 0; i < frames; i++) {
        const [l, r] = frame(i);
        this.put(l, r);
      }
      return;
    }
    const step = rate / PLAYBACK_FREQUENCY;
    let prev = this.last;
    let pos = this.pos;
    for (let i = 0; i < frames; i++) {
      const cur = frame(i);
      // Output frames between prev (pos 0) and cur (pos 1).
      while (pos <= 1) {
        this.put(prev[0] + (cur[0] - prev[0]) * pos, prev[1] + (cur[1] - prev[1]) * pos);
        pos += step;
      }
      pos -= 1;
      prev = cur;
    }
    this.pos = pos;
    this.last = prev;
  }

  private put(l: number, r: number): void {
    if (this.size === RING_FRAMES) this.drop(1);
    const at = ((this.head + this.size) % RING_FRAMES) * PLAYBACK_CHANNELS;
    this.ring[at] = Math.max(-32768, Math.min(32767, Math.round(l)));
    this.ring[at + 1] = Math.max(-32768, Math.min(32767, Math.round(r)));
    this.size++;
  }

  /** Cuts a burst: at most BURST_FRAMES stay queued. */
  private trim(): void {
    if (this.size > BURST_FRAMES) this.drop(this.size - BURST_FRAMES);
  }

  private drop(frames: number): void {
    this.head = (this.head + frames) % RING_FRAMES;
    this.size -= frames;
    this.framesDropped += frames;
  }

  /** After a read: at the end of each floor period, a producer that stayed ahead loses what it never let drain. */
  private trackFloor(): void {
    this.floor = Math.min(this.floor, this.size);
    if (++this.reads < FLOOR_PERIOD_READS) return;
    if (this.floor > MAX_FRAMES) this.drop(Math.min(this.size, this.floor - MAX_FRAMES));
    this.floor = Infinity;
    this.reads = 0;
  }

  /** The next packet into `out`; silence where the feed ran dry. */
  read(out: Int16Array): void {
    const frames = Math.min(PACKET_FRAMES, out.length / PLAYBACK_CHANNELS);
    const have = Math.min(frames, this.size);
    if (have < frames && this.framesIn > 0) this.underruns++;
    for (let f = 0; f < frames; f++) {
      for (let c = 0; c < PLAYBACK_CHANNELS; c++) {
        out[f * PLAYBACK_CHANNELS + c] = f < have ? this.ring[((this.head + f) % RING_FRAMES) * PLAYBACK_CHANNELS + c]! : 0;
      }
    }
    this.head = (this.head + have) % RING_FRAMES;
    this.size -= have;
    this.trackFloor();
  }

  skip(frames: number): void {
    const n = Math.min(frames, this.size);
    this.head = (this.head + n) % RING_FRAMES;
    this.size -= n;
  }
}
