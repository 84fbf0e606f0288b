/**
 * Video streams (spice-server's stream detection, display-channel.cpp /
 * video-stream.cpp): an area redrawn again and again — at least 20 updates,
 * each within 200 ms of the last, covering at least 96x96 — becomes an MJPEG
 * stream. Its updates then go out as JPEG frames instead of lossless images;
 * one encode runs at a time and always takes the area's latest content, so a
 * slow encoder skips frames rather than falling behind. A second without
 * updates ends the stream, and the area is redrawn losslessly.
 */

/** The `--streaming` choices: never, any area that qualifies, or only photo-like ones. */
export const STREAMING_MODES = ['off', 'all', 'filter'] as const;
export type StreamingMode = (typeof STREAMING_MODES)[number];

export interface StreamRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export const STREAM_DETECT = {
  /** Updates of the same area before it becomes a stream. */
  minUpdates: 20,
  /** Longest gap between two updates that still counts as "again". */
  maxGapMs: 200,
  minWidth: 96,
  minHeight: 96,
  /** A stream with no update for this long ends. */
  idleMs: 1000,
  /** spice-server uses stream ids 0..63. */
  maxStreams: 64,
} as const;

interface Candidate {
  rect: StreamRect;
  updates: number;
  last: number;
}

export class VideoStream {
  lastUpdate: number;
  frames = 0;
  /** The still picture was sent again after the updates stopped. */
  settledSent = false;

  constructor(
    readonly id: number,
    readonly rect: StreamRect,
    now: number,
  ) {
    this.lastUpdate = now;
  }

  covers(r: StreamRect): boolean {
    return r.left >= this.rect.left && r.top >= this.rect.top && r.left + r.width <= this.rect.left + this.rect.width && r.top + r.height <= this.rect.top + this.rect.height;
  }
}

const same = (a: StreamRect, b: StreamRect): boolean =>
  a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;

export class StreamDetector {
  mode: StreamingMode = 'filter';
  readonly streams = new Map<number, VideoStream>();
  private candidates: Candidate[] = [];

  /**
   * Notes an update of `rect`. Returns the stream it belongs to (existing or
   * just started), or null when it is an ordinary update. `photoLike` tells
   * whether the area's content suits lossy coding (`filter` mode needs it).
   */
  update(rect: StreamRect, now: number, photoLike: boolean): { stream: VideoStream; started: boolean } | null {
    if (this.mode === 'off') return null;
    for (const s of this.streams.values()) {
      if (s.covers(rect)) {
        s.lastUpdate = now;
        return { stream: s, started: false };
      }
    }
    if (rect.width < STREAM_DETECT.minWidth || rect.height < STREAM_DETECT.minHeight) return null;
    this.candidates = this.candidates.filter((c) => now - c.last <= STREAM_DETECT.maxGapMs);
    let c = this.candidates.find((k) => same(k.rect, rect));
    if (!c) {
      c = { rect: { ...rect }, updates: 0, last: now };
      this.candidates.push(c);
      if (this.candidates.length > 32) this.candidates.shift();
    }
    c.updates++;
    c.last = now;
    if (c.updates < STREAM_DETECT.minUpdates || (this.mode === 'filter' && !photoLike)) return null;
    const id = this.freeId();
    if (id === null) return null;
    this.candidates = this.candidates.filter((k) => k !== c);
    const stream = new VideoStream(id, c.rect, now);
    this.streams.set(id, stream);
    return { stream, started: true };
  }

  /** Streams without updates for `idleMs`: removed and returned, for the caller to end. */
  expire(now: number): VideoStream[] {
    const ended: VideoStream[] = [];
    for (const s of this.streams.values()) {
      if (now - s.lastUpdate >= STREAM_DETECT.idleMs) {
        this.streams.delete(s.id);
        ended.push(s);
      }
    }
    return ended;
  }

  /** Ends every stream (surface recreated, mode switched off). */
  clear(): VideoStream[] {
    const all = [...this.streams.values()];
    this.streams.clear();
    this.candidates = [];
    return all;
  }

  private freeId(): number | null {
    for (let id = 0; id < STREAM_DETECT.maxStreams; id++) if (!this.streams.has(id)) return id;
    return null;
  }
}
