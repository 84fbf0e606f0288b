/**
 * remote-viewer's own clipboard integration (spice-gtk's GTK session) under
 * Xvfb, driven with xclip as a desktop user would copy and paste: text the
 * page offers can be pasted from the X clipboard, and text copied on the X
 * desktop reaches the page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect, test } from '@playwright/test';
import type { AgentEvent } from '../src/server/agent-sink.ts';
import { expectViewerShows, run, startXvfb, type Xvfb } from './harness.ts';
import { expectedFrame, pauseAndSettle, resume, useHostedSession } from './pages.ts';

const session = useHostedSession();
let xvfb: Xvfb;
let viewer: ChildProcess | undefined;
const copiers: ChildProcess[] = [];

test.beforeAll(async () => {
  xvfb = await startXvfb();
});
test.afterAll(async () => {
  for (const p of copiers) p.kill('SIGTERM');
  viewer?.kill('SIGTERM');
  await xvfb?.stop();
});

/** The X CLIPBOARD selection as a paste would get it ('' while nobody owns it). */
async function xPaste(): Promise<string> {
  const r = await run('xclip', ['-o', '-selection', 'clipboard'], 5000, { DISPLAY: xvfb.display });
  return r.code === 0 ? r.stdout : '';
}

/** Copies `text` on the X desktop: xclip owns CLIPBOARD (and serves it) until someone else takes it. */
function xCopy(text: string): void {
  const p = spawn('xclip', ['-i', '-selection', 'clipboard'], { env: { ...process.env, DISPLAY: xvfb.display }, stdio: ['pipe', 'ignore', 'ignore'] });
  p.stdin!.end(text);
  copiers.push(p);
}

function agentEvents(): Promise<AgentEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.agentEvents.events);
}

test('remote-viewer: the page offers text, xclip pastes it; xclip copies, the page gets it', async () => {
  const frame = await pauseAndSettle(session.host());
  viewer = spawn('remote-viewer', [`spice://127.0.0.1:${session.stack().tcpPort}`], {
    env: { ...process.env, DISPLAY: xvfb.display },
    stdio: 'ignore',
  });
  await expectViewerShows(xvfb, expectedFrame(frame));
  await resume(session.host());
  await expect.poll(() => session.host().page.evaluate(() => window.spiceHost!.server.agent!.clientCount)).toBe(1);

  const offered = 'offered by the page → remote-viewer ✓';
  await session.host().page.evaluate((t) => window.spiceHost!.offerClipboard(t), offered);
  await expect.poll(xPaste, { timeout: 15_000 }).toBe(offered);

  const copied = 'copied on the X desktop: Grüße ✓';
  xCopy(copied);
  await expect
    .poll(async () => (await agentEvents()).filter((e) => e.kind === 'clipboardText').at(-1), { timeout: 15_000 })
    .toMatchObject({ kind: 'clipboardText', text: copied });
});
