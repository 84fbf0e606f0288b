/**
 * `npm run host -- --headless`: serves a session from system Chromium with no
 * display: relay + demo page + a headless browser that hosts it. Prints the
 * client addresses, serves until SIGINT/SIGTERM, then exits cleanly.
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { SERVE_HELP, parseServeArgs, serve, stopOnSignal } from './serve.ts';

try {
  const o = parseServeArgs(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(
      `Usage: npm run host -- [--headless] [options]\n\nHosts a session in system Chromium (${CHROMIUM}).\n` +
        `  --headless           no window (for machines without a display)\n${SERVE_HELP}`,
    );
    process.exit(0);
  }
  const s = await serve(o);
  let browser: Browser | null = null;
  let serving = 'the test pattern';
  let page: Page | null = null;
  const stop = async (): Promise<void> => {
    // Stop hosting first: the relay then frees the session name at once (a page that just
    // vanished keeps it reserved for a grace period). Bounded, in case the page hangs.
    await Promise.race([page?.evaluate(() => window.spiceHost?.stop()).catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    await browser?.close();
    await s.stop();
  };
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: o.headless,
      // Our own handlers stop relay, server and browser in order and exit 0.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: [...(o.headless ? CHROMIUM_ARGS : CHROMIUM_ARGS.filter((a) => a !== '--headless')), ...s.chromiumTrustArgs],
    });
    const hostPage = await browser.newPage();
    page = hostPage;
    const url = new URL(s.pageUrl);
    // The relay key goes to our page through the DevTools connection: not in a URL, a file or argv.
    await page.exposeBinding('spiceLauncherCredentials', ({ frame }) =>
      frame === hostPage.mainFrame() && new URL(frame.url()).origin === url.origin ? { relayKey: s.relayKey } : null,
    );
    // The page's warnings and errors reach this output through the relay (its control socket);
    // uncaught exceptions never reach the page's logger, so they come this way.
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await page.goto(url.toString());
    await page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, {
      timeout: 60_000,
    });
    const err = await page.evaluate(() => window.spiceHostError);
    if (err) throw new Error(`the page could not host the session: ${err}`);
    serving = (await page.evaluate(() => window.spiceSource?.title)) ?? serving;
    const warning = await page.evaluate(() => (document.getElementById('banner')?.hidden ? '' : document.getElementById('banner')?.textContent));
    if (warning) process.stderr.write(`warning: ${warning}\n`);
  } catch (e) {
    await stop();
    throw e;
  }
  process.stdout.write(
    `\nspice-web-server is hosting session "${o.session}" in ${o.headless ? 'headless ' : ''}Chromium, serving ${serving}\n` +
      (s.nativeUrl ? `  remote-viewer ${s.nativeUrl}\n` : '') +
      (s.proxyCommand ? `  any client:   ${s.proxyCommand}\n` : '') +
      (s.tlsUrl ? `  over TLS:     remote-viewer "${s.tlsUrl}" --spice-ca-file=CA.pem\n` : '') +
      `  spice-html5:  ${s.webSocketUrl}\n` +
      `  web client:   ${new URL('/client.html', s.pageUrl).toString()}?url=${encodeURIComponent(s.webSocketUrl)}\n` +
      (o.password ? `  password:     required\n` : '') +
      `Ctrl+C (SIGINT) or SIGTERM stops.\n`,
  );
  stopOnSignal(stop);
} catch (e) {
  process.stderr.write(`npm run host: ${(e as Error).message}\n`);
  process.exit(2);
}
