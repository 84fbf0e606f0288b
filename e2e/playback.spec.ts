/**
 * Sound from the test pattern's test signal (`tone=440`) reaches real clients:
 * spice-gtk (SpiceClientGLib, over the relay's TCP port) decodes playback
 * data whose dominant frequency is the tone's, raw and Opus; spice-html5 in
 * Chromium plays the Opus stream (its audio element advances, no decode
 * error); the volume and mute the page sets reach spice-gtk.
 */
import { expect, test } from '@playwright/test';
import { medianDominantFrequency, leftChannel } from '../test/helpers/dominant-frequency.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { openHtml5, useHostedSession } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

const TONE_HZ = 440;
// spice-html5 plays through an <audio autoplay>: without a user gesture Chromium would hold it paused.
test.use({ launchOptions: { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] } });
const session = useHostedSession(`&tone=${TONE_HZ}`);

let client: SpiceGtkClient | undefined;

test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

function soundStats() {
  return session.host().page.evaluate(async () => (await window.spiceHost!.stats()).sound);
}

test('spice-gtk, raw S16: the playback data it decodes is the test tone (FFT, ±2 Hz), and it keeps our latency', async () => {
  // SPICE_DISABLE_OPUS: spice-gtk does not offer Opus, so the server must send raw PCM.
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true, env: { SPICE_DISABLE_OPUS: '1' } });
  const c = client;
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  // LATENCY came after START, which resets spice-gtk's to 200 ms: the video's lag, 100 ms, holds.
  await expect.poll(async () => (await c.playback()).min_latency, { timeout: 5_000 }).toBe(100);
  expect(await c.playback()).toMatchObject({ format: 1, channels: 2, rate: 48000 });
  const rec = await c.recordPlayback(700);
  expect(rec).toMatchObject({ channels: 2, rate: 48000 });
  const hz = medianDominantFrequency(leftChannel(rec.pcm), rec.rate);
  expect(Math.abs(hz - TONE_HZ), `dominant frequency ${hz.toFixed(2)} Hz`).toBeLessThanOrEqual(2);
  const stats = await soundStats();
  expect(stats?.playback.bytesByMode.raw ?? 0).toBeGreaterThan(0);
  expect(stats?.playback.bytesByMode.opus ?? 0).toBe(0);
});

test('spice-gtk, Opus: it gets Opus (WebCodecs in the SoundWorker) and decodes the test tone (FFT, ±2 Hz)', async () => {
  const before = (await soundStats())?.playback.bytesByMode.opus ?? 0;
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true });
  const c = client;
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  const rec = await c.recordPlayback(700);
  const hz = medianDominantFrequency(leftChannel(rec.pcm), rec.rate);
  expect(Math.abs(hz - TONE_HZ), `dominant frequency ${hz.toFixed(2)} Hz`).toBeLessThanOrEqual(2);
  const opusBytes = ((await soundStats())?.playback.bytesByMode.opus ?? 0) - before;
  // 700 ms of raw PCM would be 134 400 bytes; Opus at 96 kbit/s is about 8 400.
  expect(opusBytes).toBeGreaterThan(0);
  expect(opusBytes).toBeLessThan(rec.pcm.byteLength / 4);
});

test('volume and mute set on the page reach spice-gtk', async () => {
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true });
  const c = client;
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  expect(await c.playback()).toMatchObject({ volume: [65535, 65535], mute: false });
  await session.host().page.evaluate(async () => {
    await window.spiceHost!.sound!.setVolume([30000, 12000]);
    await window.spiceHost!.sound!.setMute(true);
  });
  await expect.poll(async () => (await c.playback()).volume).toEqual([30000, 12000]);
  await expect.poll(async () => (await c.playback()).mute).toBe(true);
  await session.host().page.evaluate(() => window.spiceHost!.sound!.setMute(false));
  await expect.poll(async () => (await c.playback()).mute).toBe(false);
});

test('a spice-gtk client that leaves leaves no playback channel client or SoundWorker session behind', async () => {
  const c = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true });
  try {
    await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
    await expect.poll(async () => (await soundStats())?.playback.clients).toBe(1);
  } finally {
    await c.close();
  }
  await expect.poll(async () => (await soundStats())?.playback.clients).toBe(0);
  await expect.poll(async () => (await soundStats())?.sessions).toBe(0);
  await expect.poll(() => session.host().page.evaluate(async () => (await window.spiceHost!.stats()).server.clients)).toBe(0);
});

test("the demo page's level meter moves with the tone, and its sound switch mutes spice-gtk", async () => {
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true });
  const c = client;
  const page = session.host().page;
  await expect.poll(() => page.locator('#sound-level').evaluate((m: HTMLMeterElement) => m.value)).toBeGreaterThan(0.2);
  await expect(page.locator('#sound-info')).toContainText('tone 440 Hz');
  await page.locator('#sound-on').uncheck();
  await expect.poll(async () => (await c.playback()).mute).toBe(true);
  await expect.poll(() => page.locator('#sound-level').evaluate((m: HTMLMeterElement) => m.value)).toBe(0);
  await page.locator('#sound-on').check();
  await expect.poll(async () => (await c.playback()).mute).toBe(false);
});

test('spice-html5 in Chromium plays the Opus stream: its audio element advances and decodes without error', async ({ browser }) => {
  const client = await openHtml5(browser, session.stack());
  try {
    const audioState = () =>
      client.page.evaluate(() => {
        const a = document.querySelector('audio');
        return a ? { time: a.currentTime, error: a.error?.message ?? a.error?.code ?? null, paused: a.paused, buffered: a.buffered.length } : null;
      });
    await expect.poll(async () => (await audioState())?.time ?? 0, { timeout: 20_000 }).toBeGreaterThan(0.3);
    const first = (await audioState())!;
    await expect.poll(async () => (await audioState())!.time, { timeout: 10_000 }).toBeGreaterThan(first.time + 0.5);
    const now = (await audioState())!;
    expect(now).toMatchObject({ error: null, paused: false });
    expect(now.buffered).toBeGreaterThan(0);
    const bad = client.logs.filter((l) => /cannot handle|not available|unexpectedly|sourcebuffer.*error|pageerror/i.test(l));
    expect(bad, client.logs.join('\n')).toEqual([]);
  } finally {
    await client.page.context().close();
  }
});
