/**
 * The library's SpiceDisplay over a real device: resize creates the surface
 * (through the given callback), pushRgba/flush push copy drawables of what
 * changed (dirty rects limit the rows compared), the cursor goes on the
 * cursor ring.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionDisplay, rgbaToXrgb } from '../src/api/spice-display.ts';
import { QxlConsumer, type QxlDrawable } from '../src/qxl/qxl-consumer.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { QxlCursorCmdType } from '../src/qxl/qxl-layout.ts';
import { QxlProducer } from '../src/qxl/qxl-producer.ts';

let device: QxlDevice;
let consumer: QxlConsumer;
/** One producer per device: it alone knows the ids the release ring hands back. */
let producer: QxlProducer;

beforeAll(async () => {
  device = await QxlDevice.create();
  consumer = new QxlConsumer(device);
  producer = new QxlProducer(device);
});

function drain(): QxlDrawable[] {
  const out: QxlDrawable[] = [];
  for (let c = consumer.nextCommand(); c; c = consumer.nextCommand()) {
    const d = consumer.readDrawable(c.addr);
    out.push(d);
    consumer.release(d.releaseId, d.addr);
  }
  return out;
}

describe('SessionDisplay', () => {
  it('resizes through the callback, then pushes the whole frame, then only what changed', async () => {
    const sizes: string[] = [];
    const d = new SessionDisplay(producer, async (w, h) => {
      sizes.push(`${w}x${h}`);
    });
    expect(() => d.flush()).toThrow(/call resize\(\) first/);
    await expect(d.resize(0, 10)).rejects.toThrow(/expected 1x1 to .*got 0x10/);
    await d.resize(64, 32);
    expect(sizes).toEqual(['64x32']);
    expect([d.width, d.height, d.framebuffer.length]).toEqual([64, 32, 64 * 32]);

    const rgba = new Uint8ClampedArray(64 * 32 * 4);
    for (let i = 0; i < rgba.length; i += 4) rgba.set([10, 20, 30, 255], i);
    expect(d.pushRgba(rgba)).toBe(true);
    let draws = drain();
    expect(draws.map((x) => x.bbox)).toEqual([{ left: 0, top: 0, right: 64, bottom: 32 }]);
    expect(d.framebuffer[0]).toBe(0x0a141e);

    // One pixel changes inside the dirty rect: one small drawable around it.
    rgba.set([200, 0, 0, 255], (5 * 64 + 7) * 4);
    d.pushRgba(rgba, [{ left: 0, top: 4, width: 64, height: 4 }]);
    draws = drain();
    expect(draws).toHaveLength(1);
    const b = draws[0]!.bbox;
    expect(b.left <= 7 && b.right > 7 && b.top <= 5 && b.bottom > 5).toBe(true);
    // A change outside the dirty rows is not looked at (the source said they did not change)…
    d.framebuffer[30 * 64] = 0xffffff;
    d.flush([{ left: 0, top: 0, width: 64, height: 2 }]);
    expect(drain()).toHaveLength(0);
    // …until a flush without dirty rects compares everything.
    d.flush();
    expect(drain().map((x) => x.bbox.top)).toEqual([30]);

    // Same size again: no new surface.
    await d.resize(64, 32);
    expect(sizes).toEqual(['64x32']);
  });

  it('sets, moves and hides the cursor on the cursor ring', async () => {
    const d = new SessionDisplay(producer, async () => {});
    const shape = { width: 2, height: 2, hotX: 0, hotY: 0, argb: new Uint32Array([0xffffffff, 0, 0, 0xff000000]) };
    expect(d.moveCursor(1, 1)).toBe(true); // nothing shown yet: nothing to move
    expect(d.setCursor(shape, 5, 6)).toBe(true);
    expect(d.moveCursor(7, 8)).toBe(true);
    expect(d.setCursor(null)).toBe(true);
    const types: number[] = [];
    for (let c = consumer.nextCursorCommand(); c; c = consumer.nextCursorCommand()) {
      const cc = consumer.readCursorCommand(c.addr);
      types.push(cc.type);
      if (cc.type === QxlCursorCmdType.SET) expect([cc.position, cc.shape?.width]).toEqual([{ x: 5, y: 6 }, 2]);
      consumer.release(cc.releaseId, cc.addr);
    }
    expect(types).toEqual([QxlCursorCmdType.SET, QxlCursorCmdType.MOVE, QxlCursorCmdType.HIDE]);
  });

  it('converts RGBA bytes to xRGB words, also from an unaligned view', () => {
    const out = new Uint32Array(2);
    rgbaToXrgb(new Uint8Array([1, 2, 3, 255, 4, 5, 6, 0]), out);
    expect([...out]).toEqual([0x010203, 0x040506]);
    const buf = new Uint8Array(9);
    buf.set([1, 2, 3, 255, 4, 5, 6, 0], 1);
    rgbaToXrgb(buf.subarray(1), out);
    expect([...out]).toEqual([0x010203, 0x040506]);
  });
});
