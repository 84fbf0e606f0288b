/**
 * One session, a class of viewers: 200 display clients of our own that read
 * and acknowledge like spice-gtk, beside a live spice-gtk client, spice-html5
 * and spicy-screenshot. Every viewer stays current (it got every message the
 * server sent it, nothing held back), the real clients show the frame pixel
 * for pixel, and the page still talks to the relay over one socket per
 * thread, not one per client connection (Chromium stops near 255).
 */
import { expect, test } from '@playwright/test';
import { comparePixels, spicyScreenshot } from './harness.ts';
import { expectCanvasEquals, expectedFrame, hostStats, openHtml5, pauseAndSettle, readHtml5Canvas, resume, waitFrames } from './pages.ts';
import { useHostedSession } from './pages.ts';
import { slowdownOnce } from './machine-speed.ts';
import { startRawViewer, type RawViewer } from './raw-viewer.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

const VIEWERS = Number(process.env.E2E_VIEWERS ?? 200);
/** Viewers linking at once (each from its own loopback address, as a class would). */
const BATCH = 20;
/** Page threads with client streams: the main thread (main, inputs) and the RedWorker (display, cursor); a third for any other worker. */
const MAX_PAGE_THREADS = 3;

const session = useHostedSession();

test('200 viewers, spice-gtk and spice-html5 on one session: all current, exact, one page socket per thread', async ({ browser }) => {
  test.setTimeout(240_000 * slowdownOnce());
  const stack = session.stack();
  const host = session.host();
  const gtk = await startSpiceGtkClient({ port: stack.tcpPort, commandTimeoutMs: 60_000 });
  const html5 = await openHtml5(browser, stack);
  const viewers: RawViewer[] = [];
  try {
    await gtk.waitDisplay();
    await expect.poll(async () => (await readHtml5Canvas(html5)) !== null, { timeout: 30_000 }).toBe(true);

    for (let at = 0; at < VIEWERS; at += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, VIEWERS - at) }, (_, k) => startRawViewer(stack.tcpPort, `127.0.1.${at + k + 1}`));
      viewers.push(...(await Promise.all(batch)));
    }
    await expect.poll(async () => (await hostStats(host)).display, { timeout: 60_000 }).toBe(VIEWERS + 2);

    // The page's sockets to the relay: its control socket plus one per thread, whatever the client count.
    const relayStats = stack.relay.stats();
    expect(relayStats.streams).toBeGreaterThanOrEqual(2 * VIEWERS + 8);
    expect(relayStats.muxSockets).toBeGreaterThanOrEqual(2);
    expect(relayStats.muxSockets).toBeLessThanOrEqual(MAX_PAGE_THREADS);

    // Updates flow to everyone while the pattern animates…
    const updatesBefore = viewers.map((v) => v.updates());
    await waitFrames(host, 30);
    const frame = await pauseAndSettle(host);
    // …and every viewer is current: it received every message the server sent it, none is held.
    await expect
      .poll(
        async () => {
          const backlog = await host.page.evaluate(async () => (await window.spiceHost!.worker.stats()).displayBacklog);
          const bySession = new Map(backlog.map((b) => [b.sessionId, b]));
          return viewers.filter((v) => {
            const b = bySession.get(v.sessionId);
            return !b || b.queued > 0 || b.buffered > 0 || b.sent !== v.messages();
          }).length;
        },
        { timeout: 60_000, message: 'viewers not current' },
      )
      .toBe(0);
    const stalled = viewers.filter((v, i) => v.updates() <= updatesBefore[i]!).length;
    expect(stalled, 'viewers that got no update while the pattern ran').toBe(0);

    // The real clients, on the same sockets, show the frame exactly.
    const expected = expectedFrame(frame);
    await expectCanvasEquals(html5, expected, `spice-html5 beside ${VIEWERS} viewers, frame ${frame}`, 30_000);
    await expect
      .poll(async () => {
        const shot = await gtk.screenshot();
        return comparePixels(shot.rgb, expected, shot.width).diff;
      }, { timeout: 30_000, message: 'live spice-gtk client differs' })
      .toBe(0);
    const { image, result } = await spicyScreenshot(stack.tcpPort);
    expect(image, `spicy-screenshot failed: ${result.code}\n${result.stderr}`).not.toBeNull();
    expect(comparePixels(image!.rgb, expected, 1024).diff).toBe(0);
    expect(stack.relay.stats().muxSockets).toBeLessThanOrEqual(MAX_PAGE_THREADS);
  } finally {
    for (const v of viewers) v.close();
    gtk.close();
    await html5.page.context().close();
  }
  // Everyone leaves: the server lets go of every client.
  await expect.poll(async () => (await hostStats(host)).clients, { timeout: 60_000 }).toBe(0);
  await resume(host);
});
