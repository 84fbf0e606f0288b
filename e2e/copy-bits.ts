/**
 * Shared by the COPY_BITS specs: change detection finds scrolls and moved
 * blocks in a workload and sends them as COPY_BITS; the RedWorker applies
 * them, far fewer pixels get encoded than change, and both real clients'
 * pictures equal the source exactly.
 */
import { expect, type Browser } from '@playwright/test';
import type { Stack } from './harness.ts';
import { comparePixels, spicyScreenshot } from './harness.ts';
import { openHtml5, readHtml5Canvas, workloadFrame, type HostPage } from './pages.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

async function workerStats(host: HostPage): Promise<{ copyBits: number; bytesIn: number }> {
  return host.page.evaluate(async () => {
    const s = await window.spiceHost!.worker.stats();
    return { copyBits: s.copyBitsProcessed, bytesIn: s.images.bytesIn };
  });
}

export interface CopyBitsCase {
  /** COPY_BITS to wait for. */
  copyBits: number;
  /** Upper bound of encoded (raw) image bytes per COPY_BITS while the workload runs. */
  maxBytesPerCopyBits: number;
  timeoutMs: number;
}

export async function expectCopyBitsExact(
  browser: Browser,
  session: { stack(): Stack; host(): HostPage },
  c: CopyBitsCase,
): Promise<void> {
  const host = session.host();
  const html5 = await openHtml5(browser, session.stack());
  await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 20_000 }).toBe(true);
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    await gtk.waitDisplay();
    const before = await workerStats(host);
    await expect.poll(async () => (await workerStats(host)).copyBits - before.copyBits, { timeout: c.timeoutMs }).toBeGreaterThanOrEqual(c.copyBits);
    const after = await workerStats(host);
    expect((after.bytesIn - before.bytesIn) / (after.copyBits - before.copyBits)).toBeLessThan(c.maxBytesPerCopyBits);

    await host.page.evaluate(() => window.spiceHost!.workload!.stop());
    await host.page.waitForTimeout(200);
    const want = await workloadFrame(host);
    await expect.poll(async () => comparePixels((await gtk.screenshot()).rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    await expect.poll(async () => comparePixels((await readHtml5Canvas(html5))!.rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    const shot = await spicyScreenshot(session.stack().tcpPort);
    expect(comparePixels(shot.image!.rgb, want, 1024).diff).toBe(0);
    expect(html5.logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  } finally {
    await gtk.close();
    await html5.page.context().close();
  }
}
