/**
 * Many relays behind an ordinary load balancer: two independent relays behind
 * HAProxy (deploy/haproxy.cfg, routing by session name with consistent
 * hashing). Pages host two sessions through it that land on different relays;
 * spicy-screenshot (CONNECT through SPICE_PROXY), spice-html5 and remote-viewer
 * (the page's .vv) reach each through the balancer, pixel for pixel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { RelayServer } from '../src/relay/relay-server.ts';
import { comparePixels, expectViewerShows, freePort, spicyScreenshot, startStack, startXvfb, type Stack } from './harness.ts';
import { expectCanvasEquals, expectedFrame, openHost, pauseAndSettle, resume, type HostPage } from './pages.ts';

const ROOT = join(import.meta.dirname, '..');
const KEY = 'fleet-key-shared-by-every-relay';

let stack: Stack;
let second: RelayServer;
let haproxy: ChildProcess;
let lbPort: number;
const hosts = new Map<string, HostPage>();

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  // Both relays trust the balancer (loopback here) for X-Forwarded-For and share the operator's key.
  const relayOptions = { relayKey: KEY, trustedProxies: ['127.0.0.1'], tcpPort: null };
  stack = await startStack({ relayOptions });
  second = new RelayServer({ host: '127.0.0.1', port: 0, ...relayOptions, allowedOrigins: [stack.baseUrl] });
  await second.start();
  lbPort = await freePort();
  haproxy = spawn('haproxy', ['-f', join(ROOT, 'deploy', 'haproxy.cfg'), '-db'], {
    env: {
      ...process.env,
      SPICE_LB_BIND: `127.0.0.1:${lbPort}`,
      SPICE_RELAY1: `127.0.0.1:${stack.relayPort}`,
      SPICE_RELAY2: `127.0.0.1:${second.address!.port}`,
    },
    stdio: 'ignore',
  });
  await expect
    .poll(() => new Promise<boolean>((r) => net.connect(lbPort, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); r(true); }).once('error', () => r(false))), { timeout: 15_000 })
    .toBe(true);
  const lb = { ...stack, relayUrl: `ws://127.0.0.1:${lbPort}` };
  for (const name of ['alpha', 'gamma']) hosts.set(name, await openHost(browser, lb, `&session=${name}`));
});

test.afterAll(async () => {
  for (const h of hosts.values()) await h.page.context().close();
  haproxy?.kill('SIGTERM');
  await second?.stop();
  await stack?.stop();
});

test('the balancer puts the two sessions on different relays', () => {
  expect(stack.relay.stats().sessions).toBe(1);
  expect(second.stats().sessions).toBe(1);
});

for (const name of ['alpha', 'gamma']) {
  test(`session ${name}: spicy-screenshot through CONNECT and spice-html5 through the balancer, exact`, async ({ browser }) => {
    const host = hosts.get(name)!;
    const frame = await pauseAndSettle(host);
    try {
      const shot = await spicyScreenshot(5900, undefined, { host: name, env: { SPICE_PROXY: `http://127.0.0.1:${lbPort}` } });
      expect(shot.image, shot.result.stderr).not.toBeNull();
      expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
      const ctx = await browser.newContext();
      const client = await ctx.newPage();
      await client.goto(`${stack.baseUrl}/client.html?url=${encodeURIComponent(`ws://127.0.0.1:${lbPort}/spice/${name}`)}`);
      await expectCanvasEquals({ page: client, logs: [] }, expectedFrame(frame), 'the paused frame', 30_000);
      await ctx.close();
    } finally {
      await resume(host);
    }
  });
}

test('remote-viewer opens the page\'s .vv and reaches its session through the balancer', async () => {
  const host = hosts.get('gamma')!;
  const dir = await mkdtemp(join(tmpdir(), 'vv-lb-'));
  const xvfb = await startXvfb();
  try {
    const [d] = await Promise.all([host.page.waitForEvent('download'), host.page.click('#vv-link')]);
    const file = join(dir, d.suggestedFilename());
    await d.saveAs(file);
    const frame = await pauseAndSettle(host);
    const viewer = spawn('remote-viewer', [file], { env: { ...process.env, DISPLAY: xvfb.display }, stdio: 'ignore' });
    try {
      await expectViewerShows(xvfb, expectedFrame(frame));
    } finally {
      viewer.kill('SIGTERM');
      await resume(host);
    }
  } finally {
    await xvfb.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
