/**
 * The cursor channel with both real clients: the test pattern's hardware-like
 * cursor is SET with its shape, MOVEd by relative motion in server mouse mode,
 * and HIDden and shown again with the right button.
 */
import { expect, test } from '@playwright/test';
import { openHtml5, useHostedSession } from './pages.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession();

test('SET, MOVE and HIDE reach spice-gtk and spice-html5', async ({ browser }) => {
  const html5 = await openHtml5(browser, session.stack());
  const screenCursor = (): Promise<string> =>
    html5.page.evaluate(() => document.getElementById('spice-screen')?.style.cursor ?? '');
  await expect.poll(screenCursor, { timeout: 20_000 }).toMatch(/^url\("?data:image\/png/);

  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  try {
    await expect.poll(async () => (await gtk.cursor()).sets, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await gtk.cursor()).toMatchObject({ visible: true, width: 32, height: 32 });

    // Server mouse mode: relative motion moves the source's cursor, announced with MOVE.
    await gtk.requestMouseMode(1);
    const start = await session.host().page.evaluate(() => window.spiceHost!.pattern!.cursor);
    for (let i = 0; i < 3; i++) await gtk.motion(10, 5);
    const want = { x: start.x + 30, y: start.y + 15 };
    await expect.poll(() => session.host().page.evaluate(() => window.spiceHost!.pattern!.cursor), { timeout: 10_000 }).toMatchObject(want);
    await expect.poll(async () => {
      const c = await gtk.cursor();
      return { x: c.x, y: c.y };
    }, { timeout: 10_000 }).toEqual(want);
    expect((await gtk.cursor()).moves).toBeGreaterThan(0);

    // Right button: HIDE, then SET again with the shape.
    const sets = (await gtk.cursor()).sets;
    await gtk.button(3, true);
    await gtk.button(3, false);
    await expect.poll(async () => (await gtk.cursor()).visible, { timeout: 10_000 }).toBe(false);
    expect((await gtk.cursor()).hides).toBeGreaterThan(0);
    await expect.poll(screenCursor, { timeout: 10_000 }).toBe('none');
    await gtk.button(3, true);
    await gtk.button(3, false);
    await expect.poll(async () => (await gtk.cursor()).visible, { timeout: 10_000 }).toBe(true);
    expect((await gtk.cursor()).sets).toBe(sets + 1);
    await expect.poll(screenCursor, { timeout: 10_000 }).toMatch(/^url\("?data:image\/png/);
    await gtk.requestMouseMode(2);
  } finally {
    await gtk.close();
    await html5.page.context().close();
  }
});
