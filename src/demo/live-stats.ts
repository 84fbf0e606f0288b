/**
 * Turns the session's cumulative counters (SessionHost.stats(), sampled about
 * once a second) into what the demo page shows: rates since the last sample
 * and the image codec mix. No DOM here, so unit tests can drive it.
 */
import type { SessionHostStats } from '../host/session-host.ts';
import type { Codec } from '../worker/image-encoder.ts';

/** The codecs in the order the page lists them. */
export const CODEC_ORDER: readonly Codec[] = ['lz', 'quic', 'lz4', 'jpeg', 'bitmap'];

/** The counters a summary needs (a subset of SessionHostStats). */
export type StatsSample = Pick<SessionHostStats, 'server'> & {
  worker: Pick<SessionHostStats['worker'], 'drawablesProcessed' | 'images' | 'streams' | 'displayBacklog'>;
};

export interface CodecShare {
  codec: Codec;
  images: number;
  /** 0..100 */
  percent: number;
}

export interface LiveSummary {
  clients: number;
  /** Drawables the RedWorker consumed per second (what the source redrew). */
  updatesPerSecond: number;
  /** Display bytes sent to all clients per second. */
  bytesPerSecond: number;
  /** Display bytes sent since the page started (clients still connected). */
  bytesTotal: number;
  /** Codec shares, most used first; empty before the first image. */
  codecs: CodecShare[];
  /** Over what the codec shares were counted. */
  codecWindow: 'recent' | 'total' | 'none';
  streamsActive: number;
  /** MJPEG frames per second over all streams. */
  streamFramesPerSecond: number;
}

/** How many samples back the "recent" codec mix reaches (about seconds). */
const CODEC_WINDOW = 5;

type CodecCounts = Record<Codec, number>;

export class LiveStatsTracker {
  private last: { at: number; drawables: number; frames: number; bytes: Map<number, number> } | null = null;
  private readonly codecHistory: CodecCounts[] = [];

  /** Feeds one sample taken at `at` (ms); returns the summary since the previous one. */
  update(s: StatsSample, at: number): LiveSummary {
    const w = s.worker;
    const bytes = new Map(w.displayBacklog.map((c) => [c.sessionId, c.bytes]));
    const frames = w.streams.framesSent;
    let sentBytes = 0;
    // Per client, so a client that leaves does not make the rate negative; a new
    // client's first bytes count in full (it connected within the last interval).
    for (const [id, b] of bytes) sentBytes += Math.max(0, b - (this.last?.bytes.get(id) ?? 0));
    const seconds = this.last ? Math.max(0.001, (at - this.last.at) / 1000) : 0;
    const rate = (delta: number): number => (seconds ? Math.max(0, delta) / seconds : 0);
    const summary: LiveSummary = {
      clients: s.server.clients,
      updatesPerSecond: this.last ? rate(w.drawablesProcessed - this.last.drawables) : 0,
      bytesPerSecond: this.last ? rate(sentBytes) : 0,
      bytesTotal: [...bytes.values()].reduce((a, b) => a + b, 0),
      ...this.codecMix(w.images.byCodec),
      streamsActive: w.streams.active,
      streamFramesPerSecond: this.last ? rate(frames - this.last.frames) : 0,
    };
    this.last = { at, drawables: w.drawablesProcessed, frames, bytes };
    return summary;
  }

  /** The mix over the last few samples when images went out then, else over everything so far. */
  private codecMix(total: CodecCounts): Pick<LiveSummary, 'codecs' | 'codecWindow'> {
    this.codecHistory.push({ ...total });
    if (this.codecHistory.length > CODEC_WINDOW + 1) this.codecHistory.shift();
    const oldest = this.codecHistory[0]!;
    const recent = {} as CodecCounts;
    for (const c of CODEC_ORDER) recent[c] = total[c] - oldest[c];
    const sum = (m: CodecCounts): number => CODEC_ORDER.reduce((a, c) => a + m[c], 0);
    if (sum(recent) > 0) return { codecs: shares(recent), codecWindow: 'recent' };
    if (sum(total) > 0) return { codecs: shares(total), codecWindow: 'total' };
    return { codecs: [], codecWindow: 'none' };
  }
}

function shares(counts: CodecCounts): CodecShare[] {
  const sum = CODEC_ORDER.reduce((a, c) => a + counts[c], 0);
  return CODEC_ORDER.filter((c) => counts[c] > 0)
    .map((codec) => ({ codec, images: counts[codec], percent: (100 * counts[codec]) / sum }))
    .sort((a, b) => b.images - a.images);
}

/** 1536 → "1.5 KB", binary multiples as the rest of the page uses. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1048576).toFixed(1)} MB`;
  return `${(n / 1073741824).toFixed(2)} GB`;
}

/** Bytes per second → "12 KB/s", "3.4 MB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}
