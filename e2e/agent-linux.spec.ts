/**
 * The agent with the Linux guest: a file spice-gtk sends (file transfer, as a
 * drop onto its window does) appears in the guest's /mnt/host (v86's 9p
 * filesystem) and the guest's shell lists and reads it on the serial
 * console; text spice-gtk copies is typed into the guest's shell; text the
 * guest copies with its spice-clip helper (a line on its second serial
 * port) is offered to spice-gtk, which pastes it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, LINUX, test, type SharedGuest } from './linux-guest.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';

test.describe.configure({ timeout: 90_000 });
let guest: SharedGuest;
let gtk: SpiceGtkClient | undefined;
const t = (ms: number): number => ms * guest.slow;

function serial(page: Page): Promise<string> {
  return page.evaluate(() => window.spiceHost!.vm!.serial.join('\n'));
}

/** Runs a shell command on the guest's serial console. */
async function onSerial(page: Page, command: string): Promise<void> {
  await page.evaluate((c) => window.spiceHost!.vm!.remote.serialSend(`${c}\n`), command);
}

test.beforeAll(async ({ guest: booted }) => {
  if (!LINUX) throw new Error('expected the Linux guest in .cache/guests/linux (npm run guest:linux), found none');
  guest = booted;
});
test.afterEach(async () => {
  await gtk?.close();
  gtk = undefined;
});

test('a file spice-gtk sends appears in the guest: ls and cat on the serial console', async () => {
  const page = guest.host.page;
  gtk = await startSpiceGtkClient({ port: guest.stack.tcpPort });
  await gtk.waitAgent();
  const dir = await mkdtemp(join(tmpdir(), 'agent-linux-'));
  try {
    const content = `dropped into the guest ${'x'.repeat(70_000)} end-42\n`;
    await writeFile(join(dir, 'from spice.txt'), content);
    await gtk.fileCopy(join(dir, 'from spice.txt'));
    await onSerial(page, 'ls -l /mnt/host | sed "s/^/LS: /"; wc -c "/mnt/host/from spice.txt"; tail -c 7 "/mnt/host/from spice.txt" | sed "s/^/TAIL: /"');
    // The last line printed: the others are there by then.
    await expect.poll(() => serial(page), { timeout: t(20_000) }).toContain('TAIL: end-42');
    const out = await serial(page);
    expect(out).toContain(`${content.length} /mnt/host/from spice.txt`);
    expect(out).toMatch(/LS: .* from spice\.txt/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('text spice-gtk copies is typed into the guest shell', async () => {
  const page = guest.host.page;
  gtk = await startSpiceGtkClient({ port: guest.stack.tcpPort });
  await gtk.waitAgent();
  await gtk.clipboardGrab('echo "pasted-$((6*7))" > /dev/ttyS0\n');
  await expect.poll(() => serial(page), { timeout: t(20_000) }).toContain('pasted-42');
});

test("the guest's spice-clip puts text on spice-gtk's clipboard", async () => {
  const page = guest.host.page;
  gtk = await startSpiceGtkClient({ port: guest.stack.tcpPort });
  await gtk.waitAgent();
  // Octal escapes: the serial console carries bytes, and the guest's printf makes the UTF-8.
  await onSerial(page, 'printf "guest copy: caf\\303\\251 \\342\\234\\223" | spice-clip');
  // The page may still offer an earlier copy when this client joins: paste until the guest's arrives.
  await expect.poll(async () => (await gtk!.clipboardRequest()).text, { timeout: t(20_000) }).toBe('guest copy: café ✓');
  expect(await guest.host.page.evaluate(() => window.spiceHost!.server.agent!.clipboardOwner)).toBe(0); // the page's (the guest's) copy
});
