/**
 * What bench/av-sync.ts makes of spice-gtk's media times (see AvEvents): the
 * session clock at any moment, each audio packet's DATA time, the flashes
 * spice-gtk drew and the beeps it received, paired.
 */
import type { AvEvents } from '../e2e/spice-gtk.ts';

/** The scene flashes (and beeps) this often. */
export const FLASH_EVERY_MS = 500;
/** Probe level (mean of R, G, B) above which the patch shows white; the moving picture stays below 180. */
export const WHITE = 220;
/** Packets without an onset (at the script's 1/8 of full scale) before one that starts a beep. */
const QUIET_PACKETS = 20;
/** A flash and a beep further apart than this are not a pair (half the flash period). */
const PAIR_WINDOW_MS = FLASH_EVERY_MS / 2;
/** Raw 48 kHz stereo S16: bytes per ms of a packet. */
const BYTES_PER_MS = 48 * 4;

export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** spice_session_get_mm_time() at monotonic time t, from the clock's settings (the last one at or before t). */
export function sessionClock(clock: Array<[number, number]>): (t: number) => number {
  return (t) => {
    let set: [number, number] | undefined;
    for (const c of clock) if (c[0] <= t) set = c;
    set ??= clock[0]!;
    return set[1] + Math.floor(t - set[0]);
  };
}

/**
 * Each packet's DATA time, counted on from the latest anchor at or before it
 * (back from the first one for those before), 10 ms per 1920 bytes: DATA
 * times are contiguous unless the server skipped packets. Where the next
 * anchor disagrees, the server skipped some in between, where is unknown:
 * those packets get NaN and count as a gap.
 */
export function packetTimes(ev: AvEvents): { times: number[]; gaps: number } {
  const msOf = (bytes: number): number => bytes / BYTES_PER_MS;
  const times: number[] = new Array<number>(ev.packets.length).fill(NaN);
  const anchors = [...ev.anchors].sort((a, b) => a[0] - b[0]);
  if (!anchors.length) throw new Error('av-sync: spice-gtk reported no playback anchors (no playback-get-delay)');
  let gaps = 0;
  for (let a = 0; a < anchors.length; a++) {
    const [k0, t0] = anchors[a]!;
    const next = anchors[a + 1];
    const start = a === 0 ? 0 : k0;
    const end = next ? next[0] : ev.packets.length;
    let t = t0;
    for (let k = k0; k > start; k--) t -= msOf(ev.packets[k - 1]![1]);
    const from = t;
    for (let k = start; k < end; k++) t += msOf(ev.packets[k]![1]);
    if (next && Math.abs(t - next[1]) > 1) {
      gaps++;
      continue;
    }
    t = from;
    for (let k = start; k < end; k++) {
      times[k] = t;
      t += msOf(ev.packets[k]![1]);
    }
  }
  return { times, gaps };
}

export interface Pair {
  /** The flash's STREAM_DATA time and the beep's sample time (media clock). */
  videoMm: number;
  audioMm: number;
  videoArrival: number;
  audioArrival: number;
  /** When the flash was drawn, on spice-gtk's clock and on the monotonic clock. */
  shownMm: number;
  shownAt: number;
  /** When a backend with the set delay plays the beep's onset (monotonic). */
  playedAt: number;
}

export interface AvSyncResult {
  pairs: Pair[];
  flashesShown: number;
  beeps: number;
  videoMargins: number[];
  audioMargins: number[];
  /** Stretches between anchors where the server skipped packets (their times are unknown). */
  anchorGaps: number;
}

/** Pairs each flash spice-gtk drew with the beep spice-gtk received nearest to it on the media clock. */
export function analyse(ev: AvEvents): AvSyncResult {
  const clock = sessionClock(ev.clock);
  const { times, gaps } = packetTimes(ev);
  const beeps: Array<{ mm: number; arrival: number; playedAt: number }> = [];
  let quiet = QUIET_PACKETS;
  ev.packets.forEach(([t, , onset], k) => {
    const mm = times[k]! + onset / 48;
    // The session clock reaches the onset's time this much after the packet came.
    if (onset >= 0 && quiet >= QUIET_PACKETS && Number.isFinite(mm)) beeps.push({ mm, arrival: t, playedAt: t + (mm - clock(t)) });
    quiet = onset >= 0 ? 0 : quiet + 1;
  });
  const frames = ev.frames.filter((f): f is [number, number, number] => f[1] !== null);
  const flashes: Array<{ mm: number; arrival: number; shownMm: number; shownAt: number }> = [];
  let white = true; // the first flash counts only after a redraw without one
  for (const [t, level] of ev.shown) {
    const isWhite = level > WHITE;
    if (isWhite && !white) {
      const now = clock(t);
      // The frame on screen: the latest that arrived with a time the clock has reached.
      let shown: [number, number, number] | undefined;
      for (const f of frames) if (f[0] <= t && f[1] <= now + 1 && (!shown || f[1] > shown[1])) shown = f;
      if (shown) flashes.push({ mm: shown[1], arrival: shown[0], shownMm: now, shownAt: t });
    }
    white = isWhite;
  }
  const pairs: Pair[] = [];
  for (const f of flashes) {
    let best: (typeof beeps)[number] | undefined;
    for (const b of beeps) if (!best || Math.abs(b.mm - f.mm) < Math.abs(best.mm - f.mm)) best = b;
    if (best && Math.abs(best.mm - f.mm) <= PAIR_WINDOW_MS) {
      pairs.push({
        videoMm: f.mm,
        audioMm: best.mm,
        videoArrival: f.arrival,
        audioArrival: best.arrival,
        shownMm: f.shownMm,
        shownAt: f.shownAt,
        playedAt: best.playedAt,
      });
    }
  }
  return {
    pairs,
    flashesShown: flashes.length,
    beeps: beeps.length,
    videoMargins: ev.frames.map((f) => f[2]),
    audioMargins: ev.packets.map(([t], k) => times[k]! - clock(t)).filter(Number.isFinite),
    anchorGaps: gaps,
  };
}
