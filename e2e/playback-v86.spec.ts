/**
 * The v86 guests' sound: the graphics guest programs the emulated Sound
 * Blaster 16 (auto-init DMA, 22050 Hz, a 441 Hz square wave) when T is
 * pressed; with `sound=1` the v86 worker's DAC feeds the SoundWorker, and
 * spice-gtk, which pressed T through its own inputs channel, decodes the
 * tone. T again stops it, and the client hears STOP once the card is quiet.
 */
import { expect, test } from '@playwright/test';
import { medianDominantFrequency, leftChannel } from '../test/helpers/dominant-frequency.ts';
import { useHostedSession } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession('&guest=graphics&sound=1');
const KEY_T = 0x14;
/** 22050 Hz / 50 samples per period. */
const GUEST_TONE_HZ = 441;

let client: SpiceGtkClient | undefined;

test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

async function vmSize(): Promise<string> {
  const s = await session.host().page.evaluate(async () => await window.spiceHost!.vm!.stats());
  return `${s.mode} ${s.width}x${s.height}`;
}

test('a key makes the graphics guest play its Sound Blaster 16 tone, and spice-gtk decodes it (FFT ±2 Hz)', async () => {
  await expect.poll(vmSize, { timeout: 30_000 }).toBe('graphics 1024x768');
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true });
  const c = client;
  // Silent until the guest plays: no START yet.
  expect((await c.playback()).playing).toBe(false);
  await c.keyPressRelease(KEY_T);
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  const rec = await c.recordPlayback(700);
  const hz = medianDominantFrequency(leftChannel(rec.pcm), rec.rate);
  expect(Math.abs(hz - GUEST_TONE_HZ), `dominant frequency ${hz.toFixed(2)} Hz`).toBeLessThanOrEqual(2);
  const frames = await session.host().page.evaluate(async () => (await window.spiceHost!.vm!.stats()).soundFrames);
  expect(frames).toBeGreaterThan(22050 / 2);

  await c.keyPressRelease(KEY_T);
  await expect.poll(async () => (await c.playback()).stops, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
  expect((await c.playback()).playing).toBe(false);
});
