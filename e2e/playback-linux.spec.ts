/**
 * The Linux guest plays a file and it arrives: its initramfs loads snd-sb16
 * (v86's Sound Blaster 16 at 220h) and ALSA's OSS emulation, and
 * `cat /usr/share/sounds/tone-1000hz.u8 >/dev/dsp` on its serial shell
 * (8-bit mono 8 kHz, a 1000 Hz sine) reaches spice-gtk's playback channel at
 * 1000 Hz, nearly whole: the card hands over 128 ms per DMA block, which
 * the SoundWorker's feed must keep rather than cut to its usual bound (it
 * once dropped more than half of every block). Boots a Linux of its own (with `sound=1`; the shared guest has no
 * sound). Needs `npm run guest:linux`.
 */
import { expect, test } from '@playwright/test';
import { medianDominantFrequency, leftChannel } from '../test/helpers/dominant-frequency.ts';
import { slowdownOnce } from './machine-speed.ts';
import { useHostedSession } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession('&guest=linux&sound=1');

let client: SpiceGtkClient | undefined;
test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

function sb16Feed() {
  return session.host().page.evaluate(async () => (await window.spiceHost!.stats()).sound?.feeds.find((f) => f.name.startsWith('Sound Blaster 16')));
}

function serial(): Promise<string> {
  return session.host().page.evaluate(() => window.spiceHost!.vm!.serial.join('\n'));
}

test('the Linux guest plays a file on /dev/dsp (snd-sb16 + OSS) and spice-gtk decodes it at 1000 Hz (FFT ±2 Hz)', async () => {
  const boot = Math.max(120_000, 90_000 * slowdownOnce());
  test.setTimeout(boot + 120_000);
  await expect.poll(serial, { timeout: boot, message: 'the Linux guest was not READY' }).toContain('SPICE-WEB-GUEST READY');
  expect(await serial()).not.toContain('insmod snd');
  client = await startSpiceGtkClient({ port: session.stack().tcpPort, audio: true });
  const c = client;
  await session.host().page.evaluate(() =>
    window.spiceHost!.vm!.remote.serialSend('ls -l /dev/dsp && echo dsp-$((6*7))-ok; cat /usr/share/sounds/tone-1000hz.u8 >/dev/dsp; echo played-$((6*7))\n'),
  );
  await expect.poll(serial, { timeout: 30_000 }).toContain('dsp-42-ok');
  await expect.poll(async () => (await c.playback()).playing, { timeout: 30_000 }).toBe(true);
  const rec = await c.recordPlayback(700);
  const hz = medianDominantFrequency(leftChannel(rec.pcm), rec.rate);
  expect(Math.abs(hz - 1000), `dominant frequency ${hz.toFixed(2)} Hz`).toBeLessThanOrEqual(2);
  // The whole 3 s file plays, then the card goes quiet and the client hears STOP.
  await expect.poll(serial, { timeout: 30_000 }).toContain('played-42');
  await expect.poll(async () => (await c.playback()).stops, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
  // Nearly all of it reached the playback clock: the feed trims only a producer that stays ahead (a few ms at the start).
  const feed = await sb16Feed();
  expect(feed, 'the SB16 feed is attached').toBeDefined();
  const out = (feed!.framesIn * 48_000) / 8000;
  expect(feed!.framesIn, 'the guest played most of its 24000 samples').toBeGreaterThan(20_000);
  expect(feed!.framesDropped / out, `dropped ${feed!.framesDropped} of ${out} frames`).toBeLessThan(0.1);
});
