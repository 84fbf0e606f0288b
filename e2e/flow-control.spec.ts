/**
 * A client that reads slowly is held back without holding anything else back:
 * its backlog stays bounded, the source keeps its pace, and a real client
 * (spice-html5) stays current and exact.
 */
import { expect, test } from '@playwright/test';
import { MAX_BUFFERED_BYTES } from '../src/server/red-channel-client.ts';
import { comparePixels } from './harness.ts';
import { expectedFrame, openHtml5, pauseAndSettle, readHtml5Canvas, resume, useHostedSession } from './pages.ts';
import { startSlowClient } from './slow-client.ts';

const session = useHostedSession('&compression=off');

test('a slow client keeps a bounded backlog while spice-html5 stays smooth and exact', async ({ browser }) => {
  const host = session.host();
  const slow = await startSlowClient(session.stack().tcpPort, 64 * 1024);
  const html5 = await openHtml5(browser, session.stack());
  await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 20_000 }).toBe(true);
  // Uncompressed 30 frames/s of the pattern is megabytes per second: far more than 64 KiB/s.
  const frameBefore = await host.page.evaluate(() => window.spiceHost!.pattern!.frame);
  let worst = { queued: 0, buffered: 0 };
  // Watch the slow client's backlog while the source draws 60 more frames: a source that
  // waited for the slow reader would stall here (at 64 KiB/s a frame takes seconds to read).
  const started = Date.now();
  let frameAfter = frameBefore;
  while (frameAfter - frameBefore <= 60) {
    expect(Date.now() - started, 'the source stalled behind the slow client').toBeLessThan(60_000);
    await host.page.waitForTimeout(250);
    const backlog = await host.page.evaluate(async () => (await window.spiceHost!.worker.stats()).displayBacklog);
    for (const b of backlog) {
      worst = { queued: Math.max(worst.queued, b.queued), buffered: Math.max(worst.buffered, b.buffered) };
    }
    frameAfter = await host.page.evaluate(() => window.spiceHost!.pattern!.frame);
  }
  // The slow client really was held back (messages waited for it)…
  expect(worst.queued).toBeGreaterThan(0);
  // …and boundedly: at most the collapse threshold of held messages, and the byte limit plus one message in flight.
  expect(worst.queued).toBeLessThanOrEqual(65);
  expect(worst.buffered).toBeLessThanOrEqual(MAX_BUFFERED_BYTES + 4 * 1024 * 768 + 1024);
  // The real client kept up: after a pause it shows the current frame exactly.
  const frame = await pauseAndSettle(host);
  await expect
    .poll(async () => {
      const c = await readHtml5Canvas(html5);
      return c ? comparePixels(c.rgb, expectedFrame(frame), c.width).diff : -1;
    }, { timeout: 10_000 })
    .toBe(0);
  expect(slow.bytesRead()).toBeGreaterThan(0);
  slow.close();
  await html5.page.context().close();
  await resume(host);
});
