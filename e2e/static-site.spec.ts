/**
 * The production way to serve the pages: `npm run build:site`, then the relay
 * alone serves dist-site/ (`spice-relay --static`). The built demo page hosts
 * from the relay's own origin, spicy-screenshot and the built web client get
 * the exact picture, and the relay serves nothing outside the folder.
 */
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { RelayServer } from '../src/relay/relay-server.ts';
import { comparePixels, run, spicyScreenshot } from './harness.ts';
import { expectCanvasEquals, expectedFrame, pauseAndSettle } from './pages.ts';

const ROOT = join(import.meta.dirname, '..');
let relay: RelayServer;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const built = await run('npm', ['run', '--silent', 'build:site'], 170_000);
  expect(built.code, built.stdout + built.stderr).toBe(0);
  relay = new RelayServer({ host: '127.0.0.1', port: 0, tcpPort: 0, staticDir: join(ROOT, 'dist-site') });
  await relay.start();
});
test.afterAll(async () => {
  await relay?.stop();
});

test('the built demo page, served by the relay, hosts; spicy-screenshot and the built web client get the exact picture', async ({ browser }) => {
  const base = `http://127.0.0.1:${relay.address!.port}`;
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const response = await page.goto(`${base}/?relay=${encodeURIComponent(relay.url)}`);
    expect(response!.headers()['cross-origin-embedder-policy']).toBe('require-corp');
    await page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, { timeout: 60_000 });
    expect(await page.evaluate(() => window.spiceHostError)).toBeUndefined();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // No Vite here: the built modules and workers.
    expect(await page.evaluate(() => [...document.scripts].map((s) => s.src).join(' '))).toMatch(/\/assets\/index-[\w-]+\.js/);

    const frame = await pauseAndSettle({ page, logs: [] });
    const shot = await spicyScreenshot(relay.address!.tcpPort!);
    expect(shot.image, shot.result.stderr).not.toBeNull();
    expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);

    const client = await ctx.newPage();
    await client.goto(`${base}/client.html?url=${encodeURIComponent(`${relay.url}/spice/default`)}`);
    await expectCanvasEquals({ page: client, logs: [] }, expectedFrame(frame), 'the paused frame', 30_000);
  } finally {
    await ctx.close();
  }
});

test('the relay serves nothing outside the site, and nothing to other sites\' pages', async () => {
  const base = `http://127.0.0.1:${relay.address!.port}`;
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/assets/../../README.md', '/nope.js']) {
    const r = await fetch(base + path);
    expect(r.status, path).toBe(404);
    await r.text();
  }
  const cross = await fetch(`${base}/index.html`, { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' } });
  expect(cross.status).toBe(403);
  await cross.text();
  const ok = await fetch(`${base}/client.html`);
  expect(ok.status).toBe(200);
  expect(ok.headers.get('cross-origin-opener-policy')).toBe('same-origin');
  await ok.text();
});
