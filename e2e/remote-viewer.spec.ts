/** A real remote-viewer window under Xvfb shows the served picture pixel for pixel. */
import { spawn } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { crop, diffBox, locate, startXvfb, type Xvfb } from './harness.ts';
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
    let where: { x: number; y: number } | null = null;
    await expect
      .poll(
        async () => {
          where = locate(await xvfb.grab(), expected, 1024);
          return where !== null;
        },
        { timeout: 30_000, message: 'the first row of the frame never appeared on the X screen' },
      )
      .toBe(true);
    // The X server draws its pointer (the SPICE cursor in client mouse mode) into the
    // framebuffer: every pixel must match except within one cursor-sized box.
    let box: ReturnType<typeof diffBox> = null;
    await expect
      .poll(
        async () => {
          const shot = crop(await xvfb.grab(), where!.x, where!.y, 1024, 768);
          box = diffBox(shot, expected, 1024);
          return box === null || (box.right - box.left <= 32 && box.bottom - box.top <= 32);
        },
        { timeout: 15_000, message: 'remote-viewer picture differs from the frame' },
      )
      .toBe(true);
    expect(await hostStats(session.host())).toMatchObject({ clients: 1, display: 1, inputs: 1, cursor: 1 });
  } finally {
    viewer.kill('SIGTERM');
  }
  await expect.poll(async () => (await hostStats(session.host())).clients, { timeout: 10_000 }).toBe(0);
});
