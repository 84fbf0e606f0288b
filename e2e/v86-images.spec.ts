/** Images a user brings on the page: by file picker (kept in IndexedDB across reloads) and by URL. */
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { reloadHost, useHostedSession, vgaText } from './pages.ts';
import { textOf } from './vga-text.ts';

const session = useHostedSession();

async function screen(): Promise<string> {
  const dump = await vgaText(session.host());
  return dump ? textOf(dump).join('\n') : '';
}

async function waitServing(): Promise<void> {
  await session.host().page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, {
    timeout: 30_000,
  });
}

test('a file picked on the page boots, and is still there after a reload', async () => {
  const page = session.host().page;
  await page.locator('#image-file').setInputFiles(join(import.meta.dirname, '..', 'guests', 'text.img'));
  await page.waitForURL(/image=/, { timeout: 20_000 });
  await waitServing();
  expect(await page.evaluate(() => window.spiceSource?.title)).toBe('text.img');
  await expect.poll(screen, { timeout: 30_000 }).toContain('SPICE-WEB TEXT GUEST');
  await reloadHost(session.host());
  await expect.poll(screen, { timeout: 30_000 }).toContain('SPICE-WEB TEXT GUEST');
  await expect(page.locator('#source-select option', { hasText: 'text.img (fda' })).toHaveCount(1);
});

test('an image URL given on the page boots', async () => {
  const page = session.host().page;
  await page.locator('details summary').click();
  await page.fill('#image-url', '/guests/text.img');
  await page.click('#image-url-form button');
  await page.waitForURL(/fda=/, { timeout: 20_000 });
  await waitServing();
  await expect.poll(screen, { timeout: 30_000 }).toContain('Type here>');
});
