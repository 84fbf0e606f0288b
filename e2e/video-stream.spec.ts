/**
 * Video streams with both real clients: a region that changes every frame
 * becomes an MJPEG stream; its frames arrive within a stated lossy bound; when
 * the region stops changing the stream ends and both pictures are exact again.
 */
import { expect, test } from '@playwright/test';
import { comparePixels, spicyScreenshot, type RgbImage } from './harness.ts';
import { openHtml5, readHtml5Canvas, useHostedSession, workloadFrame } from './pages.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession('&workload=video');
const VIDEO = { left: 352, top: 264, width: 320, height: 240 };
/** Lossy bound for JPEG frames: mean absolute error per channel, and the share of channel values off by more than 32 (JPEG rings at the hard edges of the test video). */
const MAX_MEAN_ERROR = 4;
const MAX_FAR_SHARE = 0.03;

function regionError(img: RgbImage, want: Uint8Array): { mean: number; far: number } {
  let sum = 0;
  let far = 0;
  let n = 0;
  for (let y = VIDEO.top; y < VIDEO.top + VIDEO.height; y++) {
    for (let x = VIDEO.left; x < VIDEO.left + VIDEO.width; x++) {
      for (let c = 0; c < 3; c++) {
        const o = (y * img.width + x) * 3 + c;
        const d = Math.abs(img.rgb[o]! - want[o]!);
        sum += d;
        if (d > 32) far++;
        n++;
      }
    }
  }
  return { mean: sum / n, far: far / n };
}

async function streamStats(): Promise<{ active: number; started: number; framesSent: number }> {
  return session.host().page.evaluate(async () => (await window.spiceHost!.worker.stats()).streams);
}

test('MJPEG stream: starts, delivers frames to both clients within the lossy bound, ends with an exact redraw', async ({ browser }) => {
  const page = session.host().page;
  const html5 = await openHtml5(browser, session.stack());
  await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 20_000 }).toBe(true);
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    await expect.poll(async () => (await streamStats()).active, { timeout: 10_000 }).toBe(1);
    const f0 = (await streamStats()).framesSent;
    await expect.poll(async () => (await streamStats()).framesSent - f0, { timeout: 10_000 }).toBeGreaterThan(20);

    // Hold the source on its last frame: the area is still redrawn every tick, so
    // the stream goes on (sending that frame) while we look, however slow the machine.
    await page.evaluate(() => window.spiceHost!.workload!.hold());
    const want = await workloadFrame(session.host());
    const lossyIn = async (shot: () => Promise<RgbImage>): Promise<string> => {
      const e = regionError(await shot(), want);
      return e.mean <= MAX_MEAN_ERROR && e.far <= MAX_FAR_SHARE ? 'within' : JSON.stringify(e);
    };
    // Past spice-gtk's 100 ms media-clock lag the held frame shows, lossy.
    await expect.poll(() => lossyIn(() => gtk.screenshot()), { timeout: 10_000, message: 'spice-gtk: held stream frame within the lossy bound' }).toBe('within');
    await expect.poll(async () => lossyIn(async () => (await readHtml5Canvas(html5))!), { timeout: 10_000, message: 'spice-html5: held stream frame within the lossy bound' }).toBe('within');
    expect((await streamStats()).active, 'still streaming, so the pictures were JPEG frames').toBe(1);

    // Stop the source: nothing redraws the area any more.
    await page.evaluate(() => window.spiceHost!.workload!.stop());
    // A second later the stream ends and the area is sent losslessly: both pictures are exact.
    await expect.poll(async () => (await streamStats()).active, { timeout: 5000 }).toBe(0);
    await expect.poll(async () => comparePixels((await gtk.screenshot()).rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    await expect.poll(async () => comparePixels((await readHtml5Canvas(html5))!.rgb, want, 1024).diff, { timeout: 5000 }).toBe(0);
    const shot = await spicyScreenshot(session.stack().tcpPort);
    expect(comparePixels(shot.image!.rgb, want, 1024).diff).toBe(0);
  } finally {
    await gtk.close();
    await html5.page.context().close();
  }
});
