/**
 * The library's sound path: a `<spice-server>` serving a page canvas with a
 * Web Audio node as its `audioSource` (an OscillatorNode in a 44.1 kHz
 * context: tapped by an AudioWorklet, resampled to 48 kHz in the SoundWorker)
 * is heard by spice-gtk at the oscillator's frequency; so is a MediaStream
 * (connectStream, its own 48 kHz context); pushPcm() plays too; the
 * element's tone attribute drives the test pattern's test signal.
 */
import { expect, test } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { medianDominantFrequency, leftChannel, rmsLevel } from '../test/helpers/dominant-frequency.ts';
import { openElementPage, useOwnSession } from './element-sound.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

// An AudioContext renders only after a user gesture unless autoplay is allowed.
test.use({ launchOptions: { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] } });

const own = useOwnSession();

test('a canvas source with a Web Audio node: spice-gtk hears the oscillator (FFT ±2 Hz); pushed PCM plays too', async ({ browser }) => {
  const { stack, page, logs } = await openElementPage(browser, own);
  await page.evaluate(async () => {
    const el = document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!;
    const ctx = new AudioContext({ sampleRate: 44100 });
    const osc = new OscillatorNode(ctx, { frequency: 1000 });
    const gain = new GainNode(ctx, { gain: 0.3 });
    osc.connect(gain);
    osc.start();
    el.audioSource = gain;
    await el.setSource('#art'); // restarts the session, now with sound
  });
  const c = (own.client = await startSpiceGtkClient({ port: stack.tcpPort, audio: true }));
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  // Skip the first moments (the tap starts as the AudioContext starts rendering).
  await expect.poll(async () => rmsLevel(leftChannel((await c.recordPlayback(100)).pcm)), { timeout: 15_000 }).toBeGreaterThan(0.1);
  const rec = await c.recordPlayback(700);
  const hz = medianDominantFrequency(leftChannel(rec.pcm), rec.rate);
  expect(Math.abs(hz - 1000), `dominant frequency ${hz.toFixed(2)} Hz\n${logs.join('\n')}`).toBeLessThanOrEqual(2);

  // pushPcm: stop the oscillator's feed, push 2 s of a 300 Hz sine in 20 ms blocks as a source would.
  await page.evaluate(() => {
    const el = document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!;
    const audio = el.audio!;
    void ((el.audioSource as GainNode).context as AudioContext).suspend();
    let frame = 0;
    const push = (): void => {
      const block = new Int16Array(960 * 2);
      for (let i = 0; i < 960; i++, frame++) block[2 * i] = block[2 * i + 1] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * frame) / 48000));
      audio.pushPcm(block, 48000, 2);
      if (frame < 48000 * 4) setTimeout(push, 20);
    };
    push();
  });
  await expect
    .poll(async () => medianDominantFrequency(leftChannel((await c.recordPlayback(600)).pcm), 48000), { timeout: 15_000 })
    .toBeGreaterThan(298);
  const pushed = medianDominantFrequency(leftChannel((await c.recordPlayback(600)).pcm), 48000);
  expect(Math.abs(pushed - 300)).toBeLessThanOrEqual(2);
});

test('<spice-server tone="HZ">: the test pattern element plays its test signal, and a new tone restarts it', async ({ browser }) => {
  const { page } = await openElementPage(browser, own);
  const inputs = (): Promise<string[] | null> =>
    page.evaluate(async () => {
      const host = document.querySelector<HTMLElementTagNameMap['spice-server']>('#pattern')!.sessionHost;
      return host ? ((await host.stats()).sound?.inputs ?? null) : null;
    });
  expect(await inputs()).toBeNull(); // no tone attribute: no sound, no playback channel
  await page.evaluate(() => document.querySelector('#pattern')!.setAttribute('tone', '330'));
  await expect.poll(inputs, { timeout: 30_000 }).toEqual(['tone 330 Hz']);
  await page.evaluate(() => document.querySelector('#pattern')!.setAttribute('tone', '550'));
  await expect.poll(inputs, { timeout: 30_000 }).toEqual(['tone 550 Hz']);
  // A tone set while the element is still starting (the start under way read the old one) restarts it too.
  await page.evaluate(async () => {
    const el = document.querySelector<HTMLElementTagNameMap['spice-server']>('#pattern')!;
    await el.stop();
    void el.start();
    el.setAttribute('tone', '770');
  });
  await expect.poll(inputs, { timeout: 30_000 }).toEqual(['tone 770 Hz']);
});

test('a canvas source with a MediaStream (a page oscillator through MediaStreamAudioDestinationNode): spice-gtk hears it (FFT ±2 Hz)', async ({ browser }) => {
  const { stack, page, logs } = await openElementPage(browser, own);
  await page.evaluate(async () => {
    const el = document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!;
    const ctx = new AudioContext();
    const dest = ctx.createMediaStreamDestination();
    const osc = new OscillatorNode(ctx, { frequency: 600 });
    osc.connect(new GainNode(ctx, { gain: 0.3 })).connect(dest);
    osc.start();
    el.audioSource = dest.stream;
    await el.setSource('#art');
  });
  const c = (own.client = await startSpiceGtkClient({ port: stack.tcpPort, audio: true }));
  await expect.poll(async () => (await c.playback()).playing, { timeout: 15_000 }).toBe(true);
  await expect.poll(async () => rmsLevel(leftChannel((await c.recordPlayback(100)).pcm)), { timeout: 15_000 }).toBeGreaterThan(0.1);
  const hz = medianDominantFrequency(leftChannel((await c.recordPlayback(700)).pcm), 48000);
  expect(Math.abs(hz - 600), `dominant frequency ${hz.toFixed(2)} Hz\n${logs.join('\n')}`).toBeLessThanOrEqual(2);
});
