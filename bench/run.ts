/**
 * `npm run bench`: measures the display path on a fixed corpus and prints one
 * table (also written to bench/results.json with the machine it ran on):
 * codec throughput and ratio, change detection time per frame, the relay
 * alone, sound (bench/sound.ts), sound and video in step at spice-gtk
 * (bench/av-sync.ts), the real clients end to end, and many viewers of one
 * session. `--no-relay`, `--no-sound`, `--no-avsync`, `--no-e2e`,
 * `--no-viewers` skip a part; `--only NAME` (codecs, relay, sound, avsync,
 * e2e, viewers) runs just the named parts.
 */
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';
import { ChangeDetector, type Change } from '../src/sources/change-detector.ts';
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

/** WASM change detection on a frame: unchanged, a 10% area changed, the whole screen scrolled by a text line. */
function diffRows(device: QxlDevice): Row[] {
  const rows: Row[] = [];
  for (const [w, h] of [
    [1024, 768],
    [1920, 1080],
  ] as const) {
    const d = new ChangeDetector(device, w, h);
    const img = makeImage('text', w, h);
    d.frame.set(img.pixels);
    const commitAll = (changes: Change[]): void => {
      for (const c of changes) {
        if (c.kind === 'copy') d.commit(c.rect);
        else d.commitScroll(c.dest, c.srcX, c.srcY);
      }
    };
    commitAll(d.detect()); // the first detect is the whole frame
    const unchanged = bestTime(() => commitAll(d.detect()));
    let flip = 0;
    const bw = Math.round(w * 0.316);
    const bh = Math.round(h * 0.316);
    let last: Change[] = [];
    const changed = bestTime(() => {
      commitAll(last);
      flip ^= 0xffffff;
      for (let y = 0; y < bh; y++) d.frame.fill(flip, (100 + y) * w + 100, (100 + y) * w + 100 + bw);
      last = d.detect();
    });
    commitAll(last);
    // A terminal scrolling by one 16-row line: everything moves up, a new line appears at the bottom.
    let scrolls = 0;
    const scrolled = bestTime(() => {
      d.frame.copyWithin(0, 16 * w);
      const from = ((scrolls++ * 16) % (h - 16)) * w;
      d.frame.set(img.pixels.subarray(from, from + 16 * w), (h - 16) * w);
      const changes = d.detect();
      if (changes[0]?.kind !== 'scroll') throw new Error(`bench: expected the scroll to be found, got ${JSON.stringify(changes[0])}`);
      commitAll(changes);
    });
    rows.push({ section: 'diff', name: `wasm ${w}x${h} unchanged`, ms: +unchanged.toFixed(3) });
    rows.push({ section: 'diff', name: `wasm ${w}x${h} 10% changed`, ms: +changed.toFixed(3) });
    rows.push({ section: 'diff', name: `wasm ${w}x${h} scroll (COPY_BITS found)`, ms: +scrolled.toFixed(3) });
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
  const codecs = loadCodecs(device);
  const corpus = makeCorpus();
  const only = (name: string): boolean => !process.argv.includes('--only') || process.argv.includes(name);
  const rows = only('codecs') ? [...codecRows(device, corpus, codecs), ...diffRows(device)] : [];
  // Each part: its --only/--no- name and how to get its rows (imported only when it runs).
  const parts: Array<[name: string, rowsOf: () => Promise<Row[]>]> = [
    ['relay', async () => (await import('./relay.ts')).relayRows()],
    ['sound', async () => (await import('./sound.ts')).soundRows()],
    ['avsync', async () => (await import('./av-sync.ts')).avSyncRows()],
    ['e2e', async () => (await import('./e2e.ts')).e2eRows()],
    ['viewers', async () => (await import('./viewers.ts')).viewerRows()],
  ];
  for (const [name, rowsOf] of parts) {
    if (!process.argv.includes(`--no-${name}`) && only(name)) rows.push(...(await rowsOf()));
  }
  printTable(rows);
  const file = join(import.meta.dirname, 'results.json');
  writeFileSync(file, `${JSON.stringify({ machine, rows }, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${file}\n`);
}

await main();
