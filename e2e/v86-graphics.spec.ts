/**
 * The graphics guest: input from both real clients reaches it, and what each
 * client shows equals the guest's own framebuffer bytes, through mode switches.
 */
import { expect, test } from '@playwright/test';
import { comparePixels, spicyScreenshot, type RgbImage } from './harness.ts';
import {
  guestPicture,
  openHtml5,
  readHtml5Canvas,
  settledGuestPicture,
  useHostedSession,
  vgaText,
  vmDisplayPicture,
  type ClientPage,
} from './pages.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';
import { compareTextScreen } from './vga-text.ts';

const session = useHostedSession('&guest=graphics');

async function vmSize(): Promise<string> {
  const s = await session.host().page.evaluate(async () => (await window.spiceHost!.vm!.stats()));
  return `${s.mode} ${s.width}x${s.height}`;
}

function same(a: RgbImage | null, b: { width: number; height: number; rgb: Uint8Array }): number {
  if (!a) return -1;
  if (a.width !== b.width || a.height !== b.height) return -2;
  return comparePixels(a.rgb, b.rgb, b.width).diff;
}

async function expectHtml5Shows(client: ClientPage, want: { width: number; height: number; rgb: Uint8Array }): Promise<void> {
  await expect.poll(async () => same(await readHtml5Canvas(client), want), { timeout: 15_000 }).toBe(0);
}

async function expectSpicyShows(want: { width: number; height: number; rgb: Uint8Array }): Promise<void> {
  const shot = await spicyScreenshot(session.stack().tcpPort);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  expect(same(shot.image, want)).toBe(0);
}

test.beforeAll(async () => {
  await expect.poll(vmSize, { timeout: 30_000 }).toBe('graphics 1024x768');
});

test('spice-html5 keys and clicks reach the guest; both clients show its framebuffer exactly', async ({ browser }) => {
  const before = await settledGuestPicture(session.host());
  await expectSpicyShows(before);
  const client = await openHtml5(browser, session.stack());
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: 20_000 });
  await canvas.click({ position: { x: 600, y: 500 } });
  await client.page.keyboard.press('KeyQ');
  await expect
    .poll(async () => same(await guestPicture(session.host()), before), { timeout: 10_000, message: 'the guest did not react' })
    .not.toBe(0);
  const after = await settledGuestPicture(session.host());
  await expectHtml5Shows(client, after);
  await expectSpicyShows(after);
  await client.page.context().close();
});

test('spice-gtk keys, relative motion and buttons reach the guest', async () => {
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    expect(await gtk.mouseMode()).toBe(1); // server mode: the guest has a PS/2 mouse, no absolute pointer
    let before = await settledGuestPicture(session.host());
    await gtk.keyPressRelease(0x1e);
    await expect.poll(async () => same(await guestPicture(session.host()), before), { timeout: 10_000 }).not.toBe(0);
    before = await settledGuestPicture(session.host());
    for (let i = 0; i < 12; i++) await gtk.motion(7, 5);
    await expect.poll(async () => same(await guestPicture(session.host()), before), { timeout: 10_000 }).not.toBe(0);
    before = await settledGuestPicture(session.host());
    await gtk.button(3, true);
    await expect.poll(async () => same(await guestPicture(session.host()), before), { timeout: 10_000 }).not.toBe(0);
    await gtk.button(3, false);
    const after = await settledGuestPicture(session.host());
    const shot = await gtk.screenshot();
    expect(same(shot, after)).toBe(0);
  } finally {
    await gtk.close();
  }
});

test('mode switches recreate the surface in both clients: 1920x1080, 320x200, text, back to 1024x768', async ({ browser }) => {
  const client = await openHtml5(browser, session.stack());
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: 20_000 });
  await canvas.click({ position: { x: 10, y: 10 } });

  await client.page.keyboard.press('Digit4');
  await expect.poll(vmSize, { timeout: 15_000 }).toBe('graphics 1920x1080');
  const big = await settledGuestPicture(session.host());
  await expectSpicyShows(big);
  await expectHtml5Shows(client, big);

  await client.page.keyboard.press('Digit2');
  await expect.poll(vmSize, { timeout: 15_000 }).toBe('graphics 320x200');
  // A palette mode: the expected picture is the page's own v86 display (there is no direct-colour framebuffer).
  await client.page.waitForTimeout(500);
  const small = (await vmDisplayPicture(session.host()))!;
  await expectSpicyShows(small);
  await expectHtml5Shows(client, small);

  await client.page.keyboard.press('Digit1');
  await expect.poll(vmSize, { timeout: 15_000 }).toBe('text 720x400');
  await client.page.waitForTimeout(500);
  const dump = (await vgaText(session.host()))!;
  const skip = (r: number, c: number): boolean => r === dump.cursor.row && c === dump.cursor.col;
  const shot = await spicyScreenshot(session.stack().tcpPort);
  const badCells = compareTextScreen(shot.image!, dump, skip);
  expect(badCells, JSON.stringify(badCells.slice(0, 6))).toEqual([]);
  await expect
    .poll(async () => {
      const c = await readHtml5Canvas(client);
      return c && c.width === 720 ? compareTextScreen(c, dump, skip).length : -1;
    }, { timeout: 15_000 })
    .toBe(0);

  await client.page.keyboard.press('Digit3');
  await expect.poll(vmSize, { timeout: 15_000 }).toBe('graphics 1024x768');
  const back = await settledGuestPicture(session.host());
  await expectSpicyShows(back);
  await expectHtml5Shows(client, back);
  await client.page.context().close();
});
