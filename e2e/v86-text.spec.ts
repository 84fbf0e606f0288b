/**
 * v86 in text mode (SeaBIOS with no boot disk): what spicy-screenshot and
 * spice-html5 show matches the guest's VGA text screen, character for
 * character, in the guest's own font and colours.
 */
import { expect, test } from '@playwright/test';
import type { VgaTextDump } from '../src/sources/v86/v86-api.ts';
import { spicyScreenshot } from './harness.ts';
import { openHtml5, readHtml5Canvas, useHostedSession, vgaText as readVgaText } from './pages.ts';
import { compareTextScreen, textOf } from './vga-text.ts';

const session = useHostedSession('&vm=bios');

async function vgaText(): Promise<VgaTextDump> {
  const dump = await readVgaText(session.host());
  if (!dump) throw new Error('the VM is not in text mode');
  return dump;
}

test.beforeAll(async () => {
  // SeaBIOS tries every device, then waits 60 s: the screen is still while we look.
  await expect
    .poll(async () => textOf(await vgaText()).join('\n'), { timeout: 60_000 })
    .toContain('No bootable device');
});

test('spicy-screenshot shows the SeaBIOS text screen cell for cell', async () => {
  const dump = await vgaText();
  expect(textOf(dump)[0]).toMatch(/^SeaBIOS \(version/);
  const shot = await spicyScreenshot(session.stack().tcpPort);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  // The hardware cursor blinks; its cell is the only one allowed to differ.
  const bad = compareTextScreen(shot.image!, dump, (r, c) => r === dump.cursor.row && c === dump.cursor.col);
  expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
});

test('spice-html5 shows the SeaBIOS text screen cell for cell', async ({ browser }) => {
  const client = await openHtml5(browser, session.stack());
  const dump = await vgaText();
  let bad: unknown[] = [];
  await expect
    .poll(
      async () => {
        const c = await readHtml5Canvas(client);
        if (!c) return -1;
        bad = compareTextScreen(c, dump, (r, col) => r === dump.cursor.row && col === dump.cursor.col);
        return bad.length;
      },
      { timeout: 20_000 },
    )
    .toBe(0);
  await client.page.context().close();
});
