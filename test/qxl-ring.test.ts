import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import {
  CMD_RING_ADDR,
  CURSOR_RING_ADDR,
  DEVICE_HEADER_OFFSET,
  DeviceHeader,
  QXLBitmap,
  QXLCopy,
  QXLCursor,
  QXLCursorCmd,
  QXLDrawable,
  QXLImage,
  QXL_COMMAND_RING_SIZE,
  QXL_RELEASE_RING_SIZE,
  RELEASE_RING_ADDR,
  SpiceRing,
} from '../src/qxl/qxl-layout.ts';
import { waitOnWord } from '../src/qxl/qxl-wait.ts';

let device: QxlDevice;
const CMD_OUT = DEVICE_HEADER_OFFSET + DeviceHeader.CMD_POP_OUT;
const REL_OUT = DEVICE_HEADER_OFFSET + DeviceHeader.RELEASE_POP_OUT;

beforeAll(async () => {
  device = await QxlDevice.create();
});

function header(ring: number): { num: number; prod: number; nprod: number; cons: number; ncons: number } {
  return {
    num: device.ringWord(ring, SpiceRing.NUM_ITEMS),
    prod: device.ringWord(ring, SpiceRing.PROD),
    nprod: device.ringWord(ring, SpiceRing.NOTIFY_ON_PROD),
    cons: device.ringWord(ring, SpiceRing.CONS),
    ncons: device.ringWord(ring, SpiceRing.NOTIFY_ON_CONS),
  };
}

function setCounters(ring: number, value: number): void {
  Atomics.store(device.i32, (ring + SpiceRing.PROD) >> 2, value | 0);
  Atomics.store(device.i32, (ring + SpiceRing.CONS) >> 2, value | 0);
}

function pop(ring = CMD_RING_ADDR): { data: number; type: number } | null {
  if (device.wasm.cmdRingPop(ring, CMD_OUT) === 0) return null;
  return { data: device.view.getUint32(CMD_OUT, true), type: device.view.getUint32(CMD_OUT + 8, true) };
}

describe('layout (packed structs of qxl_dev.h)', () => {
  it('has the sizes of the C structs', () => {
    expect(QXLDrawable.SIZE).toBe(183);
    expect(QXLDrawable.U).toBe(123);
    expect(QXLCopy.SIZE).toBe(44);
    expect(QXLImage.SIZE).toBe(48);
    expect(QXLBitmap.DATA).toBe(22);
    expect(QXLCursorCmd.SIZE).toBe(150);
    expect(QXLCursor.SIZE).toBe(42);
  });

  it('places the rings 4-aligned (atomics need natural alignment) and items packed after the header', () => {
    for (const r of [CMD_RING_ADDR, CURSOR_RING_ADDR, RELEASE_RING_ADDR]) expect(r % 4).toBe(0);
    expect(CURSOR_RING_ADDR - CMD_RING_ADDR).toBe(20 + 32 * 16);
    expect(RELEASE_RING_ADDR - CURSOR_RING_ADDR).toBe(20 + 32 * 16);
  });
});

describe('ring core (WASM)', () => {
  it('initialises like SPICE_RING_INIT', () => {
    expect(header(CMD_RING_ADDR)).toEqual({ num: 32, prod: 0, nprod: 1, cons: 0, ncons: 0 });
    expect(header(CURSOR_RING_ADDR).num).toBe(32);
    expect(header(RELEASE_RING_ADDR)).toEqual({ num: 8, prod: 0, nprod: 1, cons: 0, ncons: 0 });
    expect(device.wasm.ringInit(CMD_RING_ADDR, 24, 16)).toBe(0); // not a power of two
  });

  it('is empty, fills up, refuses a push when full, and pops in order', () => {
    const { wasm } = device;
    const ring = CMD_RING_ADDR;
    wasm.ringInit(ring, QXL_COMMAND_RING_SIZE, 16);
    expect(wasm.ringIsEmpty(ring)).toBe(1);
    expect(pop()).toBeNull();
    for (let i = 0; i < QXL_COMMAND_RING_SIZE; i++) expect(wasm.cmdRingPush(ring, 1000 + i, 0, i % 6) & 1).toBe(1);
    expect(wasm.ringIsFull(ring)).toBe(1);
    expect(wasm.cmdRingPush(ring, 1, 0, 1)).toBe(0);
    expect(wasm.ringCount(ring)).toBe(QXL_COMMAND_RING_SIZE);
    for (let i = 0; i < QXL_COMMAND_RING_SIZE; i++) expect(pop()).toEqual({ data: 1000 + i, type: i % 6 });
    expect(pop()).toBeNull();
    expect(wasm.ringIsEmpty(ring)).toBe(1);
  });

  it('keeps the full u64 command data and the 16-byte item layout', () => {
    const { wasm, view } = device;
    wasm.ringInit(CMD_RING_ADDR, 32, 16);
    wasm.cmdRingPush(CMD_RING_ADDR, 0x89abcdef, 0x01234567, 3);
    const item = CMD_RING_ADDR + SpiceRing.ITEMS;
    expect(view.getBigUint64(item, true)).toBe(0x0123456789abcdefn);
    expect(view.getUint32(item + 8, true)).toBe(3);
    expect(wasm.cmdRingPop(CMD_RING_ADDR, CMD_OUT)).toBeGreaterThan(0);
    expect(view.getBigUint64(CMD_OUT, true)).toBe(0x0123456789abcdefn);
  });

  it('wraps its free-running counters past 2^32', () => {
    const { wasm } = device;
    const ring = CMD_RING_ADDR;
    wasm.ringInit(ring, 32, 16);
    setCounters(ring, 0xfffffff0);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      const batch = 1 + ((round * 7) % 32);
      for (let i = 0; i < batch; i++) expect(wasm.cmdRingPush(ring, next++, 0, 1) & 1).toBe(1);
      for (let i = 0; i < batch; i++) expect(pop()?.data).toBe(expected++);
    }
    expect(header(ring).prod).toBe((0xfffffff0 + next) >>> 0);
    expect(header(ring).prod).toBeLessThan(0xfffffff0); // wrapped

    // Full across the wrap: prod = 0x10, cons = 0xfffffff0.
    setCounters(ring, 0xfffffff0);
    for (let i = 0; i < 32; i++) wasm.cmdRingPush(ring, i, 0, 1);
    expect(header(ring).prod).toBe(0x10);
    expect(wasm.ringIsFull(ring)).toBe(1);
    expect(wasm.cmdRingPush(ring, 99, 0, 1)).toBe(0);
    for (let i = 0; i < 32; i++) expect(pop()?.data).toBe(i);
    expect(wasm.ringIsEmpty(ring)).toBe(1);
  });

  it('goes around many times with uneven batches', () => {
    const { wasm } = device;
    const ring = CMD_RING_ADDR;
    wasm.ringInit(ring, 32, 16);
    let pushed = 0;
    let popped = 0;
    let seed = 12345;
    while (popped < 200_000) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const n = seed % 33;
      for (let i = 0; i < n && wasm.cmdRingPush(ring, pushed, 0, 1) !== 0; i++) pushed++;
      const m = (seed >>> 8) % 33;
      for (let i = 0; i < m; i++) {
        const item = pop();
        if (!item) break;
        expect(item.data).toBe(popped++);
      }
    }
    expect(wasm.ringCount(ring)).toBe(pushed - popped);
  });

  it('wakes the consumer only when prod reaches notify_on_prod', () => {
    const { wasm } = device;
    const ring = CMD_RING_ADDR;
    wasm.ringInit(ring, 32, 16);
    expect(wasm.cmdRingPush(ring, 1, 0, 1)).toBe(3); // notify_on_prod starts at 1
    expect(wasm.cmdRingPush(ring, 2, 0, 1)).toBe(1);
    expect(wasm.ringPrepareWaitItems(ring)).toBe(0); // not empty: does not arm
    expect(header(ring).nprod).toBe(1);
    pop();
    pop();
    expect(wasm.ringPrepareWaitItems(ring)).toBe(1); // empty: arms cons + 1
    expect(header(ring).nprod).toBe(3);
    expect(wasm.cmdRingPush(ring, 3, 0, 1)).toBe(3);
    expect(wasm.cmdRingPush(ring, 4, 0, 1)).toBe(1);
  });

  it('wakes a producer waiting for space only when cons reaches notify_on_cons', () => {
    const { wasm } = device;
    const ring = RELEASE_RING_ADDR;
    wasm.ringInit(ring, QXL_RELEASE_RING_SIZE, 8);
    expect(wasm.ringPrepareWaitSpace(ring)).toBe(0);
    for (let i = 0; i < QXL_RELEASE_RING_SIZE; i++) expect(wasm.releaseRingPush(ring, i, 0) & 1).toBe(1);
    expect(wasm.releaseRingPush(ring, 8, 0)).toBe(0);
    expect(wasm.ringPrepareWaitSpace(ring)).toBe(1);
    expect(header(ring).ncons).toBe(1);
    expect(wasm.releaseRingPop(ring, REL_OUT)).toBe(3);
    expect(wasm.releaseRingPop(ring, REL_OUT)).toBe(1);
  });

  it('round-trips u64 release ids', () => {
    const { wasm, view } = device;
    const ring = RELEASE_RING_ADDR;
    wasm.ringInit(ring, 8, 8);
    wasm.releaseRingPush(ring, 0xdeadbeef, 0x7);
    wasm.releaseRingPush(ring, 42, 0);
    expect(wasm.releaseRingPop(ring, REL_OUT)).toBeGreaterThan(0);
    expect(view.getBigUint64(REL_OUT, true)).toBe(0x7deadbeefn);
    expect(wasm.releaseRingPop(ring, REL_OUT)).toBeGreaterThan(0);
    expect(view.getBigUint64(REL_OUT, true)).toBe(42n);
    expect(wasm.releaseRingPop(ring, REL_OUT)).toBe(0);
  });

  it('blocking waits return at once when the condition holds and time out otherwise', () => {
    const { wasm } = device;
    const ring = CMD_RING_ADDR;
    wasm.ringInit(ring, 32, 16);
    const t0 = performance.now();
    expect(wasm.ringWaitItems(ring, 30)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    wasm.cmdRingPush(ring, 1, 0, 1);
    expect(wasm.ringWaitItems(ring, 1000)).toBe(1);
    expect(wasm.ringWaitSpace(ring, 1000)).toBe(1);
    for (let i = 1; i < 32; i++) wasm.cmdRingPush(ring, i, 0, 1);
    expect(wasm.ringWaitSpace(ring, 10)).toBe(0);
    wasm.ringInit(ring, 32, 16);
  });
});

interface WorkerResult {
  received?: number[];
  sleeps?: number;
  error?: string;
}

/**
 * How long a side may wait for the other: a lost wakeup shows up as this
 * timeout, not a hang. Generous, so a loaded machine's scheduling stalls
 * (seen once: >5 s on a cold CI start) are not mistaken for one.
 */
const WAKEUP_TIMEOUT_MS = 20_000;

/** Pushes 1..count from this thread without blocking it, draining releases on the way. */
async function produce(count: number, releases: number[] | null): Promise<void> {
  const { wasm, i32 } = device;
  const drain = (): void => {
    if (!releases) return;
    while (wasm.releaseRingPop(RELEASE_RING_ADDR, REL_OUT) !== 0) releases.push(device.view.getUint32(REL_OUT, true));
  };
  for (let i = 0; i < count; ) {
    drain();
    if (wasm.cmdRingPush(CMD_RING_ADDR, i + 1, 0, 1) !== 0) {
      i++;
      continue;
    }
    if (wasm.ringPrepareWaitSpace(CMD_RING_ADDR) === 0) continue;
    const full = (device.ringWord(CMD_RING_ADDR, SpiceRing.PROD) - 32) | 0;
    const waits: Promise<unknown>[] = [waitOnWord(i32, device.consIndex(CMD_RING_ADDR), full, WAKEUP_TIMEOUT_MS)];
    if (releases && wasm.ringPrepareWaitItems(RELEASE_RING_ADDR) === 1) {
      waits.push(waitOnWord(i32, device.prodIndex(RELEASE_RING_ADDR), device.ringWord(RELEASE_RING_ADDR, SpiceRing.CONS), WAKEUP_TIMEOUT_MS));
    }
    const outcome = await Promise.race(waits);
    if (outcome === 'timed-out') throw new Error('producer: timed out waiting for space or releases (lost wakeup?)');
  }
  if (!releases) return;
  const deadline = performance.now() + 10_000;
  while (releases.length < count && performance.now() < deadline) {
    drain();
    if (releases.length >= count) break;
    if (wasm.ringPrepareWaitItems(RELEASE_RING_ADDR) === 1) {
      await waitOnWord(i32, device.prodIndex(RELEASE_RING_ADDR), device.ringWord(RELEASE_RING_ADDR, SpiceRing.CONS), 1000);
    }
  }
}

function runWorker(mode: 'blocking' | 'async', count: number): { done: Promise<WorkerResult>; worker: Worker } {
  const worker = new Worker(new URL('./helpers/ts-worker.mjs', import.meta.url), {
    workerData: { entry: new URL('./helpers/qxl-ring-worker.ts', import.meta.url).href, memory: device.memory, mode, count },
  });
  const done = new Promise<WorkerResult>((resolve, reject) => {
    worker.once('message', (m: WorkerResult) => (m.error ? reject(new Error(`worker: ${m.error}`)) : resolve(m)));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
  return { done, worker };
}

describe('cross-thread wakeups', () => {
  const COUNT = 10_000;

  function resetRings(): void {
    device.wasm.ringInit(CMD_RING_ADDR, 32, 16);
    device.wasm.ringInit(CURSOR_RING_ADDR, 32, 16);
    device.wasm.ringInit(RELEASE_RING_ADDR, 8, 8);
  }

  it('a worker blocking in the WASM wait gets every item in order', async () => {
    resetRings();
    const { done, worker } = runWorker('blocking', COUNT);
    try {
      // Let the worker reach its first sleep now and then, so wakeups are exercised.
      await new Promise((r) => setTimeout(r, 200));
      // all(): a failing worker rejects at once instead of leaving the producer waiting.
      const [, result] = await Promise.all([produce(COUNT, null), done]);
      expect(result.received).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
      expect(result.sleeps).toBeGreaterThan(0);
    } finally {
      await worker.terminate();
    }
  }, 3 * WAKEUP_TIMEOUT_MS);

  it('a worker using Atomics.waitAsync (QxlConsumer) gets every item in order and releases them all', async () => {
    resetRings();
    const { done, worker } = runWorker('async', COUNT);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const releases: number[] = [];
      const [, result] = await Promise.all([produce(COUNT, releases), done]);
      expect(result.received).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
      expect(result.sleeps).toBeGreaterThan(0);
      expect(releases).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    } finally {
      await worker.terminate();
    }
  }, 3 * WAKEUP_TIMEOUT_MS);
});
