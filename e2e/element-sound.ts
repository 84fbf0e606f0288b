/**
 * For the sound specs that drive `<spice-server>` on element.html: a stack
 * and a spice-gtk client of the test's own, closed after each test, and the
 * element page opened with its canvas session ("default", the TCP port) up.
 */
import { test, type Browser, type Page } from '@playwright/test';
import { startStack, type Stack } from './harness.ts';
import type { SpiceGtkClient } from './spice-gtk.ts';

export interface OwnSession {
  stack?: Stack;
  client?: SpiceGtkClient;
}

/** Registers the clean-up; set `stack` and `client` on the returned object as the test makes them. */
export function useOwnSession(): OwnSession {
  const own: OwnSession = {};
  test.afterEach(async () => {
    await own.client?.close();
    await own.stack?.stop();
    own.client = undefined;
    own.stack = undefined;
  });
  return own;
}

/** Starts a stack and opens element.html on it; resolves once its canvas element serves. */
export async function openElementPage(browser: Browser, own: OwnSession): Promise<{ stack: Stack; page: Page; logs: string[] }> {
  const stack = (own.stack = await startStack());
  const page = await (await browser.newContext()).newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(`${stack.baseUrl}/element.html?relay=${encodeURIComponent(stack.relayUrl)}`);
  await page.waitForFunction(() => document.querySelector<HTMLElementTagNameMap['spice-server']>('#canvas')?.sessionHost != null, null, { timeout: 60_000 });
  return { stack, page, logs };
}
