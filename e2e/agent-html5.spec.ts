/**
 * The page as spice-html5's guest agent (the npm package, unmodified, wired
 * as its spice_auto.html wires it): with `resize=1` the session's screen
 * follows the browser window (MONITORS_CONFIG from resize.js; the test
 * pattern gets a new primary surface, checked pixel for pixel on the
 * client's canvas), and a file dropped onto the screen reaches the page
 * (FILE_XFER_* from filexfer.js).
 */
import { expect, test, type Page } from '@playwright/test';
import type { AgentEvent } from '../src/server/agent-sink.ts';
import { expectCanvasEquals, expectedFrame, pauseAndSettle, resume, useHostedSession, type ClientPage } from './pages.ts';

const session = useHostedSession();

let client: ClientPage | undefined;

test.afterEach(async () => {
  await client?.page.context().close();
  client = undefined;
});

async function openClient(resize: boolean, viewport: { width: number; height: number }): Promise<ClientPage> {
  const ctx = await session.host().page.context().browser()!.newContext({ viewport });
  const page = await ctx.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  const url = new URL('/client.html', session.stack().baseUrl);
  url.searchParams.set('url', `${session.stack().relayUrl}/spice/default`);
  if (resize) url.searchParams.set('resize', '1');
  await page.goto(url.toString());
  await page.waitForFunction(() => window.spiceClient?.connected === true && window.spice_connection !== undefined, null, { timeout: 30_000 });
  client = { page, logs };
  return client;
}

function agentEvents(): Promise<AgentEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.agentEvents.events);
}

function patternSize(): Promise<[number, number]> {
  return session.host().page.evaluate(() => [window.spiceHost!.pattern!.width, window.spiceHost!.pattern!.height] as [number, number]);
}

/** The width spice-html5's resize_helper asks for in this window: the screen element's, rounded down to 8. */
function html5Width(page: Page): Promise<number> {
  return page.evaluate(() => {
    const w = document.getElementById('spice-screen')!.clientWidth;
    return w - (w % 8);
  });
}

/** The last resize the page accepted whose width is `width` (its height depends on the message area then). */
async function acceptedResize(width: number): Promise<[number, number]> {
  let got: [number, number] | null = null;
  await expect
    .poll(async () => {
      const r = (await agentEvents()).filter((e) => e.kind === 'resize' && e.width === width && e.accepted).at(-1);
      got = r && r.kind === 'resize' ? [r.width, r.height] : null;
      return got;
    }, { timeout: 15_000, message: `no accepted resize to width ${width}` })
    .not.toBeNull();
  const [w, h] = got!;
  expect(h % 8).toBe(0);
  expect(h).toBeLessThan(await client!.page.evaluate(() => window.innerHeight));
  return [w, h];
}

async function expectPatternShown(c: ClientPage, width: number, height: number): Promise<void> {
  const frame = await pauseAndSettle(session.host());
  await expectCanvasEquals(c, expectedFrame(frame, width, height), `frame ${frame} at ${width}x${height}`);
  await resume(session.host());
}

test('spice-html5 with resize=1: the test pattern follows the browser window, and again when it changes', async () => {
  const c = await openClient(true, { width: 900, height: 700 });
  const first = await acceptedResize(await html5Width(c.page));
  await expect.poll(patternSize, { timeout: 15_000 }).toEqual(first);
  await expectPatternShown(c, ...first);

  await c.page.setViewportSize({ width: 700, height: 560 });
  const width = await html5Width(c.page);
  expect(width).toBeLessThan(first[0]);
  const second = await acceptedResize(width);
  await expect.poll(patternSize, { timeout: 15_000 }).toEqual(second);
  await expectPatternShown(c, ...second);
});

test('a file dropped onto spice-html5 reaches the page whole', async () => {
  const c = await openClient(false, { width: 1280, height: 900 });
  const text = 'dropped through spice-html5 ✓\n'.repeat(5000); // ~155 kB: several 64 KiB FILE_XFER_DATA
  await c.page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], 'notes.txt', { type: 'text/plain' }));
    document.getElementById('spice-area')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, text);
  await expect
    .poll(async () => (await agentEvents()).filter((e) => e.kind === 'fileProgress').at(-1), { timeout: 20_000 })
    .toMatchObject({ name: 'notes.txt', state: 'done' });
  const got = await session.host().page.evaluate(() => {
    const f = window.spiceHost!.agentEvents.files.at(-1)!;
    return { name: f.name, text: new TextDecoder().decode(f.data) };
  });
  expect(got).toEqual({ name: 'notes.txt', text });
});
