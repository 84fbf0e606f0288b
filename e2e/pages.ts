/** Helpers that drive the host page and the spice-html5 client page. */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { renderTestPattern } from '../src/sources/test-pattern.ts';
import type { VgaTextDump } from '../src/sources/v86/v86-api.ts';
import { comparePixels, startStack, xrgbToRgb, type Stack } from './harness.ts';
import { slowdownOnce } from './machine-speed.ts';

export interface HostPage {
  page: Page;
  logs: string[];
}

/** Opens the demo page hosting the default session; waits until it serves. */
export async function openHost(browser: Browser, stack: Stack, query = '', prepare?: (page: Page) => void): Promise<HostPage> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  prepare?.(page);
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${stack.baseUrl}/?relay=${encodeURIComponent(stack.relayUrl)}${query}`);
  await page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, {
    timeout: 30_000 * slowdownOnce(), // a cold Vite compiles the page's modules now: slow on a busy machine
  });
  const err = await page.evaluate(() => window.spiceHostError);
  expect(err, `host page failed: ${err}\n${logs.join('\n')}`).toBeUndefined();
  return { page, logs };
}

/** Stops the animation and waits until the worker has drawn everything; returns the frame shown. */
export async function pauseAndSettle(host: HostPage): Promise<number> {
  return host.page.evaluate(async () => {
    const h = window.spiceHost!;
    const pattern = h.pattern!;
    pattern.pause();
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    while (pattern.pending) await sleep(20);
    // Settled when the worker's drawable count stops moving.
    let last = -1;
    for (;;) {
      const n = (await h.worker.stats()).drawablesProcessed;
      if (n === last) break;
      last = n;
      await sleep(100);
    }
    return pattern.frame;
  });
}

/** Waits until the test pattern has drawn `n` more frames (updates, not only the first picture, have flowed). */
export async function waitFrames(host: HostPage, n: number): Promise<void> {
  const from = await host.page.evaluate(() => window.spiceHost!.pattern!.frame);
  await expect.poll(() => host.page.evaluate(() => window.spiceHost!.pattern!.frame), { timeout: 60_000 }).toBeGreaterThanOrEqual(from + n);
}

export async function resume(host: HostPage): Promise<void> {
  await host.page.evaluate(() => window.spiceHost!.pattern!.resume());
}

export async function hostStats(host: HostPage): Promise<{
  clients: number;
  inputs: number;
  remote: number;
  linking: number;
  display: number;
  cursor: number;
  sessions: number;
}> {
  return host.page.evaluate(async () => {
    const s = await window.spiceHost!.stats();
    return {
      clients: s.server.clients,
      inputs: s.server.inputsChannels,
      remote: s.server.remoteChannels,
      linking: s.server.linksInProgress,
      display: s.worker.displayClients,
      cursor: s.worker.cursorClients,
      sessions: s.worker.sessions,
    };
  });
}

/** The test pattern's frame as R,G,B bytes, computed here in Node, independently of the page. */
export function expectedFrame(frame: number, width = 1024, height = 768): Uint8Array {
  const px = new Uint32Array(width * height);
  renderTestPattern(frame, width, height, px);
  return xrgbToRgb(px);
}

export interface ClientPage {
  page: Page;
  logs: string[];
}

/** Opens spice-html5 (the npm package, unmodified) pointed at the relay. */
export async function openHtml5(browser: Browser, stack: Stack, password?: string): Promise<ClientPage> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const url = new URL('/client.html', stack.baseUrl);
  url.searchParams.set('url', `${stack.relayUrl}/spice/default`);
  if (password !== undefined) url.searchParams.set('password', password);
  await page.goto(url.toString());
  return { page, logs };
}

/** Waits until spice-html5's canvas equals `expected` (R,G,B) pixel for pixel; `what` names it for the failure. */
export async function expectCanvasEquals(client: ClientPage, expected: Uint8Array, what: string, timeout = 10_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const c = await readHtml5Canvas(client);
        return c ? comparePixels(c.rgb, expected, c.width).diff : -1;
      },
      { timeout, message: `canvas differs from ${what}` },
    )
    .toBe(0);
}

/** Reads spice-html5's primary canvas (or another canvas of a page, by id) as R,G,B bytes (null until it exists). */
export async function readHtml5Canvas(
  client: ClientPage | HostPage,
  canvasId = 'spice_surface_0',
): Promise<{ width: number; height: number; rgb: Uint8Array } | null> {
  return readCanvasRgb(client.page, `#${canvasId}`);
}

/** Reads the first canvas matching `selector` (Playwright selectors pierce open shadow roots) as R,G,B bytes; null if none. */
export async function readCanvasRgb(page: Page, selector: string): Promise<{ width: number; height: number; rgb: Uint8Array } | null> {
  const loc = page.locator(selector).first();
  if ((await loc.count()) === 0) return null;
  const r = await loc.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    // RGBA in chunks (fast in the page); the alpha bytes are dropped here in Node.
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
    return { width: c.width, height: c.height, b64: btoa(s) };
  });
  const rgba = new Uint8Array(Buffer.from(r.b64, 'base64'));
  const rgb = new Uint8Array(r.width * r.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]!;
    rgb[j + 1] = rgba[i + 1]!;
    rgb[j + 2] = rgba[i + 2]!;
  }
  return { width: r.width, height: r.height, rgb };
}

/**
 * Registers beforeAll/afterAll that start a relay + Vite stack and a host page
 * for the spec file, and returns accessors to them.
 */
export function useHostedSession(
  query = '',
  ports: () => Promise<Parameters<typeof startStack>[0]> = async () => ({}),
): { stack(): Stack; host(): HostPage } {
  let stack: Stack | undefined;
  let host: HostPage | undefined;
  test.beforeAll(async ({ browser }) => {
    stack = await startStack(await ports());
    host = await openHost(browser, stack, query);
  });
  test.afterAll(async () => {
    await host?.page.context().close();
    await stack?.stop();
  });
  return { stack: () => stack!, host: () => host! };
}

/** The VM's VGA text screen as the guest holds it (null in graphics mode). */
export async function vgaText(host: HostPage): Promise<VgaTextDump | null> {
  return host.page.evaluate(async () => (await window.spiceHost!.vm!.remote.vgaTextDump()) ?? null);
}

/** Reloads the host page (a fresh VM boots) and waits until it serves again. */
export async function reloadHost(host: HostPage): Promise<void> {
  await host.page.reload();
  await host.page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, {
    timeout: 30_000 * slowdownOnce(), // a cold Vite compiles the page's modules now: slow on a busy machine
  });
  const err = await host.page.evaluate(() => window.spiceHostError);
  expect(err, `host page failed after reload: ${err}`).toBeUndefined();
}

/** Types into the guest through a spice-html5 client's canvas (Shift pressed explicitly for capitals). */
export async function typeInHtml5(client: ClientPage, text: string): Promise<void> {
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: 20_000 });
  await canvas.click();
  for (const ch of text) {
    if (/[A-Z]/.test(ch)) await client.page.keyboard.press(`Shift+Key${ch}`);
    else await client.page.keyboard.type(ch);
  }
}

/** The guest's own framebuffer (32-bpp VBE modes) as R,G,B bytes, or null. */
export async function guestPicture(host: HostPage): Promise<{ width: number; height: number; rgb: Uint8Array } | null> {
  const fb = await host.page.evaluate(async () => (await window.spiceHost!.vm!.remote.guestFramebuffer()) ?? null);
  if (!fb) return null;
  const rgb = new Uint8Array(fb.width * fb.height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = fb.bytes[i + 2]!;
    rgb[j + 1] = fb.bytes[i + 1]!;
    rgb[j + 2] = fb.bytes[i]!;
  }
  return { width: fb.width, height: fb.height, rgb };
}

/** What the page's v86 display currently shows (our converted framebuffer) as R,G,B bytes. */
export async function vmDisplayPicture(host: HostPage): Promise<{ width: number; height: number; rgb: Uint8Array } | null> {
  const fb = await host.page.evaluate(async () => (await window.spiceHost!.vm!.remote.framebuffer()) ?? null);
  return fb ? { width: fb.width, height: fb.height, rgb: xrgbToRgb(fb.pixels) } : null;
}

/** Waits until the guest's picture stops changing (two equal reads 300 ms apart); returns it. */
export async function settledGuestPicture(host: HostPage): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  let last = await guestPicture(host);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await guestPicture(host);
    if (last && now && now.width === last.width && Buffer.compare(Buffer.from(now.rgb), Buffer.from(last.rgb)) === 0) return now;
    last = now;
  }
  throw new Error('the guest picture did not settle within 15 s');
}

/** The workload source's current frame as R,G,B bytes (base64 across the page boundary: a plain array is too slow). */
export async function workloadFrame(host: HostPage): Promise<Uint8Array> {
  const b64 = await host.page.evaluate(() => {
    const fb = window.spiceHost!.workload!.fb; // a view into the device memory
    const bytes = new Uint8Array(fb.buffer, fb.byteOffset, fb.byteLength).slice();
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  });
  const raw = Buffer.from(b64, 'base64');
  return xrgbToRgb(new Uint32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4));
}
