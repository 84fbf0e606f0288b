/**
 * `<spice-server>` in a plain page (element.html): two elements serve two
 * sessions at once — the test pattern to spice-html5, a page canvas to
 * spice-gtk — with the right events; the canvas adapter is pixel-exact in
 * spicy-screenshot and clicks from spice-gtk reach the canvas; without
 * cross-origin isolation the element says what to fix.
 */
import { expect, test, type Page } from '@playwright/test';
import { comparePixels, spicyScreenshot, startStack, type Stack } from './harness.ts';
import { expectedFrame, readCanvasRgb } from './pages.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';
import { addLogListener } from '../src/util/logger.ts';

let stack: Stack;
/** What the relay (in this process) logged of the pages' forwarded warnings. */
const forwarded: string[] = [];
let stopListening: (() => void) | undefined;
test.beforeAll(async () => {
  stopListening = addLogListener((_level, scope, message) => {
    if (scope === 'relay' && message.startsWith('page session=')) forwarded.push(message);
  });
  stack = await startStack();
});
test.afterAll(async () => {
  stopListening?.();
  await stack?.stop();
});

interface RecordedEvent {
  id: string;
  type: string;
  detail: Record<string, unknown>;
}

async function events(page: Page): Promise<RecordedEvent[]> {
  return page.evaluate(() => (window.spiceEvents ?? []) as RecordedEvent[]);
}

test('two <spice-server> elements: pattern to spice-html5, canvas pixel-exact to spice-gtk, events with details', async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const logs: string[] = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${stack.baseUrl}/element.html?relay=${encodeURIComponent(stack.relayUrl)}`);
  await expect.poll(async () => (await events(page)).filter((e) => e.type === 'ready').length, { timeout: 30_000 }).toBe(2);
  const ready = (await events(page)).filter((e) => e.type === 'ready');
  expect(ready.find((e) => e.id === 'pattern')!.detail).toEqual({
    session: 'el-pattern',
    relayUrl: stack.relayUrl,
    webSocketUrl: `${stack.relayUrl}/spice/el-pattern`,
  });
  expect(ready.find((e) => e.id === 'canvas')!.detail).toMatchObject({ session: 'default' });
  // Each session's warnings reach the relay under that session only, not the page's other one.
  const ownWarning = (name: string): RegExp => new RegExp(`^page session=${name}: \\[session-host\\] session "${name}" has no password`);
  await expect.poll(() => ['el-pattern', 'default'].every((n) => forwarded.some((l) => ownWarning(n).test(l))), { timeout: 10_000 }).toBe(true);
  expect(forwarded.filter((l) => /^page session=el-pattern: .*session "default"/.test(l) || /^page session=default: .*session "el-pattern"/.test(l))).toEqual([]);

  // spice-html5 on the pattern's session.
  const client = await browser.newContext().then((c) => c.newPage());
  const url = new URL('/client.html', stack.baseUrl);
  url.searchParams.set('url', `${stack.relayUrl}/spice/el-pattern`);
  await client.goto(url.toString());
  await expect
    .poll(async () => (await events(page)).filter((e) => e.id === 'pattern' && e.type === 'client-connected').length, { timeout: 20_000 })
    .toBe(1);
  const connected = (await events(page)).find((e) => e.id === 'pattern' && e.type === 'client-connected')!;
  expect(connected.detail).toEqual({ sessionId: expect.any(Number), clients: 1 });
  const frame = await page.evaluate(async () => {
    const host = document.querySelector<HTMLElementTagNameMap['spice-server']>('#pattern')!.sessionHost!;
    host.pattern!.pause();
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    while (host.pattern!.pending) await sleep(20);
    await sleep(300);
    return host.pattern!.frame;
  });
  await expect
    .poll(
      async () => {
        const c = await readCanvasRgb(client, '#spice_surface_0');
        return c ? comparePixels(c.rgb, expectedFrame(frame), 1024).diff : -1;
      },
      { timeout: 10_000 },
    )
    .toBe(0);

  // The element's live preview shows the same frame.
  await expect
    .poll(
      async () => {
        const c = await readCanvasRgb(page, '#pattern canvas');
        return c && c.width === 1024 ? comparePixels(c.rgb, expectedFrame(frame), 1024).diff : -1;
      },
      { timeout: 5000 },
    )
    .toBe(0);

  // The canvas on session "default": spicy-screenshot over TCP sees exactly what the canvas shows.
  const shot = await spicyScreenshot(stack.tcpPort);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  expect([shot.image!.width, shot.image!.height]).toEqual([320, 240]);
  expect(comparePixels(shot.image!.rgb, (await readCanvasRgb(page, '#art'))!.rgb, 320).diff).toBe(0);

  // A click from spice-gtk lands on the canvas where it was aimed; the new picture follows.
  const gtk = await startSpiceGtkClient({ port: stack.tcpPort });
  try {
    await gtk.waitDisplay();
    await gtk.position(200, 120);
    await gtk.button(1, true);
    await gtk.button(1, false);
    await expect.poll(() => page.evaluate(() => window.artClicks!), { timeout: 5000 }).toEqual([{ x: 200, y: 120 }]);
    const want = (await readCanvasRgb(page, '#art'))!.rgb;
    await expect.poll(async () => comparePixels((await gtk.screenshot()).rgb, want, 320).diff, { timeout: 5000 }).toBe(0);
  } finally {
    await gtk.close();
  }

  // Closing spice-html5 fires client-disconnected with the count back to zero.
  await client.context().close();
  await expect
    .poll(async () => (await events(page)).find((e) => e.id === 'pattern' && e.type === 'client-disconnected')?.detail, { timeout: 10_000 })
    .toEqual({ sessionId: connected.detail.sessionId, clients: 0 });
  // `stats` events report the session: its surface, streams and codec counts.
  const statsEvent = (await events(page)).find((e) => e.id === 'pattern' && e.type === 'stats');
  expect(statsEvent?.detail).toMatchObject({ width: 1024, height: 768, streams: 0, codecs: expect.any(Object) });
  // The stats property (refreshed every second) follows.
  await expect
    .poll(() => page.evaluate(() => document.querySelector<HTMLElementTagNameMap['spice-server']>('#pattern')!.stats), { timeout: 5000 })
    .toMatchObject({ width: 1024, height: 768, clients: 0 });
  expect(logs).toEqual([]);
  await ctx.close();
});

test('without cross-origin isolation the element fires error and says which headers to send', async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  // Serve the page without its COOP/COEP headers.
  await page.route('**/element.html*', async (route) => {
    const res = await route.fetch();
    const headers = { ...res.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response: res, headers });
  });
  await page.goto(`${stack.baseUrl}/element.html?relay=${encodeURIComponent(stack.relayUrl)}`);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  await expect.poll(async () => (await events(page)).filter((e) => e.type === 'error').length, { timeout: 10_000 }).toBe(2);
  const err = (await events(page)).find((e) => e.type === 'error')!;
  expect(String(err.detail.message)).toMatch(/not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
  await ctx.close();
});
