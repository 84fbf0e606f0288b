/**
 * End-to-end figures through the relay to the real clients: for each workload
 * (typing that scrolls, a dragged window, a video region, idle) at 60 frames/s
 * on a 1024x768 screen, how many source frames each client's picture showed per
 * second, bytes per second on the wire, and the source-to-client latency. A
 * frame counts when the client's picture shows its barcode (spice-gtk: decoded
 * on each redraw of that area; spice-html5: read from its canvas every
 * animation frame, so up to ~16 ms is added to its latency).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { startStack, type Stack } from '../e2e/harness.ts';
import { startSpiceGtkClient } from '../e2e/spice-gtk.ts';
import { WORKLOADS, type Workload } from '../src/sources/workload.ts';
import type { Row } from './run.ts';

export const SECONDS = 5;

interface Watch {
  frames: Array<[number, number]>;
  bytes: number;
  messages: number;
  /** Chromium's CPU use during the watch window, in % of one core. */
  cpuPercent: number;
}

export async function hostPage(browser: Browser, stack: Stack, workload: Workload): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${stack.baseUrl}/?relay=${encodeURIComponent(stack.relayUrl)}&workload=${workload}`);
  await page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, { timeout: 30_000 });
  const err = await page.evaluate(() => window.spiceHostError);
  if (err) throw new Error(`host page: ${err}`);
  return page;
}

async function displayTotals(host: Page): Promise<{ bytes: number; messages: number }> {
  return host.evaluate(async () => {
    const b = (await window.spiceHost!.worker.stats()).displayBacklog;
    return { bytes: b.reduce((n, c) => n + c.bytes, 0), messages: b.reduce((n, c) => n + c.sent, 0) };
  });
}

/** This benchmark's Chromium processes (descendants of this process; other browsers on the machine are not counted): CPU ticks and resident KB. */
function ownChromium(): Array<{ ticks: number; rssKb: number }> {
  const procs = new Map<number, { ppid: number; chromium: boolean; ticks: number; rssKb: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command name: ppid is the 2nd, utime and stime the 12th and 13th.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${name}/status`, 'utf8'));
      procs.set(Number(name), {
        ppid: Number(f[1]),
        chromium: readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('chromium'),
        ticks: Number(f[11]) + Number(f[12]),
        rssKb: Number(rss?.[1] ?? 0),
      });
    } catch {
      // the process ended meanwhile
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = procs.get(pid)?.ppid; p !== undefined && p > 1; p = procs.get(p)?.ppid) if (p === process.pid) return true;
    return false;
  };
  return [...procs.entries()].filter(([pid, p]) => p.chromium && mine(pid)).map(([, p]) => p);
}

/** CPU seconds used so far by this benchmark's Chromium (all its processes), from /proc in clock ticks. */
export function chromiumCpuSeconds(): number {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ownChromium().reduce((n, p) => n + p.ticks, 0) / ticksPerSecond;
}

/** Resident memory of this benchmark's Chromium, all its processes together, in bytes. */
export function chromiumRss(): number {
  return ownChromium().reduce((n, p) => n + p.rssKb, 0) * 1024;
}

export async function watchSpiceGtk(stack: Stack, host: Page): Promise<Watch> {
  const gtk = await startSpiceGtkClient({ port: stack.tcpPort });
  try {
    await new Promise((r) => setTimeout(r, 1000)); // past the first full picture
    const before = await displayTotals(host);
    const cpu0 = chromiumCpuSeconds();
    const t0 = performance.now();
    await gtk.watchFrames();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const frames = await gtk.frames();
    const cpuPercent = ((chromiumCpuSeconds() - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    const after = await displayTotals(host);
    return { frames, bytes: after.bytes - before.bytes, messages: after.messages - before.messages, cpuPercent };
  } finally {
    await gtk.close();
  }
}

async function watchHtml5(browser: Browser, stack: Stack, host: Page): Promise<Watch> {
  const page = await (await browser.newContext()).newPage();
  try {
    await page.goto(`${stack.baseUrl}/client.html?url=${encodeURIComponent(`${stack.relayUrl}/spice/default`)}`);
    await page.waitForFunction(() => document.getElementById('spice_surface_0') !== null, null, { timeout: 20_000 });
    await page.waitForTimeout(1000);
    const before = await displayTotals(host);
    // Passed as source text: the TypeScript loader would wrap named functions in a helper the page lacks.
    await page.evaluate(FRAME_WATCHER);
    await page.waitForTimeout(SECONDS * 1000);
    const frames = await page.evaluate(() => (window as unknown as { benchFrames: Array<[number, number]> }).benchFrames);
    const after = await displayTotals(host);
    // The client page itself runs in the same Chromium, so no CPU figure here.
    return { frames, bytes: after.bytes - before.bytes, messages: after.messages - before.messages, cpuPercent: NaN };
  } finally {
    await page.context().close();
  }
}

/** Reads the barcode from spice-html5's canvas every animation frame; records each change with its time. */
const FRAME_WATCHER = `(() => {
  window.benchFrames = [];
  const ctx = document.getElementById('spice_surface_0').getContext('2d');
  function tick() {
    const d = ctx.getImageData(0, 4, 256, 1).data;
    let f = 0;
    for (let i = 0; i < 32; i++) if (d[(i * 8 + 4) * 4 + 1] > 0x80) f |= 1 << i;
    f >>>= 0;
    const a = window.benchFrames;
    if (!a.length || a[a.length - 1][0] !== f) a.push([f, performance.timeOrigin + performance.now()]);
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})()`;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function measure(name: string, workload: Workload, host: Page, watch: Watch): Promise<Row> {
  const pushed = new Map<number, number>(await host.evaluate(() => [...window.spiceHost!.workload!.pushedAt.entries()]));
  const shown = watch.frames.slice(1); // the first entry is the frame already on screen
  const latencies = shown
    .map(([f, t]) => (pushed.has(f) ? t - pushed.get(f)! : NaN))
    .filter((x) => Number.isFinite(x) && x >= -5)
    .sort((a, b) => a - b);
  return {
    section: 'e2e',
    name: `${workload} → ${name}`,
    'frames/s': +(shown.length / SECONDS).toFixed(1),
    'KB/s': Math.round(watch.bytes / 1024 / SECONDS),
    'p50 ms': +percentile(latencies, 50).toFixed(1),
    'p95 ms': +percentile(latencies, 95).toFixed(1),
    messages: watch.messages,
  };
}

export async function e2eRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const stack = await startStack();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    // Chromium's own idle cost, for comparison with the idle workload.
    const blank = await (await browser.newContext()).newPage();
    await blank.goto('about:blank');
    await blank.waitForTimeout(1000);
    const cpu0 = chromiumCpuSeconds();
    const t0 = performance.now();
    await blank.waitForTimeout(SECONDS * 1000);
    rows.push({
      section: 'e2e',
      name: 'blank page (Chromium baseline)',
      'CPU %': +(((chromiumCpuSeconds() - cpu0) / ((performance.now() - t0) / 1000)) * 100).toFixed(1),
    });
    await blank.context().close();
    for (const workload of WORKLOADS) {
      const host = await hostPage(browser, stack, workload);
      try {
        await host.waitForTimeout(500);
        const gtk = await watchSpiceGtk(stack, host);
        const gtkRow = await measure('spice-gtk', workload, host, gtk);
        // Chromium (the host page, its RedWorker and source) while spice-gtk watches.
        gtkRow['CPU %'] = +gtk.cpuPercent.toFixed(1);
        rows.push(gtkRow);
        rows.push(await measure('spice-html5', workload, host, await watchHtml5(browser, stack, host)));
      } finally {
        await host.context().close();
      }
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
  return rows;
}
