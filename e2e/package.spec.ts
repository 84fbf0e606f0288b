/**
 * The package as a user gets it: `npm pack` (whose prepack runs `npm run
 * build`), installed from the tarball into a copy of examples/canvas-app, the
 * app built by its own Vite and served by `vite preview` (its workers and WASM
 * resolved from node_modules), the relay started from the installed
 * `spice-relay` bin. A real client (spicy-screenshot over the relay's TCP
 * port) shows the app's canvas pixel for pixel; a v86 VM from the installed
 * package shows SeaBIOS cell for cell; the dev server works too; the package's
 * declarations type-check the app; the built CLI runs.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { SessionHost } from '../src/host/session-host.ts';
import type { VgaTextDump } from '../src/sources/v86/v86-api.ts';
import { BIOS_DIR, BIOS_FILES, ensureBios } from '../scripts/fetch-bios.ts';
import { comparePixels, freePort, run, spicyScreenshot } from './harness.ts';
import { compareTextScreen, textOf } from './vga-text.ts';
import { readCanvasRgb } from './pages.ts';

declare global {
  interface Window {
    /** Set by examples/canvas-app/main.ts. */
    example?: { server: SessionHost | null; error: string | null };
  }
}

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'canvas-app');

interface Proc {
  out(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then waits until it exited (its port is free again). */
  stop(): Promise<void>;
}

/** Starts a long-running command; its stdout and stderr are collected together. */
function start(cmd: string, args: string[]): Proc {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    out: () => out,
    exited,
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs a command to its end; fails with its output when it does not exit 0. */
async function mustRun(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args, 180_000);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`);
}

const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

let work: string;
let app: string;
let relay: Proc | null = null;
let relayUrl: string;
let tcpPort: number;
const servers: Proc[] = [];

/** The app's own Vite (installed by its package.json), not the repository's. */
const vite = (): string => join(app, 'node_modules', 'vite', 'bin', 'vite.js');

/**
 * Ports for the app's servers, chosen first (the relay must allow their
 * origins): one per server, so no server ever needs a port another one held.
 */
const appPorts = { preview: 0, previewBios: 0, dev: 0 };
let relayKey: string;

/**
 * Serves the app (`vite preview` of its build, or the dev server) on its port;
 * resolves with its URL once it answers. The server lives as long as the test
 * that started it. With --strictPort a taken port makes Vite exit at once
 * ("Port N is already in use"): that fails here with its output, rather than
 * a test silently talking to whatever else holds the port.
 */
async function serveApp(mode: keyof typeof appPorts): Promise<string> {
  const port = appPorts[mode];
  const args = mode === 'dev' ? [] : ['preview'];
  const server = start(process.execPath, [vite(), ...args, app, '--host', '127.0.0.1', '--port', String(port), '--strictPort']);
  servers.push(server);
  let exitCode: number | null | undefined;
  void server.exited.then((c) => (exitCode = c));
  const url = `http://127.0.0.1:${port}`;
  // What the poll sees carries the server's output, so a failure shows it (a message would be fixed before the poll runs).
  await expect
    .poll(
      async () => {
        if (exitCode !== undefined) return `vite ${mode} exited ${exitCode}:\n${server.out()}`;
        // Vite prints its address once it listens; only then is an answer from the port its own.
        // (Without its colours: FORCE_COLOR may reach it.)
        if (!server.out().replace(/\x1b\[[\d;]*m/g, '').includes(`Local:   ${url}/`)) return `vite ${mode} not listening yet:\n${server.out()}`;
        const status = await fetch(url).then((r) => r.status, (e: Error) => e.message);
        return status === 200 ? 'answers 200' : `GET ${url} gave ${status}; vite ${mode} said:\n${server.out()}`;
      },
      { timeout: 30_000 },
    )
    .toBe('answers 200');
  return url;
}

test.beforeAll(async () => {
  test.setTimeout(300_000);
  work = mkdtempSync(join(tmpdir(), 'spice-package-'));
  // npm pack runs prepack (npm run build: WASM, bundles, declarations, CLI).
  await mustRun('npm', ['pack', '--pack-destination', work, ...NPM_QUIET]);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${work}`);

  // The example as a user would copy it, depending on this very tarball.
  app = join(work, 'canvas-app');
  mkdirSync(app);
  for (const f of readdirSync(EXAMPLE)) {
    if (f === 'node_modules' || f === 'dist') continue;
    copyFileSync(join(EXAMPLE, f), join(app, f));
  }
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  expect(pkg.dependencies['spice-web-server']).toMatch(/^file:.*\.tgz$/);
  pkg.dependencies['spice-web-server'] = `file:${join(work, tarball)}`;
  writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
  // Only the npm registry is reachable; everything the app needs is usually in npm's cache already.
  await mustRun('npm', ['install', '--prefix', app, '--prefer-offline', ...NPM_QUIET]);
  await mustRun(process.execPath, [vite(), 'build', app, '--logLevel', 'warn']);

  // The relay from the installed package's bin (dist/relay/cli.js, not the sources).
  // Distinct ports: freePort may hand out a port it just gave.
  const taken = new Set<number>();
  for (const k of Object.keys(appPorts) as Array<keyof typeof appPorts>) {
    let p = await freePort();
    while (taken.has(p)) p = await freePort();
    taken.add(p);
    appPorts[k] = p;
  }
  const keyFile = join(work, 'relay.key');
  relay = start(process.execPath, [
    join(app, 'node_modules', '.bin', 'spice-relay'),
    '--port', '0',
    '--tcp-port', '0',
    '--relay-key-file', keyFile,
    '--allowed-origin', `http://127.0.0.1:${appPorts.preview}`,
    '--allowed-origin', `http://127.0.0.1:${appPorts.previewBios}`,
    '--allowed-origin', `http://127.0.0.1:${appPorts.dev}`,
  ]);
  await expect.poll(() => relay!.out(), { timeout: 15_000 }).toMatch(/relay key: in .*relay\.key \(created\)/);
  relayKey = readFileSync(keyFile, 'utf8').trim();
  expect(relay.out()).not.toContain(relayKey);
  expect((statSync(keyFile).mode & 0o777).toString(8)).toBe('600');
  const m = /spice-relay listening: (ws:\/\/127\.0\.0\.1:\d+) .* tcp 127\.0\.0\.1:(\d+)/.exec(relay.out())!;
  relayUrl = m[1]!;
  tcpPort = Number(m[2]);
});

test.afterAll(async () => {
  for (const s of servers.splice(0)) await s.stop();
  if (relay) {
    void relay.stop();
    // The installed CLI handles SIGTERM: stops the relay and exits 0.
    expect(await relay.exited).toBe(0);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  errors: string[];
  /** Every response the page and its workers got: URL and status. */
  responses: Array<{ url: string; status: number }>;
}

/**
 * Pages of the test that runs. After it they stop hosting first (the relay then
 * frees the session names at once; a page that just vanished keeps its names
 * reserved for a grace period), so the next test's page can host them.
 */
const contexts: BrowserContext[] = [];
test.afterEach(async () => {
  for (const c of contexts.splice(0)) {
    for (const p of c.pages()) {
      await p.evaluate(async () => {
        await window.example?.server?.stop();
        await (document.getElementById('pattern') as (HTMLElement & { stop?: () => Promise<void> }) | null)?.stop?.();
      });
    }
    await c.close();
  }
  // A server left running would hold its port and answer in a later test's place.
  for (const s of servers.splice(0)) await s.stop();
});

async function openApp(browser: Browser, url: string): Promise<Opened> {
  const context = await browser.newContext();
  contexts.push(context);
  // As a launcher does: the key reaches the page through the browser's DevTools connection.
  await context.exposeBinding('spiceLauncherCredentials', () => ({ relayKey }));
  const page = await context.newPage();
  const errors: string[] = [];
  const responses: Array<{ url: string; status: number }> = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }));
  await page.goto(`${url}&relay=${encodeURIComponent(relayUrl)}`);
  await page.waitForFunction(() => window.example?.server || window.example?.error, null, { timeout: 30_000 });
  expect(await page.evaluate(() => window.example!.error)).toBeNull();
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  return { page, errors, responses };
}

/** spicy-screenshot until it equals the canvas (the first frame may still be on its way). */
async function expectClientShowsCanvas(page: Page): Promise<void> {
  const want = (await readCanvasRgb(page, '#paint'))!.rgb;
  await expect
    .poll(
      async () => {
        const shot = await spicyScreenshot(tcpPort);
        if (!shot.image) return `spicy-screenshot failed: ${shot.result.stderr}`;
        if (shot.image.width !== 320 || shot.image.height !== 240) return `${shot.image.width}x${shot.image.height}, expected 320x240`;
        const { diff, first } = comparePixels(shot.image.rgb, want, 320);
        return diff === 0 ? 'equal' : `${diff} pixels differ, ${first}`;
      },
      { timeout: 20_000 },
    )
    .toBe('equal');
}

test('built app from the installed package: canvas pixel-exact in spicy-screenshot, element serves, assets from the build', async ({ browser }) => {
  const url = await serveApp('preview');
  const { page, errors, responses } = await openApp(browser, `${url}/?`);
  await expectClientShowsCanvas(page);

  // The <spice-server> element from the same package serves the test pattern on its own session.
  await expect(page.locator('#pattern-url')).toHaveText(`${relayUrl}/spice/pattern`, { timeout: 20_000 });

  // The workers and WASM files came out of the app's own build (copied there
  // from node_modules by Vite), not from data: URLs or the package's sources.
  const fromBuild = (re: RegExp): number[] =>
    responses.filter((r) => r.url.startsWith(`${url}/assets/`) && re.test(r.url.slice(url.length))).map((r) => r.status);
  // One RedWorker per session (the canvas and the element); each loads qxl.wasm, as does the page.
  for (const re of [/^\/assets\/red-worker-[\w-]+\.js$/, /^\/assets\/qxl-[\w-]+\.wasm$/]) {
    expect(fromBuild(re).length, String(re)).toBeGreaterThan(0);
    expect(fromBuild(re).filter((s) => s !== 200), String(re)).toEqual([]);
  }
  expect(responses.filter((r) => r.status >= 400)).toEqual([]);
  expect(errors).toEqual([]);
});

test('a v86 VM from the installed package: its worker and v86.wasm load, SeaBIOS reaches the client cell for cell', async ({ browser }) => {
  // The BIOS is the app's to serve (never part of the package): copy it next to the built page.
  ensureBios();
  mkdirSync(join(app, 'dist', 'bios'), { recursive: true });
  for (const f of BIOS_FILES) copyFileSync(join(BIOS_DIR, f), join(app, 'dist', 'bios', f));
  const url = await serveApp('previewBios');
  const { page, errors, responses } = await openApp(browser, `${url}/?vm=bios`);
  const dump = (): Promise<VgaTextDump> => page.evaluate(async () => (await window.example!.server!.vm!.remote.vgaTextDump())!);
  // SeaBIOS tries every device, then waits: the screen is still while we look.
  await expect.poll(async () => textOf(await dump()).join('\n'), { timeout: 60_000 }).toContain('No bootable device');
  const screen = await dump();
  expect(textOf(screen)[0]).toMatch(/^SeaBIOS \(version/);
  const shot = await spicyScreenshot(tcpPort);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  // The hardware cursor blinks; its cell is the only one allowed to differ.
  const bad = compareTextScreen(shot.image!, screen, (r, c) => r === screen.cursor.row && c === screen.cursor.col);
  expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
  expect(responses.filter((r) => /^\/assets\/v86(-worker)?-[\w-]+\.(js|wasm)$/.test(r.url.slice(url.length))).map((r) => r.status)).toEqual([200, 200]);
  expect(errors).toEqual([]);
});

test('the app under its Vite dev server: the package runs from node_modules as it is', async ({ browser }) => {
  const url = await serveApp('dev');
  const { page, errors, responses } = await openApp(browser, `${url}/?`);
  await expectClientShowsCanvas(page);
  const served = responses.map((r) => r.url.slice(url.length)).filter((p) => p.includes('/node_modules/spice-web-server/dist/'));
  expect(served.some((p) => p.includes('/dist/assets/red-worker.js'))).toBe(true);
  expect(served.some((p) => p.includes('/dist/assets/qxl.wasm'))).toBe(true);
  expect(responses.filter((r) => r.status >= 400)).toEqual([]);
  expect(errors).toEqual([]);
});

test("the package's declarations type-check the app (no skipLibCheck)", async () => {
  const r = await run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], 60_000);
  expect(r.stdout + r.stderr).toBe('');
  expect(r.code).toBe(0);
});

test('the built relay CLI: --help, and a clear exit 2 for a bad flag', async () => {
  const cli = join(app, 'node_modules', 'spice-web-server', 'dist', 'relay', 'cli.js');
  const help = await run(cli, ['--help'], 20_000); // executable itself: #!/usr/bin/env node
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: spice-relay \[options\]/);
  const bad = await run(process.execPath, [cli, '--port', 'x'], 20_000);
  expect(bad.code).toBe(2);
  expect(bad.stdout + bad.stderr).toContain('expected --port to be a port number 0..65535, got "x"');
});
