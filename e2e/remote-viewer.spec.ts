/** A real remote-viewer window under Xvfb shows the served picture pixel for pixel. */
import { spawn } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { expectViewerShows, startXvfb, type Xvfb } from './harness.ts';
import { expectedFrame, hostStats, pauseAndSettle, useHostedSession } from './pages.ts';

const session = useHostedSession();
let xvfb: Xvfb;

test.beforeAll(async () => {
  xvfb = await startXvfb();
});
test.afterAll(async () => {
  await xvfb?.stop();
});

test('remote-viewer (virt-viewer) window shows the test pattern exactly; only the X pointer covers it', async () => {
  const frame = await pauseAndSettle(session.host());
  const expected = expectedFrame(frame);
  const viewer = spawn('remote-viewer', [`spice://127.0.0.1:${session.stack().tcpPort}`], {
    env: { ...process.env, DISPLAY: xvfb.display },
    stdio: 'ignore',
  });
  try {
    await expectViewerShows(xvfb, expected);
    expect(await hostStats(session.host())).toMatchObject({ clients: 1, display: 1, inputs: 1, cursor: 1 });
  } finally {
    viewer.kill('SIGTERM');
  }
  await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: 10_000 }).toBe(0);
});
