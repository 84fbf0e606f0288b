import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QxlArena } from '../src/qxl/qxl-arena.ts';
import { QxlConsumer } from '../src/qxl/qxl-consumer.ts';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import {
  ARENA_OFFSET,
  DEVICE_MEMORY_BYTES,
  Region,
  DEVICE_MEMORY_PAGES,
  QxlCmdType,
  QxlCursorCmdType,
  QxlDrawType,
} from '../src/qxl/qxl-layout.ts';
import { QxlProducer } from '../src/qxl/qxl-producer.ts';
import { setLogLevel } from '../src/util/logger.ts';

let device: QxlDevice;
let producer: QxlProducer;
let consumer: QxlConsumer;

beforeAll(async () => {
  setLogLevel('error');
  device = await QxlDevice.create();
});

beforeEach(() => {
  // Fresh rings and a fresh producer (whose arena starts empty) per test.
  device.wasm.ringInit(device.cmdRing, 32, 16);
  device.wasm.ringInit(device.cursorRing, 32, 16);
  device.wasm.ringInit(device.releaseRing, 8, 8);
  producer = new QxlProducer(device);
  consumer = new QxlConsumer(device);
});

function testPixels(width: number, height: number): Uint32Array {
  const p = new Uint32Array(width * height);
  for (let i = 0; i < p.length; i++) p[i] = (Math.imul(i + 1, 2654435761) >>> 8) & 0xffffff;
  return p;
}

/** Expected image bytes: rows of the source sub-rectangle, each pixel as B, G, R, 0. */
function expectedBytes(src: Uint32Array, stride: number, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  let o = 0;
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      const p = src[(y + yy) * stride + x + xx]!;
      out[o++] = p & 0xff;
      out[o++] = (p >>> 8) & 0xff;
      out[o++] = (p >>> 16) & 0xff;
      out[o++] = 0;
    }
  }
  return out;
}

function drainAndRelease(): number {
  let n = 0;
  for (let c = consumer.nextCommand(); c; c = consumer.nextCommand()) {
    const d = consumer.readDrawable(c.addr);
    consumer.release(d.releaseId, d.addr);
    n++;
  }
  for (let c = consumer.nextCursorCommand(); c; c = consumer.nextCursorCommand()) {
    const cc = consumer.readCursorCommand(c.addr);
    consumer.release(cc.releaseId, cc.addr);
    n++;
  }
  return n;
}

describe('QxlDevice', () => {
  it('attaches to the memory of a created device', async () => {
    const other = await QxlDevice.attach(device.memory);
    expect(other.arenaStart).toBe(ARENA_OFFSET);
    expect(other.arenaEnd).toBe(Region.ARENA_END);
    expect(other.byteLength).toBe(DEVICE_MEMORY_BYTES);
    // Both instances see the same rings.
    other.wasm.cmdRingPush(other.cmdRing, 0x1234, 0, QxlCmdType.NOP);
    expect(consumer.nextCommand()).toEqual({ type: QxlCmdType.NOP, addr: 0x1234 });
  });

  it('refuses memory that is not a device', async () => {
    const blank = new WebAssembly.Memory({ initial: DEVICE_MEMORY_PAGES, maximum: DEVICE_MEMORY_PAGES, shared: true });
    await expect(QxlDevice.attach(blank)).rejects.toThrow(/expected device magic 0x58515753 .* got 0x0/);
    await expect(QxlDevice.attach(new WebAssembly.Memory({ initial: 1 }))).rejects.toThrow(/expected a shared WebAssembly.Memory/);
  });
});

describe('QxlArena', () => {
  it('reuses and coalesces blocks released out of order', () => {
    const arena = new QxlArena(1000, 2000); // aligned to [1000, 2000)
    const a = arena.alloc(100);
    const b = arena.alloc(300);
    const c = arena.alloc(500);
    expect([a, b, c]).toEqual([1000, 1104, 1408]);
    expect(arena.alloc(200)).toBe(-1);
    arena.release(b, 300);
    expect(arena.largestFree).toBe(304);
    arena.release(c, 500);
    arena.release(a, 100);
    expect(arena.freeBytes).toBe(1000);
    expect(arena.largestFree).toBe(1000);
    expect(arena.alloc(1000)).toBe(1000);
    expect(() => arena.release(1000, 8)).not.toThrow();
    expect(() => arena.release(1000, 8)).toThrow(/double release/);
  });
});

describe('producer → consumer', () => {
  it('round-trips a copy-bits drawable: type QXL_COPY_BITS, bbox = destination, u.copy_bits.src_pos', () => {
    expect(producer.pushCopyBits(0, { left: 0, top: 0, width: 100, height: 50 }, 0, 16)).toBe(true);
    const cmd = consumer.nextCommand()!;
    const v = device.view;
    expect(v.getUint8(cmd.addr + 13)).toBe(4); // type QXL_COPY_BITS
    expect([123, 127].map((o) => v.getInt32(cmd.addr + o, true))).toEqual([0, 16]); // src_pos x, y
    const d = consumer.readDrawable(cmd.addr);
    expect(d.copyBits).toEqual({ srcX: 0, srcY: 16 });
    expect(d.bbox).toEqual({ top: 0, left: 0, bottom: 50, right: 100 });
    expect(d.copy).toBeUndefined();
    consumer.release(d.releaseId, d.addr);
    consumer.flushReleases();
  });

  it('round-trips a copy drawable with the exact qxl_dev.h bytes', () => {
    const stride = 64;
    const src = testPixels(stride, 40);
    const rect = { left: 10, top: 5, width: 17, height: 9 };
    expect(producer.pushCopy(2, rect, src, stride, 3, 7)).toBe(true);
    const cmd = consumer.nextCommand()!;
    expect(cmd.type).toBe(QxlCmdType.DRAW);
    expect(consumer.nextCommand()).toBeNull();

    // Raw bytes at offsets worked out by hand from the packed structs.
    const v = device.view;
    const a = cmd.addr;
    expect(a).toBeGreaterThanOrEqual(ARENA_OFFSET);
    const releaseId = v.getUint32(a, true);
    expect(releaseId).toBeGreaterThan(0);
    expect(v.getUint32(a + 4, true)).toBe(0);
    expect(v.getUint32(a + 8, true)).toBe(2); // surface_id
    expect(v.getUint8(a + 12)).toBe(1); // effect OPAQUE
    expect(v.getUint8(a + 13)).toBe(3); // type QXL_DRAW_COPY
    expect([31, 35, 39, 43].map((o) => v.getInt32(a + o, true))).toEqual([5, 10, 14, 27]); // bbox t,l,b,r
    expect(v.getUint32(a + 47, true)).toBe(0); // clip.type NONE
    expect([63, 67, 71].map((o) => v.getInt32(a + o, true))).toEqual([-1, -1, -1]); // surfaces_dest
    const img = v.getUint32(a + 123, true); // u.copy.src_bitmap
    expect(v.getUint32(a + 127, true)).toBe(0);
    expect([131, 135, 139, 143].map((o) => v.getInt32(a + o, true))).toEqual([0, 0, 9, 17]); // src_area
    expect(v.getUint16(a + 147, true)).toBe(8); // rop OP_PUT
    expect(v.getUint8(a + 150)).toBe(0); // mask.flags
    expect(v.getUint8(img + 8)).toBe(0); // descriptor.type BITMAP
    expect(v.getUint32(img + 10, true)).toBe(17);
    expect(v.getUint32(img + 14, true)).toBe(9);
    expect(v.getUint8(img + 18)).toBe(8); // bitmap.format 32BIT
    expect(v.getUint8(img + 19)).toBe(4); // TOP_DOWN
    expect(v.getUint32(img + 20, true)).toBe(17); // bitmap.x
    expect(v.getUint32(img + 24, true)).toBe(9); // bitmap.y
    expect(v.getUint32(img + 28, true)).toBe(68); // stride
    expect(v.getBigUint64(img + 32, true)).toBe(0n); // palette
    const chunk = v.getUint32(img + 40, true);
    expect(v.getUint32(chunk, true)).toBe(17 * 9 * 4); // data_size
    expect(v.getBigUint64(chunk + 4, true)).toBe(0n); // prev
    expect(v.getBigUint64(chunk + 12, true)).toBe(0n); // next
    const want = expectedBytes(src, stride, 3, 7, 17, 9);
    expect(device.bytes.slice(chunk + 20, chunk + 20 + want.length)).toEqual(want);

    const d = consumer.readDrawable(cmd.addr);
    expect(d).toMatchObject({
      addr: a,
      releaseId,
      surfaceId: 2,
      type: QxlDrawType.COPY,
      effect: 1,
      bbox: { top: 5, left: 10, bottom: 14, right: 27 },
      clip: { type: 0, data: 0 },
      surfacesDest: [-1, -1, -1],
    });
    expect(d.copy).toMatchObject({
      srcArea: { top: 0, left: 0, bottom: 9, right: 17 },
      rop: 8,
      image: { width: 17, height: 9, format: 8, stride: 68, topDown: true, palette: 0 },
    });
    expect(d.copy!.image.pixels).toEqual(want);
    // A copy, not a view: later writes to device memory do not change it.
    device.bytes[chunk + 20] ^= 0xff;
    expect(d.copy!.image.pixels[0]).toBe(want[0]);
  });

  it('round-trips cursor SET, MOVE and HIDE', () => {
    const argb = new Uint32Array(32 * 32);
    for (let i = 0; i < argb.length; i++) argb[i] = (((i * 7) & 0xff) << 24) | (i * 40503) & 0xffffff;
    const shape = { width: 32, height: 32, hotX: 3, hotY: 5, argb };
    expect(producer.pushCursorSet(100, -20, shape)).toBe(true);
    expect(producer.pushCursorMove(640, 480)).toBe(true);
    expect(producer.pushCursorHide()).toBe(true);
    expect(consumer.nextCommand()).toBeNull();

    const set = consumer.nextCursorCommand()!;
    expect(set.type).toBe(QxlCmdType.CURSOR);
    const v = device.view;
    const a = set.addr;
    expect(v.getUint8(a + 8)).toBe(0); // QXL_CURSOR_SET
    expect(v.getInt16(a + 9, true)).toBe(100);
    expect(v.getInt16(a + 11, true)).toBe(-20);
    expect(v.getUint8(a + 13)).toBe(1); // visible
    const c = v.getUint32(a + 14, true); // shape
    expect(v.getUint16(c + 8, true)).toBe(0); // SPICE_CURSOR_TYPE_ALPHA
    expect([10, 12, 14, 16].map((o) => v.getUint16(c + o, true))).toEqual([32, 32, 3, 5]);
    expect(v.getUint32(c + 18, true)).toBe(4096); // data_size
    expect(v.getUint32(c + 22, true)).toBe(4096); // chunk.data_size
    const want = new Uint8Array(argb.buffer.slice(0));
    expect(device.bytes.slice(c + 42, c + 42 + 4096)).toEqual(want);

    const parsed = consumer.readCursorCommand(set.addr);
    expect(parsed).toMatchObject({ type: QxlCursorCmdType.SET, position: { x: 100, y: -20 }, visible: true });
    expect(parsed.shape).toMatchObject({ type: 0, width: 32, height: 32, hotX: 3, hotY: 5 });
    expect(parsed.shape!.data).toEqual(want);

    const move = consumer.readCursorCommand(consumer.nextCursorCommand()!.addr);
    expect(move).toMatchObject({ type: QxlCursorCmdType.MOVE, position: { x: 640, y: 480 } });
    expect(move.shape).toBeUndefined();
    const hide = consumer.readCursorCommand(consumer.nextCursorCommand()!.addr);
    expect(hide.type).toBe(QxlCursorCmdType.HIDE);
    expect(consumer.nextCursorCommand()).toBeNull();
    // Unique release ids.
    expect(new Set([parsed.releaseId, move.releaseId, hide.releaseId]).size).toBe(3);
  });

  it('refuses a push when the ring is full, leaving nothing half-pushed', () => {
    const src = testPixels(8, 8);
    for (let i = 0; i < 32; i++) expect(producer.pushCopy(0, { left: 0, top: 0, width: 8, height: 8 }, src, 8, 0, 0)).toBe(true);
    const free = producer.freeBytes;
    expect(producer.pushCopy(0, { left: 0, top: 0, width: 8, height: 8 }, src, 8, 0, 0)).toBe(false);
    expect(producer.inFlight).toBe(32);
    expect(producer.freeBytes).toBe(free);
    expect(producer.stats.ringFull).toBe(1);
    for (let i = 0; i < 32; i++) expect(producer.pushCursorMove(i, i)).toBe(true);
    expect(producer.pushCursorMove(0, 0)).toBe(false);
    expect(drainAndRelease()).toBe(64);
    expect(producer.pushCopy(0, { left: 0, top: 0, width: 8, height: 8 }, src, 8, 0, 0)).toBe(true);
  });

  it('gets arena space back after the consumer releases', () => {
    const w = 2048;
    const h = 1024;
    const src = testPixels(w, h);
    const rect = { left: 0, top: 0, width: w, height: h };
    let pushed = 0;
    while (producer.pushCopy(0, rect, src, w, 0, 0)) pushed++;
    expect(pushed).toBe(Math.floor(producer.arenaCapacity / QxlProducer.copyBlockBytes(w, h)));
    expect(producer.stats.arenaFull).toBe(1);
    expect(device.wasm.ringIsFull(device.cmdRing)).toBe(0);

    // One release makes room for exactly one more.
    const c = consumer.nextCommand()!;
    const d = consumer.readDrawable(c.addr);
    expect(d.copy!.image.pixels.length).toBe(w * h * 4);
    consumer.release(d.releaseId, d.addr);
    expect(producer.pushCopy(0, rect, src, w, 0, 0)).toBe(true);
    expect(producer.pushCopy(0, rect, src, w, 0, 0)).toBe(false);

    expect(drainAndRelease()).toBe(pushed);
    expect(consumer.pendingReleaseCount).toBe(pushed - 8); // the release ring holds 8
    producer.reclaim();
    expect(consumer.flushReleases()).toBe(0);
    producer.reclaim();
    expect(producer.inFlight).toBe(0);
    expect(producer.freeBytes).toBe(producer.arenaCapacity);
  });

  it('chains releases through release_info.next when the release ring is full', () => {
    for (let i = 0; i < 20; i++) expect(producer.pushCursorMove(i, i)).toBe(true);
    const cmds = [];
    for (let c = consumer.nextCursorCommand(); c; c = consumer.nextCursorCommand()) cmds.push(consumer.readCursorCommand(c.addr));
    expect(cmds.map((c) => c.position.x)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const c of cmds) consumer.release(c.releaseId, c.addr);
    expect(consumer.pendingReleaseCount).toBe(12); // 8 ring slots, producer not draining yet
    expect(producer.reclaim()).toBe(8);
    expect(consumer.flushReleases()).toBe(0); // the 12 go as one chain in one slot
    expect(device.wasm.ringCount(device.releaseRing)).toBe(1);
    expect(producer.reclaim()).toBe(12);
    expect(producer.inFlight).toBe(0);
    expect(producer.stats.released).toBe(20);
  });

  it('still releases ids without an address (no chaining)', () => {
    for (let i = 0; i < 10; i++) producer.pushCursorHide();
    const ids = [];
    for (let c = consumer.nextCursorCommand(); c; c = consumer.nextCursorCommand()) ids.push(consumer.readCursorCommand(c.addr).releaseId);
    for (const id of ids) consumer.release(id);
    expect(consumer.pendingReleaseCount).toBe(2);
    expect(producer.reclaim()).toBe(8);
    expect(consumer.flushReleases()).toBe(0);
    expect(producer.reclaim()).toBe(2);
    expect(producer.inFlight).toBe(0);
  });

  it('rejects bad arguments to pushes with a clear error', () => {
    const src = testPixels(8, 8);
    expect(() => producer.pushCopy(0, { left: 0, top: 0, width: 9, height: 1 }, src, 8, 0, 0)).toThrow(/expected source 9x1\+0\+0 inside/);
    expect(() => producer.pushCopy(0, { left: 0, top: 0, width: 0, height: 1 }, src, 8, 0, 0)).toThrow(/non-empty rect/);
    expect(() => producer.pushCursorSet(0, 0, { width: 4, height: 4, hotX: 0, hotY: 0, argb: new Uint32Array(3) })).toThrow(
      /expected at least 16 ARGB pixels/,
    );
  });
});

describe('consumer validation', () => {
  function pushOne(): { addr: number; img: number; chunk: number } {
    const src = testPixels(4, 4);
    expect(producer.pushCopy(0, { left: 0, top: 0, width: 4, height: 4 }, src, 4, 0, 0)).toBe(true);
    const addr = consumer.nextCommand()!.addr;
    const img = device.view.getUint32(addr + 123, true);
    const chunk = device.view.getUint32(img + 40, true);
    return { addr, img, chunk };
  }

  it('rejects drawable addresses outside device memory', () => {
    expect(() => consumer.readDrawable(0)).toThrow(/QXLDrawable: expected 183 bytes inside device memory \[\d+, \d+\), got address 0/);
    expect(() => consumer.readDrawable(Region.ARENA_END - 100)).toThrow(/got address 134217628/);
    expect(() => consumer.readDrawable(DEVICE_MEMORY_BYTES - 100)).toThrow(/outside|inside/);
    expect(() => consumer.readDrawable(2 ** 40)).toThrow(/got address 1099511627776/);
    expect(() => consumer.readCursorCommand(-8)).toThrow(/QXLCursorCmd: expected 150 bytes/);
  });

  it('rejects an image pointer outside device memory', () => {
    const { addr } = pushOne();
    device.view.setUint32(addr + 123, 0xfffffff0, true);
    expect(() => consumer.readDrawable(addr)).toThrow(/QXLImage descriptor: expected 18 bytes inside device memory .* got address 4294967280/);
    device.view.setUint32(addr + 127, 1, true); // high word of the u64
    expect(() => consumer.readDrawable(addr)).toThrow(/got address 8589934576/);
  });

  it('rejects wrong image types, strides and chunk sizes', () => {
    const { addr, img, chunk } = pushOne();
    const v = device.view;
    v.setUint8(img + 8, 1);
    expect(() => consumer.readDrawable(addr)).toThrow(/expected image type BITMAP \(0\), got 1/);
    v.setUint8(img + 8, 0);
    v.setUint32(img + 28, 15, true);
    expect(() => consumer.readDrawable(addr)).toThrow(/expected stride >= 16 for 4 pixels of 32 bpp, got 15/);
    v.setUint32(img + 28, 16, true);
    v.setUint32(chunk, 65, true);
    expect(() => consumer.readDrawable(addr)).toThrow(/expected data chunks totalling 64 bytes, got 65 or more/);
    v.setUint32(chunk, 60, true);
    expect(() => consumer.readDrawable(addr)).toThrow(/expected data chunks totalling 64 bytes, got 60/);
    // A chunk that links to itself with no data: a loop.
    v.setUint32(chunk, 0, true);
    v.setUint32(chunk + 12, chunk, true);
    expect(() => consumer.readDrawable(addr)).toThrow(/expected at most 65536 data chunks/);
    v.setUint32(chunk, 64, true);
    v.setUint32(chunk + 12, DEVICE_MEMORY_BYTES, true);
    expect(() => consumer.readDrawable(addr)).toThrow(/expected data chunks totalling 64 bytes, got 64 or more|QXLDataChunk: expected 20 bytes/);
    v.setUint32(chunk + 12, 0, true);
    v.setInt32(addr + 131 + 12, 5, true); // src_area.right beyond the 4-pixel image
    expect(() => consumer.readDrawable(addr)).toThrow(/expected src_area inside the 4x4 image/);
    v.setInt32(addr + 131 + 12, 4, true);
    expect(consumer.readDrawable(addr).copy!.image.pixels.length).toBe(64);
  });

  it('follows a chain of several data chunks', () => {
    const { addr, img, chunk } = pushOne();
    const v = device.view;
    const original = device.bytes.slice(chunk + 20, chunk + 84);
    // Split the 64 bytes: first chunk keeps 24, a second chunk (placed after the block) holds 40.
    const second = chunk + 20 + 64 + 12;
    v.setUint32(chunk, 24, true);
    v.setUint32(chunk + 12, second, true);
    v.setUint32(second, 40, true);
    v.setBigUint64(second + 4, BigInt(chunk), true);
    v.setBigUint64(second + 12, 0n, true);
    device.bytes.set(original.subarray(24), second + 20);
    expect(consumer.readDrawable(addr).copy!.image.pixels).toEqual(original);
    void img;
  });

  it('rejects unknown cursor command types', () => {
    producer.pushCursorHide();
    const { addr } = consumer.nextCursorCommand()!;
    device.view.setUint8(addr + 8, 9);
    expect(() => consumer.readCursorCommand(addr)).toThrow(/expected type SET\/MOVE\/HIDE\/TRAIL \(0..3\), got 9/);
  });
});

describe('waitForWork (same thread)', () => {
  it('resolves when something is pushed later', async () => {
    setTimeout(() => producer.pushCursorMove(1, 1), 20);
    const t0 = performance.now();
    await consumer.waitForWork({ timeoutMs: 2000 });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(consumer.nextCursorCommand()).not.toBeNull();
  });

  it('resolves at once when work is already there, and on timeout otherwise', async () => {
    producer.pushCursorHide();
    await consumer.waitForWork();
    expect(consumer.hasWork()).toBe(true);
    consumer.nextCursorCommand();
    const t0 = performance.now();
    await consumer.waitForWork({ timeoutMs: 30 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(consumer.hasWork()).toBe(false);
  });

  it('resolves on interrupt()', async () => {
    setTimeout(() => consumer.interrupt(), 20);
    const t0 = performance.now();
    await consumer.waitForWork({ timeoutMs: 2000 });
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('producer.whenWritable resolves once releases arrive', async () => {
    producer.pushCursorHide();
    const c = consumer.readCursorCommand(consumer.nextCursorCommand()!.addr);
    setTimeout(() => consumer.release(c.releaseId, c.addr), 20);
    const t0 = performance.now();
    await producer.whenWritable(2000);
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(producer.reclaim()).toBe(1);
  });
});
