/**
 * Sound figures through the relay to spice-gtk (GObject bindings, no audio
 * device), for raw S16 and for Opus: bytes per second of DATA, the host
 * Chromium's CPU while it serves that client (the Opus row's excess over the
 * raw row is the encoder's cost) and the SoundWorker's own time handing
 * packets to the encoder, the latency from a sample's time (the wall-clock
 * time its packet's first sample stands for, which the server records for
 * each DATA it sends; the client's k-th playback-data is its k-th DATA) to
 * spice-gtk's playback-data for it (p50/p95), and the drift of that latency
 * from the run's first 10 s to its last 10 s, and packets skipped (the
 * worker's timer came too late) or dropped (the client's connection backed up).
 *
 * `--sound-seconds N` sets each run's length (default 20; the README's drift
 * figure comes from 600).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { startStack, type Stack } from '../e2e/harness.ts';
import { startSpiceGtkClient } from '../e2e/spice-gtk.ts';
import type { Row } from './run.ts';

function secondsArg(): number {
  const i = process.argv.indexOf('--sound-seconds');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 20;
  if (!Number.isFinite(n) || n < 12) throw new Error(`--sound-seconds: expected a number of seconds ≥ 12, got "${process.argv[i + 1]}"`);
  return n;
}

/** CPU seconds of the process whose command line holds `marker` and of all its descendants. */
function treeCpuSeconds(marker: string): number {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const procs = new Map<number, { ppid: number; ticks: number; root: boolean }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name: ppid is the 2nd, utime and stime the 12th and 13th.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), root: readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) });
    } catch {
      // the process ended meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = procs.get(pid), hops = 0; p && hops < 64; p = procs.get(p.ppid), hops++) if (p.root) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, p] of procs) if (inTree(pid)) ticks += p.ticks;
  return ticks / ticksPerSecond;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

interface PlaybackNumbers {
  startedAt: number | null;
  skipped: number;
  dropped: number;
  bytesByMode: Record<string, number>;
  opus: { packets: number; busyMs: number };
}

async function playbackStats(host: Page): Promise<PlaybackNumbers> {
  return host.evaluate(async () => {
    const p = (await window.spiceHost!.sound!.stats()).playback;
    return { startedAt: p.startedAt, skipped: p.packetsSkipped, dropped: p.packetsDropped, bytesByMode: p.bytesByMode, opus: p.opus };
  });
}

async function run(stack: Stack, host: Page, marker: string, mode: 'raw' | 'opus', seconds: number): Promise<Row> {
  const gtk = await startSpiceGtkClient({ port: stack.tcpPort, audio: true, env: mode === 'raw' ? { SPICE_DISABLE_OPUS: '1' } : {} });
  try {
    await host.evaluate(() => window.spiceHost!.sound!.remote.traceSends(true));
    await gtk.watchPlayback();
    // Restart the tone so this client's first playback-data is packet 0 of a known START.
    await host.evaluate(async () => {
      await window.spiceHost!.sound!.setTone(null);
      await window.spiceHost!.sound!.setTone(440);
    });
    const before = await playbackStats(host);
    const cpu0 = treeCpuSeconds(marker);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = ((treeCpuSeconds(marker) - cpu0) / elapsed) * 100;
    const after = await playbackStats(host);
    const arrivals = await gtk.playbackArrivals();
    const traces = Object.values(await host.evaluate(() => window.spiceHost!.sound!.remote.sentSampleTimes()));
    const sent = traces.sort((a, b) => b.length - a.length)[0] ?? [];
    await host.evaluate(() => window.spiceHost!.sound!.remote.traceSends(false));
    const startedAt = after.startedAt!;
    const latency: Array<[number, number]> = []; // [arrival ms, latency ms]
    arrivals.forEach(([at], k) => {
      if (k < sent.length) latency.push([at, at - sent[k]!]);
    });
    const sorted = latency.map(([, l]) => l).sort((a, b) => a - b);
    const window10 = (from: number, to: number): number => {
      const xs = latency.filter(([at]) => at - startedAt >= from && at - startedAt < to).map(([, l]) => l).sort((a, b) => a - b);
      return percentile(xs, 50);
    };
    const end = (arrivals.at(-1)?.[0] ?? startedAt) - startedAt;
    const bytes = (after.bytesByMode[mode] ?? 0) - (before.bytesByMode[mode] ?? 0);
    return {
      section: 'sound',
      name: `tone → spice-gtk, ${mode === 'raw' ? 'raw S16' : 'Opus'}`,
      'KB/s': +(bytes / 1024 / elapsed).toFixed(1),
      'CPU %': +cpu.toFixed(1),
      'encoder ms/s': mode === 'opus' ? +((after.opus.busyMs - before.opus.busyMs) / elapsed).toFixed(2) : 0,
      'p50 ms': +percentile(sorted, 50).toFixed(1),
      'p95 ms': +percentile(sorted, 95).toFixed(1),
      'drift ms': +(window10(end - 10_000, end) - window10(2000, 12_000)).toFixed(1),
      // Skipped: the SoundWorker's timer came too late; dropped: the client's connection was backed up.
      skipped: after.skipped - before.skipped,
      dropped: after.dropped - before.dropped,
      seconds: Math.round(elapsed),
    };
  } finally {
    await gtk.close();
  }
}

export async function soundRows(): Promise<Row[]> {
  const seconds = secondsArg();
  const marker = `--spice-bench-${randomUUID()}`;
  const stack = await startStack();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, marker] });
  try {
    const host = await (await browser.newContext()).newPage();
    await host.goto(`${stack.baseUrl}/?relay=${encodeURIComponent(stack.relayUrl)}&tone=440`);
    await host.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, { timeout: 30_000 });
    const err = await host.evaluate(() => window.spiceHostError);
    if (err) throw new Error(`host page: ${err}`);
    return [await run(stack, host, marker, 'raw', seconds), await run(stack, host, marker, 'opus', seconds)];
  } finally {
    await browser.close();
    await stack.stop();
  }
}
