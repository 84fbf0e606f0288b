/**
 * Sound from the test pattern's test signal (`tone=440`) reaches real clients:
 * spice-gtk (SpiceClientGLib, over the relay's TCP port) decodes playback
 * data whose dominant frequency is the tone's, and the volume and mute the
 * page sets reach its playback channel.
 */
import { expect, test } from '@playwright/test';
import { dominantFrequency, leftChannel } from '../test/helpers/dominant-frequency.ts';
import { useHostedSession } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

const TONE_HZ = 440;
const session = useHostedSession(`&tone=${TONE_HZ}`);

let client: SpiceGtkClient | undefined;

test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

function soundStats() {
  return session.host().page.evaluate(async () => (await window.spiceHost!.stats()).sound);
}

test('spice-gtk, raw S16: the playback data it decodes is the test tone (FFT, ±2 Hz)', async () => {
  // SPICE_DISABLE_OPUS: spice-gtk does not offer Opus, so the server must send raw PCM.
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true, env: { SPICE_DISABLE_OPUS: '1' } });
  const c = client;
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  expect(await c.playback()).toMatchObject({ format: 1, channels: 2, rate: 48000 });
  const rec = await c.recordPlayback(700);
  expect(rec).toMatchObject({ channels: 2, rate: 48000 });
  const hz = dominantFrequency(leftChannel(rec.pcm), rec.rate);
  expect(Math.abs(hz - TONE_HZ), `dominant frequency ${hz.toFixed(2)} Hz`).toBeLessThanOrEqual(2);
  const stats = await soundStats();
  expect(stats?.playback.bytesByMode.raw ?? 0).toBeGreaterThan(0);
  expect(stats?.playback.bytesByMode.opus ?? 0).toBe(0);
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
