/**
 * The page as spice-gtk's guest agent, through spice-gtk's own main channel
 * (SpiceClientGLib, driven by e2e/tools/spice_gtk_client.py over the relay's
 * TCP port): clipboard both ways, a window size that the test pattern follows
 * (checked pixel for pixel), and a file transfer that reaches the page whole;
 * the demo page (the host here) shows the clipboard and the files.
 */
import { expect, test } from '@playwright/test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentEvent } from '../src/server/agent-sink.ts';
import { comparePixels } from './harness.ts';
import { expectedFrame, pauseAndSettle, resume, useHostedSession } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession();

let client: SpiceGtkClient | undefined;

test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

async function connect(): Promise<SpiceGtkClient> {
  client = await startSpiceGtkClient({ port: session.stack().tcpPort });
  await client.waitAgent();
  return client;
}

function agentEvents(): Promise<AgentEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.agentEvents.events);
}

test('spice-gtk copies: the page gets the text (the last client to grab owns it)', async () => {
  const c = await connect();
  const text = 'Grüße from spice-gtk ✓\nline two';
  await c.clipboardGrab(text);
  await expect.poll(async () => (await agentEvents()).filter((e) => e.kind === 'clipboardText').at(-1)).toMatchObject({ kind: 'clipboardText', text });
  expect(await c.clipboardRequests()).toBe(1);
  expect(await session.host().page.evaluate(() => window.spiceHost!.patternAgent!.clipboard)).toBe(text);

  // A second client sees the first one's copy offered, and can paste it.
  const second = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    await second.waitAgent();
    expect(await second.clipboardWaitGrab()).toEqual([1]);
    expect(await second.clipboardRequest()).toEqual({ type: 1, text });
    // Then it copies: it owns the clipboard now.
    await second.clipboardGrab('second wins');
    await expect.poll(async () => (await agentEvents()).filter((e) => e.kind === 'clipboardText').at(-1)).toMatchObject({ text: 'second wins' });
  } finally {
    await second.close();
  }
});

test('the page offers text: spice-gtk sees the grab and pastes it', async () => {
  const c = await connect();
  const text = 'from the page: ½ ✓ — 日本語';
  await session.host().page.evaluate((t) => window.spiceHost!.offerClipboard(t), text);
  expect(await c.clipboardWaitGrab()).toEqual([1]);
  expect(await c.clipboardRequest()).toEqual({ type: 1, text });
});

test('spice-gtk sends a file: it reaches the page whole, with progress', async () => {
  const c = await connect();
  const dir = await mkdtemp(join(tmpdir(), 'agent-xfer-'));
  try {
    const data = Buffer.alloc(200_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
    const path = join(dir, 'dropped file.bin');
    await writeFile(path, data);
    await c.fileCopy(path);
    const got = await session.host().page.evaluate(() => {
      const f = window.spiceHost!.agentEvents.files.at(-1);
      return f ? { name: f.name, bytes: Array.from(f.data) } : null;
    });
    expect(got?.name).toBe('dropped file.bin');
    expect(Buffer.from(got!.bytes).equals(data)).toBe(true);
    const progress = (await agentEvents()).filter((e) => e.kind === 'fileProgress');
    expect(progress[0]).toMatchObject({ state: 'receiving', received: 0, size: data.length });
    expect(progress.length).toBeGreaterThan(2); // the chunks as they came
    expect(progress.at(-1)).toMatchObject({ state: 'done', received: data.length, size: data.length });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the demo page shows what spice-gtk copied, offers typed text, and lists a sent file as a download', async () => {
  const c = await connect();
  const page = session.host().page;
  await c.clipboardGrab('shown on the demo page');
  await expect(page.locator('#agent-clipboard')).toHaveText('shown on the demo page');

  await page.fill('#agent-offer', 'typed on the demo page');
  await page.click('#agent-offer-form button');
  expect(await c.clipboardWaitGrab()).toEqual([1]);
  expect(await c.clipboardRequest()).toEqual({ type: 1, text: 'typed on the demo page' });

  const dir = await mkdtemp(join(tmpdir(), 'agent-demo-'));
  try {
    await writeFile(join(dir, 'report.txt'), 'a file for the download list\n');
    await c.fileCopy(join(dir, 'report.txt'));
    const link = page.locator('#agent-files a', { hasText: 'report.txt' });
    await expect(link).toHaveAttribute('download', 'report.txt');
    const body = await link.evaluate(async (a: HTMLAnchorElement) => (await fetch(a.href)).text());
    expect(body).toBe('a file for the download list\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('spice-gtk resizes its window: the test pattern follows with a new primary surface, pixel for pixel', async () => {
  const c = await connect();
  expect(c.ready).toMatchObject({ width: 1024, height: 768 });
  expect(await c.monitorConfig(800, 600)).toBe(true);
  await c.waitPrimary(800, 600);
  await expect.poll(async () => (await agentEvents()).filter((e) => e.kind === 'resize').at(-1)).toMatchObject({ width: 800, height: 600, accepted: true });
  const frame = await pauseAndSettle(session.host());
  const expected = expectedFrame(frame, 800, 600);
  let last = { diff: -1, first: '' };
  await expect
    .poll(
      async () => {
        const shot = await c.screenshot();
        expect([shot.width, shot.height]).toEqual([800, 600]);
        last = comparePixels(shot.rgb, expected, 800);
        return last.diff;
      },
      { timeout: 10_000, message: `spice-gtk's 800x600 surface differs from frame ${frame}: ${last.first}` },
    )
    .toBe(0);
  await resume(session.host());

  // Too small for the pattern: refused, the picture stays as it is.
  expect(await c.monitorConfig(32, 32)).toBe(true);
  await expect.poll(async () => (await agentEvents()).filter((e) => e.kind === 'resize').at(-1)).toMatchObject({ width: 32, height: 32, accepted: false });
  expect((await c.waitDisplay()).width).toBe(800);
});
