import { describe, expect, it } from 'vitest';
import { analyse, packetTimes, sessionClock } from '../bench/av-sync-analysis.ts';
import type { AvEvents } from '../e2e/spice-gtk.ts';

/** 10 ms of raw 48 kHz stereo S16. */
const PACKET_BYTES = 1920;

/**
 * A synthetic run on a session clock reading 1000 + t: audio packet k has
 * DATA time 1100 + 10k and arrives at t = 10k + 3; stream frame j has media
 * time 1000 + 16j, arrives at 16j - 90 and is drawn at 16j + 1. Frames 38-43
 * show the flash; packet 50 holds a beep from its 240th frame (5 ms in).
 */
function run(): AvEvents {
  const packets: AvEvents['packets'] = [];
  for (let k = 0; k < 200; k++) packets.push([10 * k + 3, PACKET_BYTES, k === 50 ? 240 : k > 50 && k < 55 ? 0 : -1, k >= 50 && k < 55 ? 16000 : 0]);
  const frames: AvEvents['frames'] = [];
  const shown: AvEvents['shown'] = [];
  for (let j = 6; j < 120; j++) {
    frames.push([16 * j - 90, 1000 + 16 * j, 90]);
    shown.push([16 * j + 1, j >= 38 && j <= 43 ? 250 : 100]);
  }
  return { clock: [[0, 1000]], frames, shown, packets, anchors: [[0, 1100], [100, 2100]], drops: 0, epochOffset: 0 };
}

describe('A/V sync analysis (bench/av-sync.ts)', () => {
  it('reads the session clock from its latest setting', () => {
    const clock = sessionClock([
      [0, 1000],
      [500.4, 1490],
    ]);
    expect(clock(100.9)).toBe(1100);
    expect(clock(500)).toBe(1500);
    expect(clock(600)).toBe(1589);
  });

  it('pairs the flash with its beep: stamped, arrival and presented offsets, and margins', () => {
    const r = analyse(run());
    expect(r.flashesShown).toBe(1);
    expect(r.beeps).toBe(1);
    expect(r.pairs).toHaveLength(1);
    const p = r.pairs[0]!;
    expect(p.videoMm).toBe(1608);
    expect(p.audioMm).toBe(1605);
    expect(p.videoArrival - p.audioArrival).toBe(518 - 503);
    expect(p.shownMm - p.audioMm).toBe(4);
    // Played when the clock reaches the onset: 1605 - 1000 ms into the run.
    expect(p.playedAt).toBe(605);
    expect(new Set(r.videoMargins)).toEqual(new Set([90]));
    expect(new Set(r.audioMargins)).toEqual(new Set([97]));
    expect(r.anchorGaps).toBe(0);
  });

  it('gives packets between anchors that disagree (the server skipped some) no time, so their beeps are left out', () => {
    const ev = run();
    ev.anchors = [
      [0, 1100],
      [100, 2150],
    ];
    const { times, gaps } = packetTimes(ev);
    expect(gaps).toBe(1);
    expect(times.slice(0, 100).every(Number.isNaN)).toBe(true);
    expect(times[100]).toBe(2150);
    expect(times[199]).toBe(3140);
    const r = analyse(ev);
    expect(r.beeps).toBe(0);
    expect(r.pairs).toHaveLength(0);
    expect(r.audioMargins).toHaveLength(100);
  });

  it('leaves a flash without a beep within half the flash period unpaired', () => {
    const ev = run();
    // The beep 300 ms later on the media clock.
    for (const pk of ev.packets) pk[2] = -1;
    ev.packets[80]![2] = 240;
    const r = analyse(ev);
    expect(r.flashesShown).toBe(1);
    expect(r.beeps).toBe(1);
    expect(r.pairs).toHaveLength(0);
  });
});
