/**
 * `npm run bench`: measures the display path on a fixed corpus and prints one
 * table (also written to bench/results.json with the machine it ran on):
 * codec throughput and ratio, change detection time per frame.
 */
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import type { QxlProducer } from '../src/qxl/qxl-producer.ts';
import { FramebufferPusher } from '../src/sources/framebuffer-pusher.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { makeCorpus, makeImage, type CorpusImage } from './corpus.ts';
import { loadCodecs, type BenchCodec } from './codecs.ts';
import { bestTime } from './timing.ts';

setLogLevel('warn');

export interface Row {
  section: string;
  name: string;
  [metric: string]: string | number;
}

function codecRows(device: QxlDevice, corpus: CorpusImage[], codecs: BenchCodec[]): Row[] {
  const rows: Row[] = [];
  const surface = new Uint32Array(device.memory.buffer, Region.SURFACE, Region.SURFACE_SIZE / 4);
  for (const img of corpus) {
    surface.set(img.pixels);
    const raw = img.width * img.height * 4;
    for (const c of codecs) {
      let out = 0;
      const ms = bestTime(() => {
        out = c.encode(Region.SURFACE, img.width * 4, img.width, img.height);
      });
      rows.push({
        section: 'codec',
        name: `${c.name} ${img.name}`,
        'MB/s': Math.round(raw / 1e6 / (ms / 1000)),
        'ms': +ms.toFixed(2),
        'bytes': out,
        'ratio': +(raw / out).toFixed(1),
      });
    }
  }
  return rows;
}

/** Change detection on a frame: unchanged, and with a 10% area changed. */
function diffRows(): Row[] {
  const rows: Row[] = [];
  const producer = { pushCopy: () => true } as unknown as QxlProducer;
  for (const [w, h] of [
    [1024, 768],
    [1920, 1080],
  ] as const) {
    const img = makeImage('ui', w, h);
    const fb = new Uint32Array(img.pixels);
    const pusher = new FramebufferPusher(producer, fb, w, h);
    pusher.flush(); // the first push is the whole frame
    const unchanged = bestTime(() => pusher.flush());
    let flip = 0;
    const bw = Math.round(w * 0.316);
    const bh = Math.round(h * 0.316);
    const changed = bestTime(() => {
      flip ^= 0xffffff;
      for (let y = 0; y < bh; y++) fb.fill(flip, (100 + y) * w + 100, (100 + y) * w + 100 + bw);
      pusher.flush();
    });
    rows.push({ section: 'diff', name: `js ${w}x${h} unchanged`, ms: +unchanged.toFixed(3) });
    rows.push({ section: 'diff', name: `js ${w}x${h} 10% changed`, ms: +changed.toFixed(3) });
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(cols)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => String(r[c] ?? '')))}\n`);
}

async function main(): Promise<void> {
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
  process.stdout.write(`spice-web-server benchmark on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}\n\n`);
  const device = await QxlDevice.create();
  const codecs = await loadCodecs(device);
  const corpus = makeCorpus();
  const rows = [...codecRows(device, corpus, codecs), ...diffRows()];
  if (!process.argv.includes('--no-e2e')) {
    const { e2eRows } = await import('./e2e.ts');
    rows.push(...(await e2eRows()));
  }
  printTable(rows);
  const file = join(import.meta.dirname, 'results.json');
  writeFileSync(file, `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${file}\n`);
}

await main();
