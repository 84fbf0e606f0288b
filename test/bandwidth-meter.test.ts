import { describe, expect, it } from 'vitest';
import { BandwidthMeter, LOW_BANDWIDTH_BPS } from '../src/server/bandwidth-meter.ts';

describe('BandwidthMeter', () => {
  it('has no estimate while the link keeps up', () => {
    const m = new BandwidthMeter();
    for (let t = 0; t < 2000; t += 50) m.sample(t, t * 10_000, false);
    expect(m.bitsPerSecond).toBeNull();
    expect(m.isLow()).toBe(false);
  });

  it('measures what drains while backed up, and forgets it once the link keeps up again', () => {
    const m = new BandwidthMeter();
    // 64 KiB/s = 524288 bit/s while backed up.
    for (let t = 0; t <= 2000; t += 20) m.sample(t, (t / 1000) * 65536, true);
    expect(m.bitsPerSecond).toBeCloseTo(524288, -3);
    expect(m.isLow()).toBe(true);
    expect(m.isLow(100_000)).toBe(false);
    m.sample(3000, 200_000, false);
    expect(m.isLow()).toBe(true); // recently backed up: still slow
    m.sample(5100, 200_000, false);
    expect(m.bitsPerSecond).toBeNull();
  });

  it('a fast link that backs up briefly stays above the threshold', () => {
    const m = new BandwidthMeter();
    for (let t = 0; t <= 600; t += 20) m.sample(t, (t / 1000) * 50_000_000, true); // 400 Mbit/s
    expect(m.bitsPerSecond! > LOW_BANDWIDTH_BPS).toBe(true);
    expect(m.isLow()).toBe(false);
  });
});
