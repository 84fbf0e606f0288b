/**
 * The page hosted from a non-loopback address: `npm run host -- --headless
 * --host 10.231.X.2 --tls-cert … --tls-key …` runs inside a network namespace
 * this spec creates (a veth pair, 10.231.X.1/30 here, 10.231.X.2/30 there), so
 * no interface of the machine is involved. Over plain http such a page is no
 * secure context and could not host at all; over https it does. From the root
 * namespace, spicy-screenshot (TLS port) and spice-html5 (https + wss) then see
 * the test pattern pixel for pixel. Off loopback a password is required: it
 * goes to the host through SPICE_PASSWORD. All traffic stays on the veth pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test, type Browser } from '@playwright/test';
import { readBarcode } from '../src/sources/test-pattern.ts';
import { makeTestCa, type TestCa } from '../test/helpers/test-ca.ts';
import { comparePixels, run, spicyScreenshot, type RgbImage } from './harness.ts';
import { expectedFrame, readHtml5Canvas, type ClientPage } from './pages.ts';
import { emptyHome, launchTrustingChromium, spiceGtkEnv } from './tls.ts';

const ROOT = join(import.meta.dirname, '..');
const NS = `spws-tls-${process.pid}`;
const VETH_HOST = `spwh${process.pid % 100000}`;
const VETH_NS = `spwn${process.pid % 100000}`;
const PASSWORD = randomBytes(9).toString('base64url');

let subnet = '';
let guestIp = '';
let nsCreated = false;
let ca: TestCa | undefined;
let home = '';
let host: { proc: ChildProcess; out: () => string; exited: Promise<number | null> } | undefined;
let browser: Browser | undefined;

async function ip(args: string[]): Promise<string> {
  const r = await run('ip', args, 15_000);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: expected exit 0, got ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A 10.231.X.0/30 that no interface of this machine uses yet. */
async function freeSubnet(): Promise<string> {
  const used = await ip(['-4', '-o', 'addr', 'show']);
  for (let i = 0; i < 250; i++) {
    const x = ((process.pid + i) % 250) + 1;
    if (!used.includes(`10.231.${x}.`)) return `10.231.${x}`;
  }
  throw new Error('expected a free 10.231.X.0/30, got all of 10.231.1-250 in use');
}

/** Reads the frame number the test pattern drew into the barcode of an R,G,B image. */
function frameOf(img: { width: number; rgb: Uint8Array }): number {
  const px = new Uint32Array(img.width * 8);
  for (let i = 0; i < px.length; i++) px[i] = (img.rgb[i * 3]! << 16) | (img.rgb[i * 3 + 1]! << 8) | img.rgb[i * 3 + 2]!;
  return readBarcode(px, img.width);
}

/** Differing pixels between an image of the live pattern and the frame its barcode names. */
function diffFromOwnFrame(img: { width: number; height: number; rgb: Uint8Array }): number {
  return comparePixels(img.rgb, expectedFrame(frameOf(img), img.width, img.height), img.width).diff;
}

function httpsStatus(url: string, caPem: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

test.describe.configure({ timeout: 180_000 });

test.beforeAll(async () => {
  test.skip(process.getuid?.() !== 0, 'creating a network namespace needs root');
  subnet = await freeSubnet();
  guestIp = `${subnet}.2`;
  await ip(['netns', 'add', NS]);
  nsCreated = true;
  await ip(['link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_NS]);
  await ip(['link', 'set', VETH_NS, 'netns', NS]);
  await ip(['addr', 'add', `${subnet}.1/30`, 'dev', VETH_HOST]);
  await ip(['link', 'set', VETH_HOST, 'up']);
  await ip(['netns', 'exec', NS, 'ip', 'addr', 'add', `${guestIp}/30`, 'dev', VETH_NS]);
  await ip(['netns', 'exec', NS, 'ip', 'link', 'set', VETH_NS, 'up']);
  await ip(['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);

  ca = await makeTestCa(['127.0.0.1', guestIp]);
  home = await emptyHome();
  // As `npm run host` runs it (tsx in-process), inside the namespace; default ports there.
  const proc = spawn(
    'ip',
    ['netns', 'exec', NS, process.execPath, 'scripts/run.mjs', 'scripts/host.ts', '--headless', '--host', guestIp,
      '--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--tcp-port', 'off'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPICE_PASSWORD: PASSWORD } },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  host = { proc, out: () => out, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
  await expect
    .poll(() => (proc.exitCode !== null ? `exited ${proc.exitCode}: ${out}` : out), { timeout: 120_000, message: 'npm run host in the namespace' })
    .toContain('is hosting session "default"');
  browser = await launchTrustingChromium(ca.cert);
});

test.afterAll(async () => {
  await browser?.close();
  if (host && host.proc.exitCode === null) {
    host.proc.kill('SIGTERM');
    await Promise.race([host.exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (host.proc.exitCode === null) host.proc.kill('SIGKILL');
  }
  // Deleting the namespace destroys its end of the veth pair and with it ours.
  if (nsCreated) await ip(['netns', 'del', NS]);
  await run('ip', ['link', 'del', VETH_HOST], 10_000); // already gone unless the move failed
  await ca?.remove();
  if (home) await rm(home, { recursive: true, force: true });
});

test('over plain http the same address cannot host (no secure context): npm run host exits 2 and says to use https', async () => {
  // Other ports than the TLS host's, in the same namespace.
  const r = await run(
    'ip',
    ['netns', 'exec', NS, process.execPath, join(ROOT, 'scripts/run.mjs'), join(ROOT, 'scripts/host.ts'), '--headless', '--host', guestIp,
      '--port', '5174', '--relay-port', '8766', '--tcp-port', 'off'],
    90_000,
    { SPICE_PASSWORD: PASSWORD },
  );
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toContain('not a secure context');
});

test('npm run host prints the https, wss and TLS addresses of the namespace address and does not serve the key', async () => {
  const out = host!.out();
  expect(out).toContain(`over TLS:     remote-viewer "spice://${guestIp}?tls-port=5901" --spice-ca-file=CA.pem`);
  expect(out).toContain(`spice-html5:  wss://${guestIp}:8765/spice/default`);
  expect(out).toContain(`web client:   https://${guestIp}:5173/client.html?url=`);
  expect(out).toContain('password:     required');
  expect(out).not.toContain(ca!.key.toString().split('\n')[1]!);
  expect(out).not.toContain(PASSWORD);
  expect(await httpsStatus(`https://${guestIp}:5173/`, ca!.caCert)).toBe(200);
  expect(await httpsStatus(`https://${guestIp}:5173/@fs${ca!.keyFile}`, ca!.caCert)).toBe(403);
});

test('spicy-screenshot over TLS to the namespace address shows the pattern pixel for pixel', async () => {
  let last: RgbImage | null = null;
  let err = '';
  // The pattern is live: a picture is exact when it shows one whole frame, the one its barcode names.
  await expect
    .poll(
      async () => {
        const { image, result } = await spicyScreenshot(5901, PASSWORD, { host: guestIp, tls: true, env: spiceGtkEnv(home, ca!.caFile) });
        last = image;
        err = result.stderr;
        return image ? diffFromOwnFrame(image) : -1;
      },
      { timeout: 60_000, intervals: [500, 1000, 2000], message: `spicy-screenshot: ${err}` },
    )
    .toBe(0);
  expect([last!.width, last!.height]).toEqual([1024, 768]);
  // Without the CA the same client is refused in the TLS handshake, password or not.
  const refused = await spicyScreenshot(5901, PASSWORD, { host: guestIp, tls: true, env: spiceGtkEnv(home, null) });
  expect(refused.image).toBeNull();
  expect(refused.result.stderr).toMatch(/certificate verification/i);
});

test('spice-html5 from https://10.231.X.2 over wss:// shows the pattern pixel for pixel', async () => {
  const ctx = await browser!.newContext();
  const page = await ctx.newPage();
  const client: ClientPage = { page, logs: [] };
  page.on('pageerror', (e) => client.logs.push(`pageerror: ${e.message}`));
  try {
    const wsUrl = `wss://${guestIp}:8765/spice/default`;
    const url = new URL(`https://${guestIp}:5173/client.html`);
    url.searchParams.set('url', wsUrl);
    url.searchParams.set('password', PASSWORD);
    await page.goto(url.toString());
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
    await expect
      .poll(
        async () => {
          const c = await readHtml5Canvas(client);
          return c && c.width === 1024 ? diffFromOwnFrame(c) : -1;
        },
        { timeout: 60_000, message: 'the canvas never showed one whole frame of the pattern' },
      )
      .toBe(0);
    expect(client.logs).toEqual([]);
  } finally {
    await ctx.close();
  }
});
