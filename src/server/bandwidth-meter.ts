/**
 * Estimates how fast a client really reads, from its own connection: while
 * the channel is backed up (bytes wait in the transport or messages in the
 * queue), what leaves the transport per second is the link's throughput. A
 * client that never backs up has headroom and no estimate (null). Used by the
 * image policy to decide when lossy JPEG is worth it (spice-server likewise
 * treats clients under 10 Mbit/s as low-bandwidth).
 */

/** Below this a client counts as low-bandwidth. */
export const LOW_BANDWIDTH_BPS = 10_000_000;
/** Shortest backed-up window that yields a measurement. */
const WINDOW_MS = 250;
/** A client that has not backed up for this long has headroom again. */
const FORGET_MS = 3000;

export class BandwidthMeter {
  /** Estimated throughput in bits per second while backed up; null while the link keeps up. */
  bitsPerSecond: number | null = null;
  private windowStart: { t: number; delivered: number } | null = null;
  private lastBackedUp = -Infinity;

  /**
   * Records the channel's state at time `now` (ms): `delivered`, the bytes
   * that have left the transport so far, and whether it is backed up.
   */
  sample(now: number, delivered: number, backedUp: boolean): void {
    if (!backedUp) {
      this.windowStart = null;
      if (this.bitsPerSecond !== null && now - this.lastBackedUp > FORGET_MS) this.bitsPerSecond = null;
      return;
    }
    this.lastBackedUp = now;
    if (!this.windowStart) {
      this.windowStart = { t: now, delivered };
      return;
    }
    const dt = now - this.windowStart.t;
    if (dt < WINDOW_MS) return;
    const bps = ((delivered - this.windowStart.delivered) * 8 * 1000) / dt;
    this.bitsPerSecond = this.bitsPerSecond === null ? bps : 0.7 * this.bitsPerSecond + 0.3 * bps;
    this.windowStart = { t: now, delivered };
  }

  /** True when the client reads slower than `thresholdBps`. */
  isLow(thresholdBps = LOW_BANDWIDTH_BPS): boolean {
    return this.bitsPerSecond !== null && this.bitsPerSecond < thresholdBps;
  }
}
