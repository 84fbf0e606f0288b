/**
 * The Debian Linux guest served to the real clients: it boots to a shell on the
 * 1024x768 bochs-drm console, commands typed through spice-html5 and spice-gtk
 * run, the screen arrives exactly, and the absolute (VMware) pointer is offered
 * and used.
 */
import type { Page } from '@playwright/test';
import { comparePixels } from './harness.ts';
import { expect, LINUX, test, type SharedGuest } from './linux-guest.ts';
import { guestPicture, openHtml5, settledGuestPicture, type ClientPage } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';
import { LEFT_SHIFT, usKey } from './us-keyboard.ts';

// Timeouts here are for the reference machine; the shared guest's boot time stretches them (linux-guest.ts).
test.describe.configure({ timeout: 90_000 });
let guest: SharedGuest;
const session = { stack: () => guest.stack, host: () => guest.host };
/** A timeout of the reference machine, stretched by how slow this one booted the guest. */
const t = (ms: number): number => ms * guest.slow;

function serial(page: Page): Promise<string> {
  return page.evaluate(() => window.spiceHost!.vm!.serial.join('\n'));
}

async function typeHtml5(client: ClientPage, text: string): Promise<void> {
  for (const ch of text) {
    const k = usKey(ch);
    await client.page.keyboard.press(k.shift ? `Shift+${k.code}` : k.code);
  }
}

async function typeGtk(gtk: SpiceGtkClient, text: string): Promise<void> {
  for (const ch of text) {
    const k = usKey(ch);
    if (k.shift) await gtk.key(LEFT_SHIFT, true);
    await gtk.key(k.scancode, true);
    await gtk.key(k.scancode, false);
    if (k.shift) await gtk.key(LEFT_SHIFT, false);
  }
}

test.beforeAll(async ({ guest: booted }) => {
  if (!LINUX) throw new Error('expected the Linux guest in .cache/guests/linux (npm run guest:linux), found none');
  guest = booted;
});

test('a command typed in spice-html5 runs in the guest shell', async ({ browser }) => {
  const client = await openHtml5(browser, session.stack());
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: t(20_000) });
  await canvas.click({ position: { x: 5, y: 5 } });
  await typeHtml5(client, 'echo html5-$((6*7)) > /dev/ttyS0\n');
  await expect.poll(() => serial(session.host().page), { timeout: t(20_000) }).toContain('html5-42');
  await client.page.context().close();
});

test('a command typed in spice-gtk runs; its picture equals the guest framebuffer', async () => {
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    await typeGtk(gtk, 'echo gtk-$((6*7)) > /dev/ttyS0\n');
    await expect.poll(() => serial(session.host().page), { timeout: t(20_000) }).toContain('gtk-42');
    const want = await settledGuestPicture(session.host());
    expect([want.width, want.height]).toEqual([1024, 768]);
    await expect
      .poll(async () => comparePixels((await gtk.screenshot()).rgb, (await guestPicture(session.host()))!.rgb, 1024).diff, {
        timeout: t(10_000),
      })
      .toBe(0);
  } finally {
    await gtk.close();
  }
});

/** Hex of one EV_ABS event as `od -An -tx2 -w16` prints an i386 input_event: type, code, value (low word first). */
function absEvent(axis: 0 | 1, value: number): string {
  const hex = (n: number): string => n.toString(16).padStart(4, '0');
  return `0003 ${hex(axis)} ${hex(value & 0xffff)} ${hex(value >>> 16)}`;
}

test('the guest turns on its absolute pointer: client mouse mode is offered and positions arrive', async ({ browser }) => {
  const page = session.host().page;
  await expect.poll(() => page.evaluate(async () => (await window.spiceHost!.vm!.stats()).absoluteMouse), { timeout: t(30_000) }).toBe(true);
  expect(await page.evaluate(() => window.spiceHost!.server.mouseMode)).toBe(2);
  // On the serial shell: dump the events of the input device that has absolute axes (the VMware pointer).
  await page.evaluate(() =>
    window.spiceHost!.vm!.remote.serialSend(
      'for e in /sys/class/input/event*; do [ "$(cat $e/device/capabilities/abs)" != 0 ] && od -An -v -tx2 -w16 /dev/input/${e##*/} > /dev/ttyS0 & done; ' +
        'until pidof od > /dev/null; do sleep 1; done; echo od-$((40+2))-runs > /dev/ttyS0\n',
    ),
  );
  // Positions sent before od runs would be lost; the computed marker appears only once it does (the echoed command lacks it).
  await expect.poll(() => serial(page), { timeout: t(10_000) }).toContain('od-42-runs');
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    expect(await gtk.mouseMode()).toBe(2);
    // The guest's axes run 0..65535 over the screen.
    await gtk.position(100, 600);
    await expect.poll(() => serial(page), { timeout: t(10_000) }).toContain(absEvent(0, Math.round((100 / 1024) * 65535)));
    // od writes each 16-byte event as it comes, so the Y event may land a moment later.
    await expect.poll(() => serial(page), { timeout: t(10_000) }).toContain(absEvent(1, Math.round((600 / 768) * 65535)));
  } finally {
    await gtk.close();
  }
  const client = await openHtml5(browser, session.stack());
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: t(20_000) });
  await canvas.hover({ position: { x: 256, y: 192 } });
  await expect.poll(() => serial(page), { timeout: t(10_000) }).toContain(absEvent(0, Math.round((256 / 1024) * 65535)));
  await expect.poll(() => serial(page), { timeout: t(10_000) }).toContain(absEvent(1, Math.round((192 / 768) * 65535)));
  await client.page.context().close();
});
