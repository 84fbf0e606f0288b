/**
 * TLS end to end on loopback, with a throw-away CA made by openssl: the page
 * over https, the relay over wss, and the SPICE TLS port. Real clients with
 * real certificate verification: spicy-screenshot and remote-viewer (spice-gtk,
 * OpenSSL) and spice-html5 in a Chromium that trusts only this server's key.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { expect, test, type Browser } from '@playwright/test';
import { makeTestCa, type TestCa } from '../test/helpers/test-ca.ts';
import { comparePixels, expectViewerShows, spicyScreenshot, startStack, startXvfb, type Stack } from './harness.ts';
import { expectCanvasEquals, expectedFrame, hostStats, openHost, openHtml5, pauseAndSettle, readHtml5Canvas, resume, type HostPage } from './pages.ts';
import { emptyHome, launchTrustingChromium, spiceGtkEnv } from './tls.ts';

let ca: TestCa;
let stack: Stack;
let browser: Browser;
let host: HostPage;
let home: string;

test.beforeAll(async () => {
  ca = await makeTestCa(['127.0.0.1']);
  home = await emptyHome();
  stack = await startStack({ tls: { cert: ca.cert, key: ca.key } });
  browser = await launchTrustingChromium(ca.cert);
  host = await openHost(browser, stack);
});

test.afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await ca?.remove();
  if (home) await rm(home, { recursive: true, force: true });
});

function tlsPort(): number {
  if (stack.tlsPort === null) throw new Error('expected the stack to have a TLS port, got none');
  return stack.tlsPort;
}

test('the page is https, hosts over wss:// and its connect panel gives the TLS address', async () => {
  expect(stack.baseUrl).toMatch(/^https:\/\//);
  expect(stack.relayUrl).toMatch(/^wss:\/\//);
  expect(await host.page.evaluate(() => [window.isSecureContext, window.crossOriginIsolated])).toEqual([true, true]);
  await expect(host.page.locator('#native-url')).toHaveText(`spice://127.0.0.1?tls-port=${tlsPort()}`);
  await expect(host.page.locator('#native-hint')).toContainText('--spice-ca-file=');
  await expect(host.page.locator('#ws-url')).toHaveText(`${stack.relayUrl}/spice/default`);
});

test('a Chromium without the narrow trust flag refuses the page (the test trusts one key, not all errors)', async ({ browser: plain }) => {
  const page = await plain.newPage();
  try {
    await expect(page.goto(stack.baseUrl)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await page.close();
  }
});

test('spicy-screenshot over the TLS port, trusting the test CA, shows the frame pixel for pixel', async () => {
  const frame = await pauseAndSettle(host);
  const { image, result } = await spicyScreenshot(tlsPort(), undefined, { tls: true, env: spiceGtkEnv(home, ca.caFile) });
  expect(image, `spicy-screenshot failed: ${result.code} ${result.signal}\n${result.stderr}`).not.toBeNull();
  expect([image!.width, image!.height]).toEqual([1024, 768]);
  const cmp = comparePixels(image!.rgb, expectedFrame(frame), 1024);
  expect(cmp.diff, cmp.first).toBe(0);
  await resume(host);
});

test('spice-gtk refuses the server without the CA, and under a name the certificate does not carry', async () => {
  const untrusted = await spicyScreenshot(tlsPort(), undefined, { tls: true, env: spiceGtkEnv(home, null) });
  expect(untrusted.image).toBeNull();
  expect(untrusted.result.stderr).toMatch(/certificate verification/i);
  // The certificate names 127.0.0.1 only; "localhost" reaches the same socket but fails the host name check.
  const wrongName = await spicyScreenshot(tlsPort(), undefined, { tls: true, host: 'localhost', env: spiceGtkEnv(home, ca.caFile) });
  expect(wrongName.image).toBeNull();
  expect(wrongName.result.stderr).toMatch(/hostname 'localhost' verification failed/);
  // Neither got as far as the page.
  await expect.poll(async () => (await hostStats(host)).clients, { timeout: 10_000 }).toBe(0);
});

test('remote-viewer "spice://127.0.0.1?tls-port=N" --spice-ca-file shows the frame under Xvfb', async () => {
  const xvfb = await startXvfb();
  const frame = await pauseAndSettle(host);
  const expected = expectedFrame(frame);
  const viewer = spawn(
    'remote-viewer',
    [`spice://127.0.0.1?tls-port=${tlsPort()}`, `--spice-ca-file=${ca.caFile}`, '--spice-secure-channels=all'],
    { env: { ...process.env, ...spiceGtkEnv(home, null), DISPLAY: xvfb.display }, stdio: 'ignore' },
  );
  try {
    await expectViewerShows(xvfb, expected);
    expect(await hostStats(host)).toMatchObject({ clients: 1, display: 1, inputs: 1, cursor: 1 });
  } finally {
    viewer.kill('SIGTERM');
    await xvfb.stop();
  }
  await expect.poll(async () => (await hostStats(host)).clients, { timeout: 10_000 }).toBe(0);
  await resume(host);
});

test('spice-html5 from the https page over wss:// shows the frame pixel for pixel', async () => {
  const client = await openHtml5(browser, stack);
  try {
    expect(client.page.url()).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/client\.html\?url=wss/);
    await expect.poll(async () => (await readHtml5Canvas(client)) !== null, { timeout: 20_000 }).toBe(true);
    const frame = await pauseAndSettle(host);
    await expectCanvasEquals(client, expectedFrame(frame), `frame ${frame}`, 15_000);
    expect(client.logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  } finally {
    await client.page.context().close();
    await resume(host);
  }
});
