/**
 * Native clients reach any session through the relay as their HTTP proxy
 * (CONNECT SESSION:PORT): spicy-screenshot with SPICE_PROXY, and remote-viewer
 * opening the .vv file the demo page offers, both showing the exact picture.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { comparePixels, expectViewerShows, spicyScreenshot, startXvfb, type Xvfb } from './harness.ts';
import { expectedFrame, hostStats, pauseAndSettle, resume, useHostedSession } from './pages.ts';

const PASSWORD = 'through the proxy';
// A session other than "default": no TCP port of its own, reachable only through CONNECT.
const session = useHostedSession('&session=class-7', async () => ({ relayOptions: { password: PASSWORD } }));
let xvfb: Xvfb;

test.beforeAll(async () => {
  xvfb = await startXvfb();
});
test.afterAll(async () => {
  await xvfb?.stop();
});

test('spicy-screenshot with SPICE_PROXY reaches session "class-7" and gets the exact picture', async () => {
  const proxy = `http://127.0.0.1:${session.stack().relayPort}`;
  const frame = await pauseAndSettle(session.host());
  try {
    const shot = await spicyScreenshot(5900, PASSWORD, { host: 'class-7', env: { SPICE_PROXY: proxy } });
    expect(shot.image, shot.result.stderr).not.toBeNull();
    expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
    // A session nobody hosts is refused by the proxy, not routed elsewhere.
    const none = await spicyScreenshot(5900, PASSWORD, { host: 'nobody', env: { SPICE_PROXY: proxy } });
    expect(none.image).toBeNull();
  } finally {
    await resume(session.host());
  }
});

test('the demo page\'s .vv opens in remote-viewer through the proxy, the password in it only when asked', async () => {
  const page = session.host().page;
  await expect(page.locator('#native-url')).toContainText(`SPICE_PROXY=http://127.0.0.1:${session.stack().relayPort} remote-viewer spice://class-7:5900`);
  const dir = await mkdtemp(join(tmpdir(), 'vv-'));
  try {
    const download = async (): Promise<string> => {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click('#vv-link')]);
      const path = join(dir, d.suggestedFilename());
      await d.saveAs(path);
      return path;
    };
    const plain = await readFile(await download(), 'utf8');
    expect(plain).toContain('host=class-7');
    expect(plain).toContain(`proxy=http://127.0.0.1:${session.stack().relayPort}`);
    expect(plain).not.toContain('password');

    await page.check('#vv-include-password');
    await page.fill('#vv-password', PASSWORD);
    const file = await download();
    expect(await readFile(file, 'utf8')).toContain(`password=${PASSWORD}`);

    // The earlier test's client has left first, so the one counted below is remote-viewer.
    await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: 10_000 }).toBe(0);
    const frame = await pauseAndSettle(session.host());
    const viewer = spawn('remote-viewer', [file], { env: { ...process.env, DISPLAY: xvfb.display }, stdio: 'ignore' });
    try {
      await expectViewerShows(xvfb, expectedFrame(frame));
      expect(await hostStats(session.host())).toMatchObject({ clients: 1, display: 1 });
    } finally {
      viewer.kill('SIGTERM');
      await resume(session.host());
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
