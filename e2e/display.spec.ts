/**
 * The walking skeleton end to end: the page hosts a session through the relay,
 * real clients (spicy-screenshot over TCP, spice-html5 over WebSocket) show
 * the test pattern pixel for pixel.
 */
import { expect, test } from '@playwright/test';
import { comparePixels, spicyScreenshot, type Stack } from './harness.ts';
import { useHostedSession, expectCanvasEquals, expectedFrame, hostStats, openHtml5, pauseAndSettle, readHtml5Canvas, resume, waitFrames } from './pages.ts';

const session = useHostedSession();
const stack = (): Stack => session.stack();

test('spicy-screenshot (spice-gtk over TCP) shows the test pattern frame pixel for pixel', async () => {
  const frame = await pauseAndSettle(session.host());
  const { image, result } = await spicyScreenshot(stack().tcpPort);
  expect(image, `spicy-screenshot failed: ${result.code} ${result.signal}\n${result.stderr}`).not.toBeNull();
  expect([image!.width, image!.height]).toEqual([1024, 768]);
  const cmp = comparePixels(image!.rgb, expectedFrame(frame), 1024);
  expect(cmp.diff, cmp.first).toBe(0);
  await resume(session.host());
});

test('spice-html5 shows the test pattern, first frame and later updates, pixel for pixel', async ({ browser }) => {
  const client = await openHtml5(browser, stack());
  // The first picture: wait for the canvas, let the animation run so updates flow.
  await expect.poll(async () => (await readHtml5Canvas(client)) !== null, { timeout: 20_000 }).toBe(true);
  await waitFrames(session.host(), 30);
  const frame = await pauseAndSettle(session.host());
  expect(frame).toBeGreaterThan(0);
  await expectCanvasEquals(client, expectedFrame(frame), `frame ${frame}`);
  expect(client.logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  // The main channel's NOTIFY greeting is printed by spice-html5.
  await expect(client.page.locator('#messages')).toContainText('Connected to spice-web-server');
  const s = await hostStats(session.host());
  expect(s).toMatchObject({ clients: 1, inputs: 1, display: 1, cursor: 1 });
  await client.page.context().close();
  await resume(session.host());
});

test('two clients at once each get the picture', async ({ browser }) => {
  const client = await openHtml5(browser, stack());
  await expect.poll(async () => (await readHtml5Canvas(client)) !== null, { timeout: 20_000 }).toBe(true);
  const frame = await pauseAndSettle(session.host());
  const { image } = await spicyScreenshot(stack().tcpPort);
  expect(comparePixels(image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
  await expect
    .poll(async () => {
      const c = await readHtml5Canvas(client);
      return c ? comparePixels(c.rgb, expectedFrame(frame), c.width).diff : -1;
    })
    .toBe(0);
  await client.page.context().close();
  await resume(session.host());
});
