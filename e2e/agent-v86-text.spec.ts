/**
 * A paste into a v86 guest that has only a keyboard: text spice-gtk copies
 * (through the page's agent) is typed into the text-mode guest — US layout,
 * Shift for shifted characters — and the guest echoes it on its screen.
 * The guest cannot change size, so a resize request is refused and the
 * picture stays as it is.
 */
import { expect, test } from '@playwright/test';
import { useHostedSession, vgaText } from './pages.ts';
import { startSpiceGtkClient, type SpiceGtkClient } from './spice-gtk.ts';
import { textOf } from './vga-text.ts';

const session = useHostedSession('&fda=/guests/text.img');

let client: SpiceGtkClient | undefined;
test.afterEach(async () => {
  await client?.close();
  client = undefined;
});

async function screen(): Promise<string> {
  const dump = await vgaText(session.host());
  return dump ? textOf(dump).join('\n') : '';
}

test('text copied in spice-gtk is typed into the text guest', async () => {
  await expect.poll(screen, { timeout: 30_000 }).toContain('Type here>');
  client = await startSpiceGtkClient({ port: session.stack().tcpPort });
  await client.waitAgent();
  const text = 'Pasted: Hi! a_b ~42? {x} "q" <y>';
  await client.clipboardGrab(text);
  await expect.poll(screen, { timeout: 20_000 }).toContain(`Type here> ${text}`);
  expect(await session.host().page.evaluate(() => window.spiceHost!.vm!.typer.typed)).toBe(text.length);

  // No way to resize this guest: the request is answered "no", the screen keeps its size.
  const before = await client.waitDisplay();
  expect(await client.monitorConfig(800, 600)).toBe(true);
  await expect
    .poll(async () => (await session.host().page.evaluate(() => window.spiceHost!.agentEvents.events)).filter((e) => e.kind === 'resize').at(-1))
    .toMatchObject({ width: 800, height: 600, accepted: false });
  expect(await client.waitDisplay()).toEqual(before);
});
