/**
 * Many viewers of one session: for the typing and video workloads, 1, 10, 50
 * and 200 raw display viewers (a child process, bench/viewer-swarm.ts) read
 * and acknowledge everything, while a live spice-gtk client decodes the
 * frame barcode. Per row: updates and bytes per viewer per second (the
 * slowest viewer and the median), spice-gtk's frames/s beside them, the
 * page's CPU (all of Chromium) and memory, the relay's CPU and memory (this
 * process: the relay and an idle Vite), and the page's socket count.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { startStack } from '../e2e/harness.ts';
import { chromiumCpuSeconds, chromiumRss, hostPage, measure, SECONDS, watchSpiceGtk } from './e2e.ts';
import type { Row } from './run.ts';

/** Viewer counts per scene; `--viewer-counts 1,200` picks others. */
function viewerCounts(): number[] {
  const i = process.argv.indexOf('--viewer-counts');
  if (i < 0) return [1, 10, 50, 200];
  const counts = (process.argv[i + 1] ?? '').split(',').map(Number);
  if (!counts.length || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 500)) {
    throw new Error(`--viewer-counts: expected whole numbers 1..500 separated by commas, got "${process.argv[i + 1]}"`);
  }
  return counts;
}
const ROOT = join(import.meta.dirname, '..');

interface ViewerCounts {
  messages: number;
  updates: number;
  bytes: number;
}

interface Swarm {
  report(): Promise<ViewerCounts[]>;
  quit(): void;
}

async function startSwarm(port: number, n: number): Promise<Swarm> {
  const proc: ChildProcessWithoutNullStreams = spawn(process.execPath, ['scripts/run.mjs', 'bench/viewer-swarm.ts', String(port), String(n)], { cwd: ROOT });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async (what: string): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error(`viewer swarm ended before ${what}: ${err}`);
    return r.value;
  };
  const first = await next('ready');
  if (first !== 'ready') throw new Error(`viewer swarm: expected "ready", got ${first}`);
  return {
    async report() {
      proc.stdin.write('report\n');
      return JSON.parse(await next('a report')) as ViewerCounts[];
    },
    quit() {
      proc.stdin.write('quit\n');
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

export async function viewerRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const stack = await startStack();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    for (const workload of ['typing', 'video'] as const) {
      const host = await hostPage(browser, stack, workload);
      try {
        for (const n of viewerCounts()) {
          const swarm = await startSwarm(stack.tcpPort, n);
          try {
            await host.waitForFunction((want) => window.spiceHost!.stats().then((s) => s.worker.displayClients >= want), n, { timeout: 120_000 });
            await host.waitForTimeout(2000); // past everyone's first full picture
            const before = await swarm.report();
            const cpu0 = chromiumCpuSeconds();
            const relay0 = process.cpuUsage();
            const t0 = performance.now();
            // spice-gtk watches the same window: its frames/s is what a real viewer sees beside n others.
            const gtk = await watchSpiceGtk(stack, host);
            const seconds = (performance.now() - t0) / 1000;
            const after = await swarm.report();
            const relayCpu = process.cpuUsage(relay0);
            const page = ((chromiumCpuSeconds() - cpu0) / seconds) * 100;
            const updates = after.map((a, i) => (a.updates - before[i]!.updates) / seconds);
            const bytes = after.map((a, i) => (a.bytes - before[i]!.bytes) / seconds);
            const gtkRow = await measure('spice-gtk', workload, host, gtk);
            rows.push({
              section: 'viewers',
              name: `${workload} × ${n}`,
              'updates/s min': +Math.min(...updates).toFixed(1),
              'updates/s med': +median(updates).toFixed(1),
              'KB/s per viewer': Math.round(median(bytes) / 1024),
              'gtk frames/s': gtkRow['frames/s']!,
              'page CPU %': Math.round(page),
              'relay CPU %': Math.round(((relayCpu.user + relayCpu.system) / 1e6 / seconds) * 100),
              'page MB': Math.round(chromiumRss() / 1e6),
              'relay MB': Math.round(process.memoryUsage().rss / 1e6),
              'page sockets': stack.relay.stats().muxSockets + 1,
            });
          } finally {
            swarm.quit();
            await host.waitForFunction(() => window.spiceHost!.stats().then((s) => s.server.clients === 0), null, { timeout: 60_000 });
          }
        }
      } finally {
        // Stop hosting first, so the relay frees the name at once for the next workload's page.
        await host.evaluate(() => window.spiceHost?.stop());
        await host.context().close();
      }
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
  return rows;
}
