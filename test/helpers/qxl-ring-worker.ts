/**
 * Worker for the cross-thread ring tests. Attaches to the device memory it is
 * given and consumes `count` commands from the command ring, either blocking
 * in the WASM wait (`mode: 'blocking'`) or with QxlConsumer.waitForWork
 * (`mode: 'async'`, which also releases every item back). Posts the received
 * data values in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { QxlDevice } from '../../src/qxl/qxl-device.ts';
import { QxlConsumer } from '../../src/qxl/qxl-consumer.ts';
import { DEVICE_HEADER_OFFSET, DeviceHeader } from '../../src/qxl/qxl-layout.ts';
import { setLogLevel } from '../../src/util/logger.ts';

// The stress test releases faster than the producer drains; that warning is expected here.
setLogLevel('error');

interface Job {
  memory: WebAssembly.Memory;
  mode: 'blocking' | 'async';
  count: number;
}

const job = workerData as Job;

async function main(): Promise<void> {
  const device = await QxlDevice.attach(job.memory);
  const received: number[] = [];
  let sleeps = 0;
  if (job.mode === 'blocking') {
    const out = DEVICE_HEADER_OFFSET + DeviceHeader.CMD_POP_OUT;
    while (received.length < job.count) {
      if (device.wasm.cmdRingPop(device.cmdRing, out) !== 0) {
        received.push(device.view.getUint32(out, true));
        continue;
      }
      // Generous timeout: a lost wakeup shows up as a test timeout, not a hang.
      if (device.wasm.ringWaitItems(device.cmdRing, 20_000) === 0) throw new Error('blocking consumer: timed out waiting for items');
      sleeps++;
    }
  } else {
    const consumer = new QxlConsumer(device);
    while (received.length < job.count) {
      for (let cmd = consumer.nextCommand(); cmd; cmd = consumer.nextCommand()) {
        received.push(cmd.addr);
        consumer.release(cmd.addr);
      }
      if (received.length < job.count) {
        const t0 = performance.now();
        await consumer.waitForWork({ timeoutMs: 20_000 });
        if (!consumer.hasWork() && performance.now() - t0 >= 19_900) throw new Error('async consumer: timed out waiting for items');
        sleeps++;
      }
    }
    // Hand back releases still waiting for room in the release ring.
    while (consumer.flushReleases() > 0) await consumer.waitForWork({ timeoutMs: 20 });
  }
  parentPort!.postMessage({ received, sleeps });
}

main().catch((err: unknown) => {
  parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
});
