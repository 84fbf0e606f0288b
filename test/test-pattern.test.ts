import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QxlConsumer, type QxlCursorCommand } from '../src/qxl/qxl-consumer.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { CursorType, QxlCursorCmdType } from '../src/qxl/qxl-layout.ts';
import { QxlProducer } from '../src/qxl/qxl-producer.ts';
import {
  BARCODE_BITS,
  BARCODE_CELL,
  TestPatternSource,
  movingBox,
  readBarcode,
  renderTestPattern,
  testPatternCursor,
} from '../src/sources/test-pattern.ts';
import { applyCopy } from './helpers/qxl-mirror.ts';

/** Index of the first differing pixel, or -1 (much faster than toEqual on big arrays). */
function firstDiff(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('renderTestPattern', () => {
  const W = 640;
  const H = 480;
  const render = (frame: number, w = W, h = H): Uint32Array => {
    const out = new Uint32Array(w * h);
    renderTestPattern(frame, w, h, out);
    return out;
  };

  it('is deterministic', () => {
    expect(firstDiff(render(17), render(17))).toBe(-1);
    expect(firstDiff(render(0, 33, 17), render(0, 33, 17))).toBe(-1);
    expect(firstDiff(render(17), render(18))).toBeGreaterThanOrEqual(0);
  });

  it('keeps the top byte zero (xRGB)', () => {
    const p = render(5);
    expect(p.every((x) => x >>> 24 === 0)).toBe(true);
  });

  it('encodes the frame number in the barcode', () => {
    for (const f of [0, 1, 2, 255, 256, 123456, 0x7fffffff, 0xffffffff]) expect(readBarcode(render(f), W)).toBe(f);
    const a = render(6);
    const b = render(7);
    const barcodeDiffers = (): boolean => {
      for (let y = 0; y < BARCODE_CELL; y++) {
        for (let x = 0; x < BARCODE_BITS * BARCODE_CELL; x++) if (a[y * W + x] !== b[y * W + x]) return true;
      }
      return false;
    };
    expect(barcodeDiffers()).toBe(true);
  });

  it('has a moving box and changing text lines, but most pixels stay', () => {
    const a = render(10);
    const b = render(11);
    let changed = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
    expect(changed).toBeGreaterThan(500);
    expect(changed).toBeLessThan(a.length / 10);
    const box = movingBox(11, W, H);
    expect(b[(box.y + 1) * W + box.x + 1]).toBe(b[(box.y + box.size - 2) * W + box.x + box.size - 2]);
    expect(movingBox(11, W, H)).not.toEqual(movingBox(10, W, H));
  });

  it('rejects bad arguments', () => {
    expect(() => renderTestPattern(0, 10, 10, new Uint32Array(99))).toThrow(/expected out to hold at least 100 pixels, got 99/);
    expect(() => renderTestPattern(-1, 10, 10, new Uint32Array(100))).toThrow(/non-negative integer frame/);
  });

  it('makes a 32x32 ALPHA cursor with opaque and translucent pixels', () => {
    const c = testPatternCursor();
    expect([c.width, c.height, c.argb.length]).toEqual([32, 32, 1024]);
    const alphas = new Set(Array.from(c.argb, (p) => p >>> 24));
    expect(alphas.has(0xff)).toBe(true);
    expect(alphas.has(0)).toBe(true);
    expect([...alphas].some((a) => a > 0 && a < 0xff)).toBe(true);
  });
});

describe('TestPatternSource', () => {
  let device: QxlDevice;
  let producer: QxlProducer;
  let consumer: QxlConsumer;
  let source: TestPatternSource | null = null;
  const W = 320;
  const H = 240;
  let mirror: Uint32Array;
  let cursors: QxlCursorCommand[];
  let firstBboxes: { left: number; top: number; right: number; bottom: number }[];

  beforeAll(async () => {
    device = await QxlDevice.create();
  });

  beforeEach(() => {
    device.wasm.ringInit(device.cmdRing, 32, 16);
    device.wasm.ringInit(device.cursorRing, 32, 16);
    device.wasm.ringInit(device.releaseRing, 8, 8);
    producer = new QxlProducer(device);
    consumer = new QxlConsumer(device);
    mirror = new Uint32Array(W * H);
    cursors = [];
    firstBboxes = [];
  });

  afterEach(() => {
    source?.stop();
    source = null;
  });

  /** Applies everything on the rings to the mirror and releases it. */
  function drain(): number {
    let n = 0;
    for (let c = consumer.nextCommand(); c; c = consumer.nextCommand()) {
      const d = consumer.readDrawable(c.addr);
      applyCopy(mirror, W, d);
      if (firstBboxes.length < 64) firstBboxes.push(d.bbox);
      consumer.release(d.releaseId, d.addr);
      n++;
    }
    for (let c = consumer.nextCursorCommand(); c; c = consumer.nextCursorCommand()) {
      const cc = consumer.readCursorCommand(c.addr);
      cursors.push(cc);
      consumer.release(cc.releaseId, cc.addr);
      n++;
    }
    return n;
  }

  async function pumpFor(ms: number): Promise<void> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      drain();
      await consumer.waitForWork({ timeoutMs: 5 });
    }
  }

  async function pumpUntilQuiet(src: TestPatternSource): Promise<void> {
    const end = performance.now() + 5000;
    while (performance.now() < end) {
      drain();
      if (!src.pending && !consumer.hasWork()) return;
      await consumer.waitForWork({ timeoutMs: 5 });
    }
    throw new Error('source did not become quiet within 5 s');
  }

  function expected(frame: number): Uint32Array {
    const out = new Uint32Array(W * H);
    renderTestPattern(frame, W, H, out);
    return out;
  }

  it('pushes drawables that rebuild the exact frame, starting with the whole frame and a cursor', async () => {
    source = new TestPatternSource(producer, { width: W, height: H, fps: 100 });
    expect([source.width, source.height]).toEqual([W, H]);
    source.start();
    await pumpFor(300);
    source.pause();
    await pumpUntilQuiet(source);
    expect(source.frame).toBeGreaterThan(5);
    expect(firstDiff(mirror, expected(source.frame))).toBe(-1);
    expect(readBarcode(mirror, W)).toBe(source.frame);

    expect(firstBboxes[0]).toEqual({ left: 0, top: 0, right: W, bottom: H });
    const later = firstBboxes.slice(1);
    expect(later.length).toBeGreaterThan(5);
    const area = later.reduce((s, b) => s + (b.right - b.left) * (b.bottom - b.top), 0) / later.length;
    expect(area).toBeLessThan((W * H) / 4); // incremental updates, not whole frames

    expect(cursors).toHaveLength(1);
    expect(cursors[0]).toMatchObject({ type: QxlCursorCmdType.SET, visible: true });
    expect(cursors[0]!.shape).toMatchObject({ type: CursorType.ALPHA, width: 32, height: 32 });
    expect(cursors[0]!.shape!.data).toEqual(new Uint8Array(testPatternCursor().argb.buffer));
  });

  it('renders and pushes a chosen frame while paused', async () => {
    source = new TestPatternSource(producer, { width: W, height: H, fps: 60 });
    source.start();
    source.pause();
    await pumpUntilQuiet(source);
    source.setFrame(1234);
    expect(source.frame).toBe(1234);
    await pumpUntilQuiet(source);
    expect(firstDiff(mirror, expected(1234))).toBe(-1);
    expect(readBarcode(mirror, W)).toBe(1234);
    await pumpFor(50);
    expect(source.frame).toBe(1234); // paused: no new frames
  });

  it('keeps dirty areas when the ring is full and catches up later', async () => {
    source = new TestPatternSource(producer, { width: W, height: H, fps: 200 });
    source.start();
    // Nobody consumes: the command ring fills up.
    const end = performance.now() + 1000;
    while (!source.pending && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(source.pending).toBe(true);
    expect(device.wasm.ringIsFull(device.cmdRing)).toBe(1);
    expect(producer.stats.ringFull).toBeGreaterThan(0);
    await pumpFor(100);
    source.pause();
    await pumpUntilQuiet(source);
    expect(firstDiff(mirror, expected(source.frame))).toBe(-1);
  });

  it('stop() ends the ticks', async () => {
    source = new TestPatternSource(producer, { width: W, height: H, fps: 200 });
    source.start();
    await pumpFor(50);
    source.stop();
    await pumpFor(20);
    const f = source.frame;
    await pumpFor(50);
    expect(source.frame).toBe(f);
    expect(source.isRunning).toBe(false);
  });
});
