/**
 * The agent through `<spice-server>` serving a page canvas (CanvasSource) to
 * spice-gtk: text copied in the client fires the canvas's `clipboard` event
 * and the element's; the element's offerClipboard reaches the client; with
 * `follow-client-size` the canvas takes the client's window size and the
 * client's new surface equals the redrawn canvas pixel for pixel.
 */
import { expect, test, type Page } from '@playwright/test';
import { comparePixels, startStack, type Stack } from './harness.ts';
import { readCanvasRgb } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

let stack: Stack;
let page: Page;
let gtk: SpiceGtkClient | undefined;

test.beforeAll(async ({ browser }) => {
  stack = await startStack();
  page = await (await browser.newContext()).newPage();
  await page.goto(`${stack.baseUrl}/element.html?relay=${encodeURIComponent(stack.relayUrl)}`);
  await expect
    .poll(() => page.evaluate(() => (window.spiceEvents ?? []).filter((e) => e.type === 'ready').length), { timeout: 30_000 })
    .toBe(2);
});
test.afterAll(async () => {
  await page?.context().close();
  await stack?.stop();
});
test.afterEach(async () => {
  await gtk?.close();
  gtk = undefined;
});

function canvasEvents(type: string): Promise<unknown[]> {
  return page.evaluate((t) => (window.spiceEvents ?? []).filter((e) => e.id === 'canvas' && e.type === t).map((e) => e.detail), type);
}

test('clipboard both ways between spice-gtk and a canvas served by <spice-server>', async () => {
  gtk = await startSpiceGtkClient({ port: stack.tcpPort });
  await gtk.waitAgent();
  await gtk.clipboardGrab('copied in spice-gtk ✓');
  await expect.poll(() => page.evaluate(() => window.canvasClipboard)).toEqual(['copied in spice-gtk ✓']);
  expect(await canvasEvents('clipboard')).toEqual([{ text: 'copied in spice-gtk ✓', sessionId: expect.any(Number) }]);
  expect(await page.evaluate(() => document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!.clipboard)).toBe('copied in spice-gtk ✓');

  expect(await page.evaluate(() => document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')!.offerClipboard('offered by the element'))).toBe(true);
  expect(await gtk.clipboardWaitGrab()).toEqual([1]);
  expect(await gtk.clipboardRequest()).toEqual({ type: 1, text: 'offered by the element' });
});

test('follow-client-size: the canvas takes spice-gtk\'s window size, and the new surface shows the redrawn canvas', async () => {
  gtk = await startSpiceGtkClient({ port: stack.tcpPort });
  expect(gtk.ready).toMatchObject({ width: 320, height: 240 });
  await gtk.waitAgent();
  expect(await gtk.monitorConfig(480, 360)).toBe(true);
  await gtk.waitPrimary(480, 360);
  expect(await page.evaluate(() => [document.getElementById('art')!.getAttribute('width'), document.getElementById('art')!.getAttribute('height')])).toEqual(['480', '360']);
  expect(await canvasEvents('resize-request')).toContainEqual({ width: 480, height: 360, sessionId: expect.any(Number), accepted: true });
  const want = (await readCanvasRgb(page, '#art'))!;
  expect([want.width, want.height]).toEqual([480, 360]);
  await expect.poll(async () => comparePixels((await gtk!.screenshot()).rgb, want.rgb, 480).diff, { timeout: 5000 }).toBe(0);
});
