/**
 * Test stack: a relay and a Vite server on free loopback ports, started and
 * stopped by the tests themselves, plus helpers to run the real clients.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { RelayServer, type RelayServerOptions } from '../src/relay/relay-server.ts';
import type { TlsCredentials } from '../src/relay/tls-listener.ts';
import { launcherCredentialsPlugin } from '../scripts/page-server.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { encodePng } from './png.ts';

export interface Stack {
  relay: RelayServer;
  relayPort: number;
  tcpPort: number;
  /** The SPICE TLS port when started with `tls`, else null. */
  tlsPort: number | null;
  vite: ViteDevServer;
  baseUrl: string;
  relayUrl: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on the loopback port. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Starts a relay (on free ports unless `want` names them) and a Vite server for
 * the pages, set up as the launcher does: the relay allows the page server's
 * origin, and the page server hands its pages the relay key. With `tls` the
 * pages are https, the relay wss and a SPICE TLS port opens.
 */
export async function startStack(
  want: {
    relay?: number;
    tcp?: number;
    relayOptions?: RelayServerOptions;
    tls?: TlsCredentials;
    /** false: the page server does not hand its pages the relay key (as for a page opened from another machine). */
    handKey?: boolean;
  } = {},
): Promise<Stack> {
  setLogLevel(process.env.LOG_LEVEL === 'debug' ? 'debug' : 'warn');
  const relay = new RelayServer({
    host: '127.0.0.1',
    port: want.relay ?? 0,
    tcpPort: want.tcp ?? 0,
    ...want.relayOptions,
    ...(want.tls && { tls: want.tls, tlsPort: 0 }),
  });
  const ports = await relay.start();
  const vitePort = await freePort();
  const vite = await createServer({
    configFile: join(import.meta.dirname, '..', 'vite.config.ts'),
    root: join(import.meta.dirname, '..'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: vitePort, strictPort: true, hmr: false, ...(want.tls && { https: want.tls }) },
    plugins: want.handKey === false ? [] : [launcherCredentialsPlugin(() => ({ relayKey: relay.relayKey }))],
  });
  await vite.listen();
  const baseUrl = `${want.tls ? 'https' : 'http'}://127.0.0.1:${vitePort}`;
  relay.allowOrigin(baseUrl);
  return {
    relay,
    relayPort: ports.port,
    tcpPort: ports.tcpPort!,
    tlsPort: ports.tlsPort,
    vite,
    baseUrl,
    relayUrl: relay.url,
    async stop() {
      await vite.close();
      await relay.stop();
    },
  };
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

export interface RgbImage {
  width: number;
  height: number;
  /** R,G,B bytes per pixel. */
  rgb: Uint8Array;
}

/** Parses a binary PPM (P6, maxval 255) as spicy-screenshot writes it. */
export function parsePpm(data: Uint8Array): RgbImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < data.length && /\s/.test(String.fromCharCode(data[pos]!))) pos++;
      if (data[pos] === 0x23) {
        while (pos < data.length && data[pos] !== 0x0a) pos++;
        continue;
      }
      break;
    }
    const start = pos;
    while (pos < data.length && !/\s/.test(String.fromCharCode(data[pos]!))) pos++;
    return String.fromCharCode(...data.subarray(start, pos));
  };
  const magic = token();
  if (magic !== 'P6') throw new Error(`PPM: expected magic P6, got ${magic}`);
  const width = Number(token());
  const height = Number(token());
  const max = Number(token());
  if (max !== 255) throw new Error(`PPM: expected maxval 255, got ${max}`);
  pos++; // the single whitespace after maxval
  const rgb = data.subarray(pos, pos + width * height * 3);
  if (rgb.length !== width * height * 3) throw new Error(`PPM: expected ${width * height * 3} pixel bytes, got ${rgb.length}`);
  return { width, height, rgb };
}

/** Where and how {@link spicyScreenshot} connects besides plain TCP to loopback. */
export interface SpicyScreenshotOptions {
  /** Server address; default 127.0.0.1. */
  host?: string;
  /** `port` is the SPICE TLS port (spicy-screenshot -s). */
  tls?: boolean;
  /** Added to the environment, e.g. SSL_CERT_FILE (see e2e/tls.ts for why). */
  env?: NodeJS.ProcessEnv;
}

/** Runs spicy-screenshot against the relay's TCP (or TLS) port; returns the image or the failure. */
export async function spicyScreenshot(
  port: number,
  password?: string,
  opts: SpicyScreenshotOptions = {},
): Promise<{ image: RgbImage | null; result: RunResult }> {
  const dir = await mkdtemp(join(tmpdir(), 'spicy-'));
  const out = join(dir, 'shot.ppm');
  try {
    const args = ['-h', opts.host ?? '127.0.0.1', opts.tls ? '-s' : '-p', String(port), '-o', out];
    if (password !== undefined) args.push('-w', password);
    const result = await run('spicy-screenshot', args, 30_000, opts.env);
    if (result.code !== 0) return { image: null, result };
    return { image: parsePpm(new Uint8Array(await readFile(out))), result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** xRGB frame (0x00RRGGBB words) → R,G,B bytes. */
export function xrgbToRgb(frame: Uint32Array): Uint8Array {
  const out = new Uint8Array(frame.length * 3);
  for (let i = 0; i < frame.length; i++) {
    const p = frame[i]!;
    out[i * 3] = (p >>> 16) & 0xff;
    out[i * 3 + 1] = (p >>> 8) & 0xff;
    out[i * 3 + 2] = p & 0xff;
  }
  return out;
}

/** RGBA (canvas ImageData) → R,G,B bytes. */
export function rgbaToRgb(rgba: Uint8Array): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4]!;
    out[i * 3 + 1] = rgba[i * 4 + 1]!;
    out[i * 3 + 2] = rgba[i * 4 + 2]!;
  }
  return out;
}

/** Counts differing pixels; returns the first difference for the failure message. */
export function comparePixels(actual: Uint8Array, expected: Uint8Array, width: number): { diff: number; first: string } {
  let diff = 0;
  let first = '';
  for (let i = 0; i < expected.length; i += 3) {
    if (actual[i] !== expected[i] || actual[i + 1] !== expected[i + 1] || actual[i + 2] !== expected[i + 2]) {
      if (!first) {
        const p = i / 3;
        first = `first at (${p % width},${Math.floor(p / width)}): got ${actual.subarray(i, i + 3).join(',')}, expected ${expected.subarray(i, i + 3).join(',')}`;
      }
      diff++;
    }
  }
  return { diff, first };
}

/** A running Xvfb whose framebuffer we can read (its -fbdir XWD file). */
export interface Xvfb {
  display: string;
  /** The screen as R,G,B bytes. */
  grab(): Promise<RgbImage>;
  stop(): Promise<void>;
}

export async function startXvfb(width = 1600, height = 1200): Promise<Xvfb> {
  const { spawn } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const dir = await mkdtemp(join(tmpdir(), 'xvfb-'));
  // -displayfd lets Xvfb pick a free display number and tell us which.
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-fbdir', dir, '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not report a display within 10 s')), 10_000);
    (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${out.trim()}`);
      }
    });
    proc.on('exit', (code) => reject(new Error(`Xvfb exited with ${code}`)));
  });
  const file = join(dir, 'Xvfb_screen0');
  if (!existsSync(file)) throw new Error(`Xvfb did not create ${file}`);
  return {
    display,
    async grab() {
      return parseXwd(new Uint8Array(await readFile(file)));
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Parses an XWD dump with 32 bits per pixel, LSB-first (what Xvfb writes for depth 24). */
export function parseXwd(d: Uint8Array): RgbImage {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const be = (o: number): number => v.getUint32(o, false);
  const headerSize = be(0);
  const width = be(16);
  const height = be(20);
  const byteOrder = be(28);
  const bpp = be(44);
  const bytesPerLine = be(48);
  const ncolors = be(76);
  if (bpp !== 32 || byteOrder !== 0) throw new Error(`XWD: expected 32 bpp LSB-first, got ${bpp} bpp, byte order ${byteOrder}`);
  const base = headerSize + ncolors * 12;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = base + y * bytesPerLine + x * 4;
      const o = (y * width + x) * 3;
      rgb[o] = d[p + 2]!;
      rgb[o + 1] = d[p + 1]!;
      rgb[o + 2] = d[p]!;
    }
  }
  return { width, height, rgb };
}

/** Finds where `expected` (w×h R,G,B) sits inside `screen`, by its first row. */
export function locate(screen: RgbImage, expected: Uint8Array, w: number): { x: number; y: number } | null {
  const probe = expected.subarray(0, w * 3);
  for (let y = 0; y + 1 < screen.height; y++) {
    for (let x = 0; x + w <= screen.width; x++) {
      const o = (y * screen.width + x) * 3;
      let ok = true;
      for (let i = 0; i < probe.length && ok; i++) ok = screen.rgb[o + i] === probe[i];
      if (ok) return { x, y };
    }
  }
  return null;
}

/** Cuts a w×h region out of an image. */
export function crop(img: RgbImage, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) out.set(img.rgb.subarray(((y + r) * img.width + x) * 3, ((y + r) * img.width + x + w) * 3), r * w * 3);
  return out;
}

/** Bounding box of the pixels that differ (null when none do). */
export function diffBox(a: Uint8Array, b: Uint8Array, w: number): { left: number; top: number; right: number; bottom: number } | null {
  let box: { left: number; top: number; right: number; bottom: number } | null = null;
  for (let i = 0; i < b.length; i += 3) {
    if (a[i] === b[i] && a[i + 1] === b[i + 1] && a[i + 2] === b[i + 2]) continue;
    const p = i / 3;
    const x = p % w;
    const y = Math.floor(p / w);
    if (!box) box = { left: x, top: y, right: x + 1, bottom: y + 1 };
    else {
      box.left = Math.min(box.left, x);
      box.top = Math.min(box.top, y);
      box.right = Math.max(box.right, x + 1);
      box.bottom = Math.max(box.bottom, y + 1);
    }
  }
  return box;
}

/**
 * Waits until a native viewer shows `expected` (w×h R,G,B) on the X screen, every pixel
 * equal except within one cursor-sized box: the X server draws its pointer (the SPICE
 * cursor in client mouse mode) into the framebuffer. Returns where the picture sits.
 */
export async function expectViewerShows(xvfb: Xvfb, expected: Uint8Array, w = 1024, h = 768): Promise<{ x: number; y: number }> {
  let where: { x: number; y: number } | null = null;
  let last: RgbImage | null = null;
  try {
    await expect
      .poll(
        async () => {
          last = await xvfb.grab();
          where = locate(last, expected, w);
          return where !== null;
        },
        { timeout: 30_000, message: 'the first row of the frame never appeared on the X screen' },
      )
      .toBe(true);
    await expect
      .poll(
        async () => {
          last = await xvfb.grab();
          const box = diffBox(crop(last, where!.x, where!.y, w, h), expected, w);
          return box === null || (box.right - box.left <= 32 && box.bottom - box.top <= 32);
        },
        { timeout: 15_000, message: 'the viewer\'s picture differs from the frame' },
      )
      .toBe(true);
  } catch (err) {
    // What the X screen showed is the one clue to why: keep it with the test's results.
    if (last) await writeFile(test.info().outputPath('x-screen.png'), encodePng(last)).catch(() => {});
    await writeFile(test.info().outputPath('expected.png'), encodePng({ width: w, height: h, rgb: expected })).catch(() => {});
    throw err;
  }
  return where!;
}
