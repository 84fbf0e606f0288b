/**
 * The WASM image codecs decoded by the real clients: with each compression
 * mode forced, the first frame and the animated updates after it reach
 * spice-html5 and spice-gtk (a live GObject client and spicy-screenshot)
 * pixel for pixel, and the host's encoder stats show the codec was used.
 * LZ, QUIC and LZ4 are lossless, so the bound is exact. LZ4 goes only to
 * spice-gtk, which advertises it.
 */
import { expect, test } from '@playwright/test';
import type { Codec, ImageCompression } from '../src/worker/image-encoder.ts';
import { comparePixels, spicyScreenshot } from './harness.ts';
import { expectedFrame, openHtml5, pauseAndSettle, readHtml5Canvas, resume, useHostedSession, waitFrames, type HostPage } from './pages.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession();

interface CodecStats {
  byCodec: Record<Codec, number>;
  bytesIn: number;
  bytesOut: number;
}

async function encoderStats(host: HostPage): Promise<CodecStats> {
  return host.page.evaluate(async () => {
    const s = (await window.spiceHost!.worker.stats()).images;
    return { byCodec: s.byCodec, bytesIn: s.bytesIn, bytesOut: s.bytesOut };
  });
}

async function setCompression(host: HostPage, mode: ImageCompression): Promise<void> {
  await host.page.evaluate((m) => window.spiceHost!.worker.setImageCompression(m), mode);
}

for (const mode of ['lz', 'quic', 'lz4', 'auto'] as const) {
  test(`image compression ${mode}: spice-html5 and spice-gtk show the pattern pixel for pixel`, async ({ browser }) => {
    const host = session.host();
    await setCompression(host, mode);
    const before = await encoderStats(host);
    const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
    const html5 = await openHtml5(browser, session.stack());
    try {
      await gtk.waitDisplay();
      await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 20_000 }).toBe(true);
      // Let the animation run so that updates, not only the first frame, go through the codec.
      await waitFrames(host, 30);
      const frame = await pauseAndSettle(host);
      const expected = expectedFrame(frame);
      await expect
        .poll(async () => {
          const c = await readHtml5Canvas(html5);
          return c ? comparePixels(c.rgb, expected, c.width).diff : -1;
        }, { timeout: 10_000, message: `spice-html5 differs from frame ${frame} (${mode})` })
        .toBe(0);
      await expect
        .poll(async () => comparePixels((await gtk.screenshot()).rgb, expected, 1024).diff, {
          timeout: 10_000,
          message: `spice-gtk differs from frame ${frame} (${mode})`,
        })
        .toBe(0);
      // A fresh client gets the whole frame as one encoded image.
      const { image, result } = await spicyScreenshot(session.stack().tcpPort);
      expect(image, `spicy-screenshot failed: ${result.stderr}`).not.toBeNull();
      expect(comparePixels(image!.rgb, expected, 1024).diff).toBe(0);
      expect(html5.logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);

      const after = await encoderStats(host);
      const used = (c: Codec): number => after.byCodec[c] - before.byCodec[c];
      if (mode === 'auto') {
        // The pattern has flat, text-like areas (LZ) and gradients (QUIC).
        expect(used('lz')).toBeGreaterThan(0);
        expect(used('quic')).toBeGreaterThan(0);
      } else if (mode === 'lz4') {
        // Only spice-gtk advertises LZ4; spice-html5 gets LZ instead.
        expect(used('lz4')).toBeGreaterThan(3);
        expect(used('lz')).toBeGreaterThan(3);
        expect(used('quic')).toBe(0);
      } else {
        expect(used(mode)).toBeGreaterThan(10);
        expect(used(mode === 'lz' ? 'quic' : 'lz')).toBe(0);
        expect(used('lz4')).toBe(0);
      }
      // Only areas too small for a codec go raw; the wire carries less than the pixels.
      expect(used('bitmap')).toBeLessThan(used('lz') + used('quic') + used('lz4'));
      expect(after.bytesOut - before.bytesOut).toBeLessThan((after.bytesIn - before.bytesIn) / 2);
    } finally {
      await gtk.close();
      await html5.page.context().close();
      await resume(host);
    }
  });
}
