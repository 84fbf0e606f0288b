/**
 * The RECORD channel: a library source that takes microphones
 * (`SpiceSource.microphone`) gets what spice-gtk's record channel sends — a
 * 700 Hz sine fed in through spice_record_channel_send_data, as an audio
 * backend would capture it — and the server asked spice-gtk to capture
 * (record-start at 48 kHz stereo) only because that source listens.
 */
import { expect, test } from '@playwright/test';
import { medianDominantFrequency } from '../test/helpers/dominant-frequency.ts';
import { openElementPage, useOwnSession } from './element-sound.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

declare global {
  interface Window {
    /** Left-channel samples the test source received from microphones. */
    micSamples?: number[];
  }
}

const own = useOwnSession();

test("a source that takes microphones gets spice-gtk's record data (FFT ±2 Hz)", async ({ browser }) => {
  const { stack, page } = await openElementPage(browser, own);
  await page.evaluate(async () => {
    window.micSamples = [];
    const el = document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!;
    await el.setSource({
      async attach(display) {
        await display.resize(320, 200);
        display.framebuffer.fill(0x336699);
        display.flush();
      },
      microphone(samples, _rate, channels) {
        for (let i = 0; i < samples.length; i += channels) window.micSamples!.push(samples[i]!);
      },
    });
  });
  const c = (own.client = await startSpiceGtkClient({ port: stack.tcpPort, audio: true }));
  await expect.poll(async () => (await c.record()).capturing, { timeout: 15_000 }).toBe(true);
  expect(await c.record()).toMatchObject({ channels: 2, rate: 48000 });
  await c.recordSend(700, 1000);
  await expect.poll(() => page.evaluate(() => window.micSamples!.length), { timeout: 15_000 }).toBeGreaterThanOrEqual(48000);
  const got = await page.evaluate(() => window.micSamples!);
  expect(Math.abs(medianDominantFrequency(got, 48000) - 700)).toBeLessThanOrEqual(2);
});
