/**
 * The attacks of issue 8, each against the real stack on loopback with the
 * real clients beside them: another origin in Chromium, a squatter during a
 * reload and after a relay restart, 300 slowloris connections, a
 * password-guessing burst, an undecryptable ticket, and a mux token looked
 * for where it must not be.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import net from 'node:net';
import { expect, test } from '@playwright/test';
import WebSocket from 'ws';
import { RelayServer } from '../src/relay/relay-server.ts';
import { RelayHost } from '../src/transport/relay-host.ts';
import type { WebSocketConstructor } from '../src/transport/websocket-like.ts';
import { setLogLevel, setLogSink } from '../src/util/logger.ts';
import { LinkError } from '../src/protocol/constants.ts';
import { encodeLinkHeader } from '../src/protocol/link.ts';
import { comparePixels, spicyScreenshot, startStack, type Stack } from './harness.ts';
import { expectCanvasEquals, expectedFrame, openHost, openHtml5, pauseAndSettle, resume, type HostPage } from './pages.ts';
import { tryLinkRawChannel } from './raw-spice-client.ts';

const WS = WebSocket as unknown as WebSocketConstructor;
const PASSWORD = 'tr0ub4dor&3';
/** Short backoff steps, so the burst below is quick yet its spacing measurable. */
const THROTTLE = { baseDelayMs: 100, maxDelayMs: 800 };

let stack: Stack;
let host: HostPage;
const relayLog: string[] = [];

test.beforeAll(async ({ browser }) => {
  stack = await startStack({ relayOptions: { password: PASSWORD, authThrottle: THROTTLE } });
  // The relay's whole log (info too), kept here rather than printed.
  setLogLevel('info');
  setLogSink((level, scope, message) => {
    if (scope === 'relay') relayLog.push(`${level} ${message}`);
  });
  host = await openHost(browser, stack);
});

test.afterAll(async () => {
  setLogSink(null);
  await host?.page.context().close();
  await stack?.stop();
});

/** spicy-screenshot with the password shows the paused test pattern exactly. */
async function expectSpiceGtkExact(): Promise<void> {
  const frame = await pauseAndSettle(host);
  const shot = await spicyScreenshot(stack.tcpPort, PASSWORD);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
  await resume(host);
}

/** Serves one page of `html` on loopback (another origin than ours). */
async function serveEvilPage(html: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

test('the mux token reaches no URL and no relay log line: page threads present it in the handshake, checked before the socket is accepted', async ({ browser }) => {
  const own = await startStack({});
  setLogLevel('debug');
  const from = relayLog.length;
  const urls: string[] = [];
  let token = '';
  try {
    const h = await openHost(browser, own, '', (page) =>
      page.on('websocket', (ws) => {
        urls.push(ws.url());
        ws.on('framereceived', (f) => {
          if (typeof f.payload === 'string' && f.payload.includes('"registered"')) token = (JSON.parse(f.payload) as { muxToken: string }).muxToken;
        });
      }),
    );
    // A native client makes the main thread and the RedWorker open their mux sockets (Playwright sees workers' too).
    const shot = await spicyScreenshot(own.tcpPort);
    expect(shot.image, shot.result.stderr).not.toBeNull();
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(urls.filter((u) => new URL(u).pathname === '/mux').length).toBeGreaterThanOrEqual(2);
    for (const u of urls) expect(u).not.toContain(token);
    // The old way, the token in the query, opens nothing; the handshake way does.
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${own.relayUrl}/mux?session=default&token=${token}`);
      ws.on('error', () => {});
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
    });
    expect(refused).toBe(400);
    expect(relayLog.slice(from).filter((l) => l.includes(token))).toEqual([]);
    await h.page.context().close();
  } finally {
    setLogLevel('info');
    await own.stop();
  }
});

test('a page on another origin can neither watch, type, host nor read our modules or the relay key', async ({ browser }) => {
  const pageServer = stack.baseUrl;
  const html = `<!doctype html><script type="module">
    const relay = ${JSON.stringify(stack.relayUrl)};
    const page = ${JSON.stringify(pageServer)};
    const ws = (url, send) => new Promise((resolve) => {
      const s = new WebSocket(url, ['binary']);
      s.onopen = () => { if (send) s.send(send); };
      s.onmessage = () => resolve('message');
      s.onclose = (e) => resolve('closed ' + e.code);
    });
    const attempt = (p) => p.then((v) => 'ok: ' + String(v).slice(0, 80), (e) => 'refused: ' + e.name);
    window.results = {
      client: await ws(relay + '/spice/default'),
      host: await ws(relay + '/host?session=evil', JSON.stringify({ type: 'register', secret: 'x'.repeat(32) })),
      module: await attempt(fetch(page + '/src/demo/main.ts').then((r) => r.text())),
      credentials: await attempt(fetch(page + '/__spice/launcher-credentials', { method: 'POST', body: '{}' }).then((r) => r.text())),
      credentialsNoCors: await attempt(fetch(page + '/__spice/launcher-credentials', { method: 'POST', mode: 'no-cors', body: '{}' }).then((r) => r.type + ' ' + r.status)),
      importModule: await attempt(import(page + '/src/host/launcher-credentials.ts')),
    };
  </script>`;
  const evil = await serveEvilPage(html);
  try {
    // Cross-site (localhost vs 127.0.0.1) and same-site but cross-origin (another port).
    for (const origin of [`http://localhost:${evil.port}`, `http://127.0.0.1:${evil.port}`]) {
      const streamsBefore = stack.relay.stats().streams;
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => (window as { results?: unknown }).results !== undefined, null, { timeout: 20_000 });
      const r = await page.evaluate(() => (window as unknown as { results: Record<string, string> }).results);
      await ctx.close();
      expect(r.client, origin).toBe('closed 1006');
      expect(r.host, origin).toBe('closed 1006');
      expect(r.module, origin).toBe('refused: TypeError');
      expect(r.credentials, origin).toBe('refused: TypeError');
      expect(r.credentialsNoCors, origin).toBe('ok: opaque 0');
      expect(r.importModule, origin).toBe('refused: TypeError');
      expect(stack.relay.stats().streams).toBe(streamsBefore); // nothing reached the page
      expect(relayLog.join('\n')).toContain(`origin "${origin}" is not allowed`);
    }
    // What our own origin may do still works: spice-html5 from our page server gets the picture.
    const client = await openHtml5(browser, stack, PASSWORD);
    const frame = await pauseAndSettle(host);
    await expectCanvasEquals(client, expectedFrame(frame), 'the paused frame', 20_000);
    await client.page.context().close();
    await resume(host);
  } finally {
    evil.server.close();
  }
});

test('a squatter cannot take the session while the page reloads; the page comes back by itself, also after a relay restart', async () => {
  // Without the relay key nobody may host at all.
  await expect(RelayHost.connect({ relayUrl: stack.relayUrl, WebSocketImpl: WS, reconnect: false })).rejects.toMatchObject({ code: 4010 });
  // Even a page holding the key (another tenant) cannot take "default": not while held, not during a reload.
  const squat = async (): Promise<number | undefined> => {
    try {
      const h = await RelayHost.connect({ relayUrl: stack.relayUrl, relayKey: stack.relay.relayKey, secret: 'squatter-secret-0123456789', WebSocketImpl: WS, reconnect: false });
      h.close();
      return 0;
    } catch (e) {
      return (e as { code?: number }).code;
    }
  };
  expect(await squat()).toBe(4001);
  const reload = host.page.reload();
  const codes: Array<number | undefined> = [];
  for (let i = 0; i < 20; i++) codes.push(await squat());
  await reload;
  expect(codes.every((c) => c === 4001), `squatter results ${codes.join(',')}`).toBe(true);
  await host.page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, { timeout: 30_000 });
  expect(await host.page.evaluate(() => window.spiceHostError)).toBeUndefined();
  expect(relayLog.join('\n')).toMatch(/host (came back to|re-registered) session=default/);
  await expectSpiceGtkExact();

  // The relay restarts (same ports, same key): the page registers again without help.
  const key = stack.relay.relayKey;
  await stack.relay.stop();
  await expect.poll(() => host.page.evaluate(() => document.getElementById('state')?.textContent ?? ''), { timeout: 10_000 }).toMatch(/registering again/);
  const relay = new RelayServer({
    host: '127.0.0.1',
    port: stack.relayPort,
    tcpPort: stack.tcpPort,
    relayKey: key,
    allowedOrigins: [stack.baseUrl],
    password: PASSWORD,
    authThrottle: THROTTLE,
  });
  await relay.start();
  const oldStop = stack.stop.bind(stack);
  stack.relay = relay;
  stack.stop = async () => {
    await oldStop();
    await relay.stop();
  };
  await expect.poll(() => host.page.evaluate(() => window.spiceHost!.relay.registered), { timeout: 30_000 }).toBe(true);
  await expectSpiceGtkExact();
});

test('300 slowloris connections (1 byte/s, from ten addresses) do not keep a real client out', async () => {
  const sockets: Socket[] = [];
  const header = Buffer.from(encodeLinkHeader(18));
  let sent = 0;
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write(header.subarray(sent % 16, (sent % 16) + 1));
    sent++;
  }, 1000);
  try {
    for (let i = 0; i < 300; i++) {
      const s = net.connect({ host: '127.0.0.1', port: stack.tcpPort, localAddress: `127.0.0.${2 + (i % 10)}` });
      s.on('error', () => {});
      sockets.push(s);
    }
    await expect.poll(() => sockets.filter((s) => s.destroyed || s.readyState === 'open').length, { timeout: 20_000 }).toBe(300);
    // They trickle for a while first, as slowloris does.
    await expect.poll(() => sent, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    // Refused or pushed out beyond the limits; what stays costs the page nothing.
    await expect.poll(() => stack.relay.stats().admission.pending, { timeout: 10_000 }).toBeLessThanOrEqual(64);
    const stats = await host.page.evaluate(async () => (await window.spiceHost!.stats()).server);
    expect(stats.linksInProgress).toBe(0);
    // The real client links, authenticates and gets the exact picture.
    await expectSpiceGtkExact();
    // 64 at most were pending at any time; the rest were refused or pushed out, each with a reason.
    const { refused, evicted } = stack.relay.stats().admission;
    expect(refused + evicted).toBeGreaterThanOrEqual(300 - 64);
    expect(relayLog.join('\n')).toMatch(/tcp client 127\.0\.0\.\d+:\d+ (refused: \d+ connections|dropped: pushed out)/);
  } finally {
    clearInterval(trickle);
    for (const s of sockets) s.destroy();
  }
});

test('a password-guessing burst is slowed and logged while the right password still works', async () => {
  const failuresBefore = relayLog.filter((l) => l.includes('authentication failed for tcp client 127.0.0.5')).length;
  const t0 = Date.now();
  const results: number[] = [];
  const burst = (async () => {
    for (let i = 0; i < 10; i++) {
      const link = { port: stack.tcpPort, channelType: 1, connectionId: 0, password: `guess-${i}`, localAddress: '127.0.0.5' };
      results.push((await tryLinkRawChannel(link)).result);
    }
  })();
  // While the burst runs, the owner of the password connects from another address.
  await expectSpiceGtkExact();
  await burst;
  const elapsed = Date.now() - t0;
  expect(results).toEqual(new Array(10).fill(LinkError.PERMISSION_DENIED));
  // Spaced by the backoff: 100 + 200 + 400 + 800 × 6 ms at least between the ten attempts.
  expect(elapsed).toBeGreaterThanOrEqual(5500);
  const failures = relayLog.filter((l) => l.includes('authentication failed for tcp client 127.0.0.5'));
  expect(failures.length - failuresBefore).toBe(10);
  expect(failures.at(-1)).toMatch(/^warn .*wrong password \(10 failure\(s\) in a row from this address; its next connection waits 800 ms\)/);
  // The page logged each refusal too, and it reached the relay's (the host's) log.
  expect(relayLog.some((l) => l.includes('page session=default: [spice-server] link refused for tcp 127.0.0.5'))).toBe(true);
  // Neither the password nor the guesses' plaintext show up in any log line.
  expect(relayLog.join('\n')).not.toContain(PASSWORD);
  expect(relayLog.join('\n')).not.toContain('guess-3');
});

test('a ticket that does not decrypt is refused even where no password is set', async ({ browser }) => {
  const open = await startStack();
  const page = await openHost(browser, open);
  try {
    const zero = await tryLinkRawChannel({ port: open.tcpPort, channelType: 1, connectionId: 0, ticket: new Uint8Array(128) });
    expect(zero.result).toBe(LinkError.PERMISSION_DENIED);
    const fine = await tryLinkRawChannel({ port: open.tcpPort, channelType: 1, connectionId: 0, password: '' });
    expect(fine.result).toBe(LinkError.OK);
    fine.channel.close();
    expect(page.logs.join('\n')).toMatch(/link refused .*ticket could not be decrypted/);
  } finally {
    await page.page.context().close();
    await open.stop();
  }
});

test('a page that gets no key from a launcher asks for it: a wrong one is refused, the right one hosts', async ({ browser }) => {
  const far = await startStack({ handKey: false });
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const hosted = async (): Promise<void> => {
      await page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, { timeout: 30_000 });
    };
    await page.goto(`${far.baseUrl}/?relay=${encodeURIComponent(far.relayUrl)}`);
    await hosted();
    expect(await page.evaluate(() => window.spiceHostError)).toMatch(/missing relay key/);
    await expect(page.locator('#banner-title')).toHaveText('The relay does not let this page host');
    await page.fill('#relay-key', 'not-the-key-0123456789');
    await Promise.all([page.waitForEvent('load'), page.click('#relay-key-form button')]);
    await hosted();
    expect(await page.evaluate(() => window.spiceHostError)).toMatch(/wrong relay key/);
    await page.fill('#relay-key', far.relay.relayKey!);
    await Promise.all([page.waitForEvent('load'), page.click('#relay-key-form button')]);
    await hosted();
    expect(await page.evaluate(() => window.spiceHostError)).toBeUndefined();
    // Kept for this tab only, never in the address.
    expect(page.url()).not.toContain(far.relay.relayKey!);
    const shot = await spicyScreenshot(far.tcpPort);
    expect(shot.image, shot.result.stderr).not.toBeNull();
  } finally {
    await ctx.close();
    await far.stop();
  }
});
