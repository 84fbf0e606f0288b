/**
 * The pictures in README.md, taken from the real thing: the demo page at
 * 1280x800 (and on a phone-sized screen) serving a VM, the spice-html5 web
 * client page showing it, and a remote-viewer window under Xvfb showing it.
 * Each picture is checked before it is written. They go to test-results/screenshots/;
 * with UPDATE_SCREENSHOTS=1 to docs/screenshots/, the committed ones (a plain
 * test run would otherwise change them every time: the guest's boot log has timings).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { comparePixels, crop, locate, run, startXvfb, type RgbImage } from './harness.ts';
import { expect, LINUX, test, type SharedGuest } from './linux-guest.ts';
import { guestPicture, hostStats, openHtml5, readHtml5Canvas, settledGuestPicture, type ClientPage } from './pages.ts';
import { encodePng } from './png.ts';
import { LEFT_SHIFT, usKey } from './us-keyboard.ts';

const ROOT = join(import.meta.dirname, '..');
const OUT = process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-results', 'screenshots');
// The Linux guest makes the nicer picture; the graphics guest stands in where it is not built.
// Timeouts are for the reference machine; the shared guest's boot time stretches them (linux-guest.ts).
test.describe.configure({ mode: 'serial', timeout: 90_000 });
let guest: SharedGuest;
const session = { stack: () => guest.stack, host: () => guest.host };
const t = (ms: number): number => ms * guest.slow;
let client: ClientPage | undefined;

/** How many different colours a picture has (up to 1000): a blank screen has one. */
function colours(rgb: Uint8Array): number {
  const seen = new Set<number>();
  for (let i = 0; i < rgb.length && seen.size < 1000; i += 3) seen.add((rgb[i]! << 16) | (rgb[i + 1]! << 8) | rgb[i + 2]!);
  return seen.size;
}

/** Types into the guest through its keyboard (the page's VM), as set-1 scancodes. */
async function typeInGuest(text: string): Promise<void> {
  const codes: number[] = [];
  for (const ch of text) {
    const k = usKey(ch);
    if (k.shift) codes.push(LEFT_SHIFT);
    codes.push(k.scancode, k.scancode | 0x80);
    if (k.shift) codes.push(LEFT_SHIFT | 0x80);
  }
  await session.host().page.evaluate((c) => window.spiceHost!.vm!.remote.keyboard(c), codes);
}

test.beforeAll(async ({ guest: booted }) => {
  guest = booted;
  await mkdir(OUT, { recursive: true });
  const page = session.host().page;
  if (LINUX) {
    // A blinking console cursor would make the pictures differ by when they were taken.
    await page.evaluate(() => window.spiceHost!.vm!.remote.serialSend('echo 0 > /sys/class/graphics/fbcon/cursor_blink\n'));
    await typeInGuest('uname -srm; echo Hello from a SPICE server in a web page\n');
  }
  const want = await settledGuestPicture(session.host());
  expect([want.width, want.height]).toEqual([1024, 768]);
});

test.afterAll(async () => {
  await client?.page.context().close();
});

test('the demo page at 1280x800 and on a phone: the VM, one client, live numbers, addresses that copy', async ({ browser }) => {
  const page = session.host().page;
  await page.setViewportSize({ width: 1280, height: 800 });
  client = await openHtml5(browser, session.stack());
  await client.page.setViewportSize({ width: 1080, height: 900 });
  await expect(client.page.locator('#spice_surface_0')).toBeVisible({ timeout: t(20_000) });
  await expect(page.locator('#clients')).toHaveText('1', { timeout: t(10_000) });
  await expect(page.locator('#native-url')).toHaveText(`spice://127.0.0.1:${session.stack().tcpPort}`);
  const webClient = new URL((await page.locator('#web-client').getAttribute('href'))!);
  expect(webClient.pathname).toBe('/client.html');
  expect(webClient.searchParams.get('url')).toBe(`${session.stack().relayUrl}/spice/default`);
  await expect(page.locator('#codec-legend li').first()).toHaveText(/^(LZ|QUIC|LZ4|JPEG|raw) \d+%$/, { timeout: t(10_000) });
  // The preview shows what the RedWorker holds, which is the guest's picture.
  await expect(page.locator('#preview-note')).toBeHidden({ timeout: t(10_000) });
  await expect
    .poll(async () => {
      const shown = await readHtml5Canvas(session.host(), 'preview');
      return shown ? comparePixels(shown.rgb, (await guestPicture(session.host()))!.rgb, shown.width).diff : -1;
    }, { timeout: t(10_000), message: 'the preview differs from the guest framebuffer' })
    .toBe(0);
  await page.screenshot({ path: join(OUT, 'demo-page.png') });

  await page.setViewportSize({ width: 390, height: 844 });
  // One column on a phone: nothing wider than the screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: join(OUT, 'demo-page-phone.png') });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Copy: to the clipboard; where the browser refuses (plain http on a LAN address), the address is selected for Ctrl+C.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: session.stack().baseUrl });
  await page.click('#native-url-copy');
  await expect(page.locator('#native-url-copy')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`spice://127.0.0.1:${session.stack().tcpPort}`);
  await page.evaluate(() => {
    navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused', 'NotAllowedError'));
  });
  await page.click('button[data-copy="ws-url"]');
  await expect(page.locator('button[data-copy="ws-url"]')).toHaveText('Press Ctrl+C');
  expect(await page.evaluate(() => getSelection()!.toString())).toBe(`${session.stack().relayUrl}/spice/default`);
});

test('the spice-html5 web client page shows the guest exactly', async () => {
  const want = await settledGuestPicture(session.host());
  await expect
    .poll(async () => {
      const got = await readHtml5Canvas(client!);
      return got ? comparePixels(got.rgb, (await guestPicture(session.host()))!.rgb, got.width).diff : -1;
    }, { timeout: t(15_000) })
    .toBe(0);
  expect(colours(want.rgb), 'the guest shows a blank screen').toBeGreaterThan(1);
  await expect(client!.page.locator('#conn-state')).toHaveText('connected');
  await client!.page.screenshot({ path: join(OUT, 'web-client.png') });
  await client!.page.context().close();
  client = undefined;
  await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: t(10_000) }).toBe(0);
});

/** The row of a picture where the colour changes most often: a row of plain background would match anywhere on the screen. */
function telltaleRow(img: RgbImage): number {
  let best = 0;
  let most = -1;
  for (let y = 0; y < img.height; y++) {
    let changes = 0;
    for (let i = (y * img.width + 1) * 3; i < (y + 1) * img.width * 3; i += 3) {
      if (img.rgb[i] !== img.rgb[i - 3] || img.rgb[i + 1] !== img.rgb[i - 2] || img.rgb[i + 2] !== img.rgb[i - 1]) changes++;
    }
    if (changes > most) [best, most] = [y, changes];
  }
  return best;
}

test('a remote-viewer window under Xvfb shows the guest', async () => {
  const xvfb = await startXvfb(1280, 1024);
  const x = async (...args: string[]): Promise<string> => (await run('xdotool', args, 10_000, { DISPLAY: xvfb.display })).stdout.trim();
  // The X server draws its pointer into the picture: park it outside the window.
  await x('mousemove', '1279', '1023');
  const viewer = spawn('remote-viewer', [`spice://127.0.0.1:${session.stack().tcpPort}`], {
    env: { ...process.env, DISPLAY: xvfb.display },
    stdio: 'ignore',
  });
  try {
    const want = await settledGuestPicture(session.host());
    const row = telltaleRow(want);
    let at: { x: number; y: number } | null = null;
    await expect
      .poll(async () => {
        at = locate(await xvfb.grab(), want.rgb.subarray(row * 1024 * 3), 1024);
        return at !== null;
      }, { timeout: t(30_000), message: 'the guest picture never appeared in the remote-viewer window' })
      .toBe(true);
    const top = at!.y - row;
    await expect
      .poll(async () => {
        const now = (await guestPicture(session.host()))!.rgb;
        return comparePixels(crop(await xvfb.grab(), at!.x, top, 1024, 768), now, 1024).diff;
      }, { timeout: t(15_000), message: 'the remote-viewer picture differs from the guest framebuffer' })
      .toBe(0);
    expect(await hostStats(session.host())).toMatchObject({ clients: 1, display: 1 });
    // The whole window, as X places it (no window manager, so no frame around it).
    const win = (await x('search', '--onlyvisible', '--class', 'remote-viewer')).split('\n').at(-1)!;
    const geo = await x('getwindowgeometry', '--shell', win);
    const num = (k: string): number => Number(new RegExp(`^${k}=(\\d+)`, 'm').exec(geo)?.[1] ?? NaN);
    const box = { x: num('X'), y: num('Y'), width: num('WIDTH'), height: num('HEIGHT') };
    expect(box.width, geo).toBeGreaterThanOrEqual(1024);
    const picture: RgbImage = { width: box.width, height: box.height, rgb: crop(await xvfb.grab(), box.x, box.y, box.width, box.height) };
    await writeFile(join(OUT, 'remote-viewer.png'), encodePng(picture));
  } finally {
    viewer.kill('SIGTERM');
    await xvfb.stop();
  }
  await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: t(10_000) }).toBe(0);
});
