/**
 * The DAC end of v86's emulated Sound Blaster 16, inside the v86 worker
 * (v86's own speaker adapter needs an AudioContext, which a worker lacks).
 * v86's SB16 is pulled: it moves the guest's next DMA block to the DAC only
 * when the DAC asks (`dac-request-data`), and the guest paces itself by the
 * interrupts that follow. So this DAC asks on a wall-clock schedule, keeping
 * TARGET_AHEAD_MS of audio ahead of real time, and posts each block (float
 * stereo at the rate the guest set) straight to the SoundWorker's feed port.
 */
import { createLogger } from '../../util/logger.ts';
import type { PcmFeedMessage } from '../../sound/pcm-feed.ts';

const log = createLogger('sb16');

/** How far ahead of real time the DAC keeps the guest's audio, at least (a DMA block can add 128 ms: the feed keeps whole blocks). */
const TARGET_AHEAD_MS = 40;
const PUMP_MS = 5;

/** The v86 bus, as far as the DAC uses it. */
export interface DacBus {
  send(name: string, value?: unknown): void;
  register(name: string, fn: (value: never) => void, ctx: unknown): void;
}

export class Sb16Dac {
  private rate = 22050;
  private enabled = false;
  private port: MessagePort | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Wall-clock ms at which the audio sent so far ends, if played from when it arrived. */
  private aheadUntil = 0;
  framesOut = 0;

  constructor(private readonly bus: DacBus) {
    bus.register('dac-tell-sampling-rate', (rate: number) => {
      if (rate > 0) this.rate = rate;
    }, this);
    bus.register('dac-enable', () => this.setEnabled(true), this);
    bus.register('dac-disable', () => this.setEnabled(false), this);
    bus.register('dac-send-data', (data: [Float32Array, Float32Array]) => this.send(data), this);
    // What v86's speaker adapter says once it is up: the SB16 resets its mixer then.
    bus.send('speaker-has-initialized');
  }

  /** Where the audio goes (a SoundWorker feed); null: nowhere (the guest still runs, its DMA paced the same). */
  attach(port: MessagePort | null): void {
    this.port?.postMessage({ kind: 'end' } satisfies PcmFeedMessage);
    this.port = port;
  }

  private setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    this.enabled = on;
    log.debug(`guest ${on ? 'started' : 'stopped'} DMA playback at ${this.rate} Hz`);
    if (on) {
      this.aheadUntil = Date.now();
      this.timer ??= setInterval(() => this.pump(), PUMP_MS);
      this.pump();
    } else if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private pump(): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (this.aheadUntil < now) this.aheadUntil = now; // an underrun: start again from now
    if (this.aheadUntil - now < TARGET_AHEAD_MS) this.bus.send('dac-request-data');
  }

  private send([left, right]: [Float32Array, Float32Array]): void {
    this.aheadUntil = Math.max(this.aheadUntil, Date.now()) + (left.length * 1000) / this.rate;
    this.framesOut += left.length;
    if (!this.port) return;
    const m: PcmFeedMessage = { kind: 'f32', sampleRate: this.rate, channels: [left, right] };
    this.port.postMessage(m, [left.buffer as ArrayBuffer, right.buffer as ArrayBuffer]);
  }

  stop(): void {
    this.setEnabled(false);
    this.attach(null);
  }
}
