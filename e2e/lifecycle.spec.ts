/**
 * Lifetimes and hostile input through the real relay: a client that leaves
 * leaves nothing behind; malformed link messages close only their own
 * connection with a logged reason; spice-html5's input reaches the source and
 * its cursor comes from the cursor channel.
 */
import net from 'node:net';
import { expect, test } from '@playwright/test';
import { encodeLinkHeader } from '../src/protocol/link.ts';
import { comparePixels, spicyScreenshot, type Stack } from './harness.ts';
import { useHostedSession, expectedFrame, hostStats, openHtml5, pauseAndSettle, readHtml5Canvas, resume } from './pages.ts';

const session = useHostedSession();
const stack = (): Stack => session.stack();

/** Sends raw bytes over TCP to the relay; resolves with what came back before the server closed. */
function rawTcp(port: number, bytes: Uint8Array, endAfterMs?: number): Promise<{ reply: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(bytes);
      if (endAfterMs !== undefined) setTimeout(() => ((ended = true), sock.end()), endAfterMs);
    });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ reply: Buffer.concat(chunks), closedByServer: false });
    }, 5000);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks), closedByServer: !ended });
    });
  });
}

test('a spice-html5 client that disconnects leaves no RedClient, channel client or worker state; a new client works', async ({
  browser,
}) => {
  const client = await openHtml5(browser, stack());
  await expect.poll(async () => (await readHtml5Canvas(client)) !== null, { timeout: 20_000 }).toBe(true);
  await expect
    .poll(async () => hostStats(session.host()), { timeout: 10_000 })
    .toMatchObject({ clients: 1, inputs: 1, remote: 2, display: 1, cursor: 1, sessions: 1 });
  await client.page.context().close();
  await expect
    .poll(async () => hostStats(session.host()), { timeout: 10_000 })
    .toEqual({ clients: 0, inputs: 0, remote: 0, linking: 0, display: 0, cursor: 0, sessions: 0 });
  await expect.poll(() => stack().relay.stats().streams, { timeout: 5000 }).toBe(0);

  const frame = await pauseAndSettle(session.host());
  const shot = await spicyScreenshot(stack().tcpPort);
  expect(shot.image, shot.result.stderr).not.toBeNull();
  expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
  await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: 10_000 }).toBe(0);
  await resume(session.host());
});

test('malformed link messages close only that connection, with a logged reason', async ({ browser }) => {
  const client = await openHtml5(browser, stack());
  await expect.poll(async () => (await readHtml5Canvas(client)) !== null, { timeout: 20_000 }).toBe(true);

  // Bad magic: a 194-byte error reply with INVALID_MAGIC (2), then the close.
  const badMagic = Buffer.from(encodeLinkHeader(26));
  badMagic.write('XXXX', 0, 'latin1');
  const r1 = await rawTcp(stack().tcpPort, badMagic);
  expect(r1.closedByServer).toBe(true);
  expect(r1.reply.length).toBe(194);
  expect(r1.reply.readUInt32LE(16)).toBe(2);

  // A header claiming a huge link message: INVALID_DATA (3), nothing buffered.
  const r2 = await rawTcp(stack().tcpPort, encodeLinkHeader(0x7fffffff));
  expect(r2.closedByServer).toBe(true);
  expect(r2.reply.readUInt32LE(16)).toBe(3);

  // Truncated: half a header, then the client goes away. The relay offers a connection to
  // the page only once its link request is complete, so the page never sees this one.
  const r3 = await rawTcp(stack().tcpPort, encodeLinkHeader(26).subarray(0, 7), 1000);
  expect(r3.closedByServer).toBe(false);
  expect(r3.reply.length).toBe(0);

  // Garbage with no link at all (the relay closes it: more than a link's worth before authenticating).
  const r4 = await rawTcp(stack().tcpPort, new Uint8Array(100_000).fill(0x41));
  expect(r4.closedByServer).toBe(true);

  await expect.poll(() => session.host().logs.join('\n'), { timeout: 5000 }).toMatch(/link failed .*bad link magic: expected 0x51444552/);
  expect(session.host().logs.join('\n')).toMatch(/link failed .*link message size 2147483647 outside 18\.\.4096/);
  expect(session.host().logs.join('\n')).not.toMatch(/link failed .*closed/);
  await expect.poll(async () => (await hostStats(session.host())).linking, { timeout: 5000 }).toBe(0);


  // The spice-html5 client is still served: it keeps getting updates and ends exact.
  const frame = await pauseAndSettle(session.host());
  await expect
    .poll(async () => {
      const c = await readHtml5Canvas(client);
      return c ? comparePixels(c.rgb, expectedFrame(frame), c.width).diff : -1;
    })
    .toBe(0);
  expect(await hostStats(session.host())).toMatchObject({ clients: 1, display: 1 });
  await client.page.context().close();
  await resume(session.host());
});

test('spice-html5 input reaches the source; its cursor comes from the cursor channel', async ({ browser }) => {
  const client = await openHtml5(browser, stack());
  const canvas = client.page.locator('#spice_surface_0');
  await expect(canvas).toBeVisible({ timeout: 20_000 });
  // The cursor channel's ALPHA cursor becomes a CSS cursor image on the canvas.
  await expect
    .poll(() => canvas.evaluate((c) => getComputedStyle(c).cursor), { timeout: 10_000 })
    .toMatch(/url\("?data:image\/png/);

  await session.host().page.evaluate(() => window.spiceHost!.inputs.events.splice(0));
  await canvas.click({ position: { x: 100, y: 50 } });
  await client.page.keyboard.press('a');
  await client.page.keyboard.press('ArrowLeft');
  const box = (await canvas.boundingBox())!;
  for (let i = 0; i < 12; i++) await client.page.mouse.move(box.x + 200 + i * 5, box.y + 300 + i * 3);
  await expect
    .poll(async () => session.host().page.evaluate(() => JSON.stringify(window.spiceHost!.inputs.events)), { timeout: 10_000 })
    .toContain('"kind":"release"');
  const events = await session.host().page.evaluate(() => window.spiceHost!.inputs.events);
  expect(events).toContainEqual({ kind: 'press', button: 1, buttons: 1 });
  expect(events).toContainEqual({ kind: 'release', button: 1, buttons: 0 });
  expect(events).toContainEqual({ kind: 'keyDown', scancode: [0x1e] });
  expect(events).toContainEqual({ kind: 'keyUp', scancode: [0x9e] });
  expect(events).toContainEqual({ kind: 'keyDown', scancode: [0xe0, 0x4b] });
  expect(events).toContainEqual({ kind: 'keyUp', scancode: [0xe0, 0xcb] });
  expect(events).toContainEqual({ kind: 'position', x: 100, y: 50, buttons: 0, displayId: 0 });
  // More than 8 moves arrive only if MOUSE_MOTION_ACK flows (spice-html5 stops at 8 unacknowledged).
  await expect
    .poll(async () => session.host().page.evaluate(() => window.spiceHost!.inputs.events.filter((e) => e.kind === 'position').length))
    .toBeGreaterThan(8);
  // The last move may still be on its way when the ninth has arrived: wait for it.
  await expect
    .poll(async () => session.host().page.evaluate(() => window.spiceHost!.inputs.events.filter((e) => e.kind === 'position').at(-1)))
    .toEqual({ kind: 'position', x: 255, y: 333, buttons: 0, displayId: 0 });
  await client.page.context().close();
});
