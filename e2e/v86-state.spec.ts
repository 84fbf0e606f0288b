/**
 * The page's VM controls. Saving the VM state, reloading, and restoring it: the
 * guest continues where it was, as a real client shows. Ctrl+Alt+Del and Reset
 * reboot it.
 */
import { expect, test } from '@playwright/test';
import { spicyScreenshot } from './harness.ts';
import { openHtml5, reloadHost, typeInHtml5, useHostedSession, vgaText } from './pages.ts';
import { compareTextScreen, textOf } from './vga-text.ts';

const session = useHostedSession('&guest=text');

async function typedLine(): Promise<string> {
  const dump = await vgaText(session.host());
  return dump ? (textOf(dump).find((l) => l.includes('Type here>')) ?? '') : '';
}

test('save state, reload the page, restore: the VM continues where it was', async ({ browser }) => {
  const page = session.host().page;
  await expect.poll(typedLine, { timeout: 30_000 }).toContain('Type here>');
  let client = await openHtml5(browser, session.stack());
  await typeInHtml5(client, 'kept');
  await expect.poll(typedLine).toContain('Type here> kept');
  await page.click('#save-state');
  await expect(page.locator('#state-info')).toContainText('saved', { timeout: 20_000 });
  await typeInHtml5(client, ' lost');
  await expect.poll(typedLine).toContain('kept lost');
  await client.page.context().close();

  await reloadHost(session.host());
  await expect.poll(typedLine, { timeout: 30_000 }).toMatch(/Type here>\s*$/);
  await expect(page.locator('#restore-state')).toBeEnabled({ timeout: 10_000 });
  await page.click('#restore-state');
  await expect.poll(typedLine, { timeout: 20_000 }).toMatch(/Type here> kept\s*$/);

  // The restored VM runs on: typing continues the same line, and a client sees it cell for cell.
  client = await openHtml5(browser, session.stack());
  await typeInHtml5(client, ' More');
  await expect.poll(typedLine).toMatch(/Type here> kept More\s*$/);
  await client.page.context().close();
  const dump = (await vgaText(session.host()))!;
  const shot = await spicyScreenshot(session.stack().tcpPort);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  const bad = compareTextScreen(shot.image!, dump, (r, c) => r === dump.cursor.row && c === dump.cursor.col);
  expect(bad, JSON.stringify(bad.slice(0, 8)) + `\n${textOf(dump).join("\n")}`).toEqual([]);
});

test('Ctrl+Alt+Del and Reset on the page reboot the VM', async ({ browser }) => {
  const page = session.host().page;
  const client = await openHtml5(browser, session.stack());
  await typeInHtml5(client, ' typed');
  await expect.poll(typedLine).toMatch(/typed\s*$/);
  // The text guest reads keys through SeaBIOS, whose keyboard handler reboots on Ctrl+Alt+Del.
  await page.click('#vm-ctrl-alt-del');
  await expect.poll(typedLine, { timeout: 30_000 }).toMatch(/Type here>\s*$/);
  await typeInHtml5(client, 'again');
  await expect.poll(typedLine).toMatch(/Type here> again\s*$/);
  await page.click('#vm-reset');
  await expect.poll(typedLine, { timeout: 30_000 }).toMatch(/Type here>\s*$/);
  await client.page.context().close();
});
