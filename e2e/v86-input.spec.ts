/**
 * Keyboard input from the real clients reaches the v86 guest: the text-mode
 * guest echoes what spice-html5 types, Shift included.
 */
import { expect, test } from '@playwright/test';
import { openHtml5, useHostedSession, vgaText } from './pages.ts';
import { textOf } from './vga-text.ts';

const session = useHostedSession('&fda=/guests/text.img');

async function screen(): Promise<string> {
  const dump = await vgaText(session.host());
  return dump ? textOf(dump).join('\n') : '';
}

test('spice-html5 typing reaches the text guest', async ({ browser }) => {
  await expect.poll(screen, { timeout: 30_000 }).toContain('Type here>');
  const client = await openHtml5(browser, session.stack());
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: 20_000 });
  await canvas.click();
  // Playwright's type() sends no Shift key events, so press Shift explicitly as a user would.
  await client.page.keyboard.type('hello v86 ');
  await client.page.keyboard.press('Shift+KeyA');
  await client.page.keyboard.press('Shift+Digit1');
  await expect.poll(screen, { timeout: 10_000 }).toContain('Type here> hello v86 A!');
  await client.page.context().close();
});

test('lock keys stay in step both ways: guest LEDs reach spice-gtk, spice-gtk locks reach the guest', async () => {
  const { startSpiceGtkClient } = await import('./spice-gtk.ts');
  const client = await startSpiceGtkClient({ port: session.stack().tcpPort });
  const leds = (): Promise<number> => session.host().page.evaluate(async () => (await window.spiceHost!.vm!.stats()).leds);
  try {
    // SeaBIOS updates the LEDs on the guest's next keyboard call, so a letter follows each change.
    expect(await leds()).toBe(0);
    await client.keyPressRelease(0x3a); // Caps Lock
    await client.keyPressRelease(0x2d); // x, now X
    await expect.poll(leds, { timeout: 10_000 }).toBe(4);
    await expect.poll(() => client.getLocks(), { timeout: 10_000 }).toBe(4);
    await expect.poll(screen).toMatch(/Type here> .*X/);
    // The client says Num Lock is on and Caps off: the server presses the keys that differ.
    await client.keyLocks(2);
    await client.keyPressRelease(0x15); // y, lower case again
    await expect.poll(leds, { timeout: 10_000 }).toBe(2);
    await expect.poll(() => client.getLocks(), { timeout: 10_000 }).toBe(2);
    await expect.poll(screen).toMatch(/Type here> .*Xy/);
  } finally {
    await client.close();
  }
});
