/**
 * Sound and MJPEG video in step, measured at spice-gtk in one run. One page
 * canvas (a `<spice-server>` on element.html) shows a 320x240 moving picture,
 * which the server sends as an MJPEG stream, with a Web Audio oscillator as
 * its sound; every 500 ms the same animation frame paints a white patch into
 * the picture (for 100 ms) and opens the oscillator's gain (a 50 ms beep).
 *
 * spice-gtk (through its GObject bindings, raw PCM; the script's
 * --media-times reads the media times it works with from its debug log and
 * plays the part of an audio backend lagging 100 ms, so its session clock
 * runs on the audio as in remote-viewer with sound) gives, for each flash,
 * the STREAM_DATA that showed it (its media time and arrival) and when it was
 * drawn; for each beep, the playback DATA holding its onset (the packet's
 * time, from the clock set_delay sets, plus the onset's place in it) and its
 * arrival. Each flash is paired with its beep and the rows give the offset
 * (video − audio) three ways: the stamped media times (what spice-gtk
 * presents them by), the arrival times, and the presentation times (the draw
 * on spice-gtk's clock against the beep's media time, the moment a backend
 * with that delay plays it); then how far ahead of its presentation time
 * each stream frame and each audio packet arrived (a negative margin is
 * late). The bound issue 12 sets is 100 ms.
 *
 * `--avsync-seconds N` sets the run's length (default 20: 40 flashes);
 * `--avsync-dump FILE` writes what spice-gtk reported, and the page's flash
 * times, to FILE (JSON) for a closer look.
 */
import { writeFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { startStack } from '../e2e/harness.ts';
import { startSpiceGtkClient } from '../e2e/spice-gtk.ts';
import { analyse, FLASH_EVERY_MS, percentile } from './av-sync-analysis.ts';
import type { Row } from './run.ts';

/** Issue 12: sound and video within this many ms of each other. */
export const BOUND_MS = 100;
/** The backend delay spice-gtk is told (set_delay): the server's LATENCY and media-clock lag. */
const AUDIO_DELAY_MS = 100;
const VIDEO = { left: 80, top: 60, width: 320, height: 240 };
/** The middle of the flash patch: a redraw there is measured. */
const PROBE: [number, number, number, number] = [VIDEO.left + 152, VIDEO.top + 112, 16, 16];

function secondsArg(): number {
  const i = process.argv.indexOf('--avsync-seconds');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 20;
  if (!Number.isFinite(n) || n < 3) throw new Error(`--avsync-seconds: expected a number of seconds ≥ 3, got "${process.argv[i + 1]}"`);
  return n;
}

/**
 * The scene, as page source text (the TypeScript loader would wrap named
 * functions in a helper the page lacks). Its animation loop is registered
 * before the element's canvas sampler, so a frame's drawing is sampled in
 * that same frame.
 */
const SCENE = `(async () => {
  document.querySelector('#pattern')?.remove();
  const el = document.querySelector('#canvas');
  const art = document.querySelector('#art');
  art.width = 480;
  art.height = 360;
  const g2d = art.getContext('2d');
  g2d.fillStyle = '#203040';
  g2d.fillRect(0, 0, art.width, art.height);
  const V = ${JSON.stringify(VIDEO)};
  const img = g2d.createImageData(V.width, V.height);
  const ctx = new AudioContext();
  const osc = new OscillatorNode(ctx, { frequency: 1000 });
  const gain = new GainNode(ctx, { gain: 0 });
  osc.connect(gain);
  osc.start();
  const bench = (window.avBench = { flashes: [], until: 0, next: 0, left: 0, done: false });
  bench.start = (count) => {
    bench.left = count;
    bench.done = false;
    bench.next = performance.now();
  };
  let n = 0;
  const frame = (now) => {
    n++;
    const d = img.data;
    for (let y = 0, o = 0; y < V.height; y++) {
      for (let x = 0; x < V.width; x++, o += 4) {
        // A picture that moves every frame (so it streams) and never nears white (so a flash is plain).
        d[o] = (((x + n * 3) & 0xff) * 0.7) | 0;
        d[o + 1] = (((y * 2 + n) & 0xff) * 0.7) | 0;
        d[o + 2] = ((((x + y) >> 1) + ((n * 5) & 0x7f)) * 0.5) | 0;
        d[o + 3] = 255;
      }
    }
    g2d.putImageData(img, V.left, V.top);
    if (bench.left > 0 && now >= bench.next) {
      bench.left--;
      bench.next += ${FLASH_EVERY_MS};
      bench.until = now + 100;
      // The beep starts with the next audio render quantum, the flash with this frame.
      const t = ctx.currentTime;
      gain.gain.setValueAtTime(0.5, t);
      gain.gain.setValueAtTime(0, t + 0.05);
      bench.flashes.push(performance.timeOrigin + performance.now());
      if (bench.left === 0) setTimeout(() => (bench.done = true), ${FLASH_EVERY_MS});
    }
    if (now < bench.until) {
      g2d.fillStyle = '#ffffff';
      g2d.fillRect(V.left + 80, V.top + 60, 160, 120);
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  el.audioSource = gain;
  await el.setSource('#art');
})()`;

function offsetRow(name: string, offsets: number[], extra: Record<string, number | string> = {}): Row {
  const abs = offsets.map(Math.abs).sort((a, b) => a - b);
  const signed = [...offsets].sort((a, b) => a - b);
  return {
    section: 'avsync',
    name,
    'p50 ms': +percentile(signed, 50).toFixed(1),
    '|p95| ms': +percentile(abs, 95).toFixed(1),
    '|max| ms': +(abs.at(-1) ?? NaN).toFixed(1),
    'bound ms': BOUND_MS,
    within: abs.length > 0 && abs.at(-1)! <= BOUND_MS ? 'yes' : 'NO',
    pairs: offsets.length,
    ...extra,
  };
}

/** How long after the page made each flash (and its beep) spice-gtk drew it (played it): [made epoch ms] against the pairs. */
function latencyRow(name: string, made: number[], at: number[]): Row {
  const lat = at
    .map((t) => {
      const m = made.filter((x) => x <= t).at(-1);
      return m === undefined ? NaN : t - m;
    })
    .filter((x) => x < FLASH_EVERY_MS)
    .sort((a, b) => a - b);
  return { section: 'avsync', name, 'p50 ms': +percentile(lat, 50).toFixed(1), 'p95 ms': +percentile(lat, 95).toFixed(1), of: lat.length };
}

function marginRow(name: string, margins: number[], extra: Record<string, number | string> = {}): Row {
  const sorted = [...margins].sort((a, b) => a - b);
  return {
    section: 'avsync',
    name,
    'p50 ms': +percentile(sorted, 50).toFixed(1),
    'min ms': +(sorted[0] ?? NaN).toFixed(1),
    late: margins.filter((m) => m < 0).length,
    of: margins.length,
    ...extra,
  };
}

export async function avSyncRows(): Promise<Row[]> {
  const seconds = secondsArg();
  const count = Math.round((seconds * 1000) / FLASH_EVERY_MS);
  const stack = await startStack();
  // An AudioContext renders only after a user gesture unless autoplay is allowed.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${stack.baseUrl}/element.html?relay=${encodeURIComponent(stack.relayUrl)}`);
    await page.waitForFunction(() => document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')?.sessionHost != null, null, { timeout: 60_000 });
    await page.evaluate(SCENE);
    await page.waitForFunction(() => document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')?.sessionHost?.sound != null, null, { timeout: 30_000 });
    const gtk = await startSpiceGtkClient({ port: stack.tcpPort, audio: true, mediaTimes: AUDIO_DELAY_MS, env: { SPICE_DISABLE_OPUS: '1' } });
    try {
      const streams = (): Promise<{ active: number }> =>
        page.evaluate(async () => (await document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!.sessionHost!.worker.stats()).streams);
      const soundStats = (): Promise<{ skipped: number; dropped: number }> =>
        page.evaluate(async () => {
          const p = (await document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!.sessionHost!.sound!.stats()).playback;
          return { skipped: p.packetsSkipped, dropped: p.packetsDropped };
        });
      const until = async (what: string, ok: () => Promise<boolean>, ms: number): Promise<void> => {
        for (const end = Date.now() + ms; !(await ok()); await new Promise((r) => setTimeout(r, 100))) {
          if (Date.now() > end) throw new Error(`av-sync: timed out after ${ms} ms waiting for ${what}\n${gtk.stderr()}`);
        }
      };
      await until('the MJPEG stream', async () => (await streams()).active === 1, 20_000);
      await until('spice-gtk playback', async () => (await gtk.playback()).playing, 20_000);
      const before = await soundStats();
      await gtk.watchAv(PROBE);
      await page.evaluate((n) => (window as unknown as { avBench: { start(n: number): void } }).avBench.start(n), count);
      // Meanwhile, how much of the Web Audio feed waits in the SoundWorker: what it holds is stamped that much late.
      const feedMs: number[] = [];
      await until(
        'the last flash',
        async () => {
          const { done, buffered } = await page.evaluate(async () => {
            const host = document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!.sessionHost!;
            const feed = (await host.sound!.stats()).feeds[0];
            return { done: (window as unknown as { avBench: { done: boolean } }).avBench.done, buffered: feed?.bufferedFrames ?? NaN };
          });
          feedMs.push(buffered / 48);
          return done;
        },
        seconds * 1000 + 30_000,
      );
      const ev = await gtk.avEvents();
      const made = await page.evaluate(() => (window as unknown as { avBench: { flashes: number[] } }).avBench.flashes);
      const dump = process.argv.indexOf('--avsync-dump');
      if (dump >= 0) writeFileSync(process.argv[dump + 1]!, JSON.stringify({ ...ev, made }));
      const after = await soundStats();
      const active = (await streams()).active;
      const r = analyse(ev);
      const stamped = r.pairs.map((p) => p.videoMm - p.audioMm);
      const arrival = r.pairs.map((p) => p.videoArrival - p.audioArrival);
      const presented = r.pairs.map((p) => p.shownMm - p.audioMm);
      const seen = { flashes: count, shown: r.flashesShown, beeps: r.beeps };
      return [
        offsetRow('flash − beep, stamped media times', stamped, seen),
        offsetRow('flash − beep, arrival at spice-gtk', arrival),
        offsetRow('flash − beep, drawn vs played', presented),
        latencyRow('page flash → drawn at spice-gtk', made, r.pairs.map((p) => p.shownAt + ev.epochOffset)),
        latencyRow('page beep → played at spice-gtk', made, r.pairs.map((p) => p.playedAt + ev.epochOffset)),
        marginRow('stream frames: ahead of presentation', r.videoMargins, { dropped: ev.drops, streaming: active ? 'yes' : 'NO' }),
        marginRow('audio packets: ahead of presentation', r.audioMargins, {
          skipped: after.skipped - before.skipped,
          dropped: after.dropped - before.dropped,
          'anchor gaps': r.anchorGaps,
          'feed p50 ms': +percentile([...feedMs].sort((a, b) => a - b), 50).toFixed(1),
          'feed max ms': +Math.max(...feedMs).toFixed(1),
        }),
      ];
    } finally {
      await gtk.close();
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
}
