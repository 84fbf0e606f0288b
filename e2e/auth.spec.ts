/** Passwords with both real clients: the right one gets the picture, a wrong one a clear refusal, and the server carries on. */
import { expect, test } from '@playwright/test';
import { comparePixels, spicyScreenshot, type Stack } from './harness.ts';
import { useHostedSession, expectedFrame, hostStats, openHtml5, pauseAndSettle, readHtml5Canvas } from './pages.ts';

const PASSWORD = 'correct horse';
// As the launcher does it: the relay holds the password and checks tickets; the page never sees it.
const session = useHostedSession('', async () => ({ relayOptions: { password: PASSWORD } }));
const stack = (): Stack => session.stack();

test('spicy-screenshot: wrong password is refused, right password gets the exact picture', async () => {
  const wrong = await spicyScreenshot(stack().tcpPort, 'not it');
  expect(wrong.image).toBeNull();
  expect(wrong.result.code).not.toBe(0);
  // spice-gtk's SpiceChannelEvent 23 is SPICE_CHANNEL_ERROR_AUTH (remote-viewer shows "Authentication failed").
  expect(wrong.result.stderr).toMatch(/main channel event: 23\b/);
  const none = await spicyScreenshot(stack().tcpPort);
  expect(none.image).toBeNull();
  expect(none.result.stderr).toMatch(/main channel event: 23\b/);

  const frame = await pauseAndSettle(session.host());
  const right = await spicyScreenshot(stack().tcpPort, PASSWORD);
  expect(right.image, right.result.stderr).not.toBeNull();
  expect(comparePixels(right.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
  expect(session.host().logs.join('\n')).toMatch(/link refused .*wrong password/);
});

test('spice-html5: wrong password shows "Permission denied.", right password gets the exact picture', async ({ browser }) => {
  const wrong = await openHtml5(browser, stack(), 'not it');
  await expect(wrong.page.locator('#messages')).toContainText('Permission denied', { timeout: 15_000 });
  expect(await readHtml5Canvas(wrong)).toBeNull();
  await wrong.page.context().close();

  const frame = await pauseAndSettle(session.host());
  const right = await openHtml5(browser, stack(), PASSWORD);
  await expect
    .poll(
      async () => {
        const c = await readHtml5Canvas(right);
        return c ? comparePixels(c.rgb, expectedFrame(frame), c.width).diff : -1;
      },
      { timeout: 20_000 },
    )
    .toBe(0);
  await right.page.context().close();
  await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: 10_000 }).toBe(0);
  expect((await hostStats(session.host())).linking).toBe(0);
});
