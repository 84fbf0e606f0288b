import { describe, expect, it } from 'vitest';
import { STREAM_DETECT, StreamDetector } from '../src/worker/video-stream.ts';

const R = { left: 10, top: 20, width: 320, height: 240 };

describe('StreamDetector', () => {
  it('starts a stream after 20 updates of the same area no more than 200 ms apart', () => {
    const d = new StreamDetector();
    for (let i = 0; i < STREAM_DETECT.minUpdates - 1; i++) expect(d.update(R, i * 40, true)).toBeNull();
    const hit = d.update(R, 19 * 40, true)!;
    expect(hit.started).toBe(true);
    expect(hit.stream).toMatchObject({ id: 0, rect: R });
    // Later updates inside it belong to it.
    expect(d.update({ left: 20, top: 30, width: 100, height: 100 }, 800, true)).toEqual({ stream: hit.stream, started: false });
  });

  it('needs the updates close together, large enough, and (filter mode) photo-like', () => {
    const d = new StreamDetector();
    for (let i = 0; i < 30; i++) expect(d.update(R, i * 250, true)).toBeNull(); // too far apart
    for (let i = 0; i < 30; i++) expect(d.update({ ...R, width: 95 }, 10_000 + i * 10, true)).toBeNull(); // too narrow
    for (let i = 0; i < 30; i++) expect(d.update(R, 20_000 + i * 10, false)).toBeNull(); // text-like
    d.mode = 'all';
    let started = false;
    for (let i = 0; i < 30 && !started; i++) started = d.update(R, 30_000 + i * 10, false)?.started ?? false;
    expect(started).toBe(true);
    d.mode = 'off';
    expect(d.update({ left: 500, top: 0, width: 200, height: 200 }, 40_000, true)).toBeNull();
  });

  it('ends a stream a second after its last update', () => {
    const d = new StreamDetector();
    for (let i = 0; i < STREAM_DETECT.minUpdates; i++) d.update(R, i * 10, true);
    expect(d.streams.size).toBe(1);
    expect(d.expire(190 + STREAM_DETECT.idleMs - 1)).toEqual([]);
    expect(d.expire(190 + STREAM_DETECT.idleMs).map((s) => s.id)).toEqual([0]);
    expect(d.streams.size).toBe(0);
  });
});
