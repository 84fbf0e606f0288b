/**
 * Lossy JPEG images for photo-like areas: forced (`--jpeg always`), both real
 * clients show the test pattern's gradient picture within the lossy bound,
 * then exactly once the area is refreshed losslessly. With the default
 * (`auto`) a client that reads slowly is measured as low-bandwidth and gets
 * JPEG, while a fast client on the same session keeps lossless images.
 */
import { expect, test } from '@playwright/test';
import { comparePixels, spicyScreenshot, type RgbImage } from './harness.ts';
import { expectedFrame, openHtml5, pauseAndSettle, readHtml5Canvas, resume, useHostedSession, type HostPage } from './pages.ts';
import { startSlowClient } from './slow-client.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession();
/** Lossy bound at quality 85: mean absolute error per channel over the frame, and the share of values off by more than 48 (ringing at hard edges). */
const MAX_MEAN_ERROR = 3;
const MAX_FAR_SHARE = 0.02;

function lossyError(img: RgbImage, want: Uint8Array): { mean: number; far: number } {
  let sum = 0;
  let far = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(img.rgb[i]! - want[i]!);
    sum += d;
    if (d > 48) far++;
  }
  return { mean: sum / want.length, far: far / want.length };
}

/** JPEG images sent to clients (one per client even when they share an encoding). */
async function jpegImages(host: HostPage): Promise<number> {
  return host.page.evaluate(async () => (await window.spiceHost!.worker.stats()).jpegDeliveries);
}

test('jpeg always: the picture arrives lossy within the bound, then exact after the lossless refresh', async ({ browser }) => {
  const host = session.host();
  await host.page.evaluate(() => window.spiceHost!.worker.setJpeg('always'));
  const frame = await pauseAndSettle(host);
  const want = expectedFrame(frame);
  const before = await jpegImages(host);
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  const html5 = await openHtml5(browser, session.stack());
  try {
    await gtk.waitDisplay();
    // The whole gradient frame is photo-like: it goes out as one JPEG per client.
    const first = lossyError(await gtk.screenshot(), want);
    expect(first.mean, JSON.stringify(first)).toBeLessThanOrEqual(MAX_MEAN_ERROR);
    expect(first.far, JSON.stringify(first)).toBeLessThanOrEqual(MAX_FAR_SHARE);
    await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 20_000 }).toBe(true);
    const h = lossyError((await readHtml5Canvas(html5))!, want);
    expect(h.mean, JSON.stringify(h)).toBeLessThanOrEqual(MAX_MEAN_ERROR);
    expect(await jpegImages(host)).toBeGreaterThanOrEqual(before + 2);
    // A second later each client gets the area losslessly.
    await expect.poll(async () => comparePixels((await gtk.screenshot()).rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    await expect.poll(async () => comparePixels((await readHtml5Canvas(html5))!.rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    expect(html5.logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  } finally {
    await gtk.close();
    await html5.page.context().close();
    await host.page.evaluate(() => window.spiceHost!.worker.setJpeg('auto'));
    await resume(host);
  }
});

test('jpeg auto: a slow reader is measured as low-bandwidth and gets JPEG; a fast client stays lossless', async ({ browser }) => {
  const host = session.host();
  const html5 = await openHtml5(browser, session.stack());
  await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 20_000 }).toBe(true);
  const slow = await startSlowClient(session.stack().tcpPort, 64 * 1024);
  try {
    // The slow client backs up; its measured speed falls under 10 Mbit/s.
    await expect
      .poll(
        async () => {
          const backlog = await host.page.evaluate(async () => (await window.spiceHost!.worker.stats()).displayBacklog);
          return backlog.some((b) => b.bandwidthBps !== null && b.bandwidthBps < 10_000_000);
        },
        { timeout: 15_000 },
      )
      .toBe(true);
    // Its backlog collapses into full redraws of the (photo-like) frame: those go out as JPEG.
    await expect.poll(() => jpegImages(host), { timeout: 15_000 }).toBeGreaterThan(0);
    // The fast client never got a lossy picture: after a pause it is exact at once, and spice-gtk connecting now too.
    const frame = await pauseAndSettle(host);
    const want = expectedFrame(frame);
    await expect.poll(async () => comparePixels((await readHtml5Canvas(html5))!.rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    const shot = await spicyScreenshot(session.stack().tcpPort);
    expect(comparePixels(shot.image!.rgb, want, 1024).diff).toBe(0);
    const fast = await host.page.evaluate(async () => (await window.spiceHost!.worker.stats()).displayBacklog);
    expect(fast.filter((b) => b.bandwidthBps === null || b.bandwidthBps >= 10_000_000).every((b) => b.lossyRects === 0)).toBe(true);
  } finally {
    slow.close();
    await html5.page.context().close();
    await resume(host);
  }
});
