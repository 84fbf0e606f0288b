/**
 * One Linux guest per Playwright worker, booted once and shared by the specs
 * that need it (screenshots, v86-linux): the boot is the slowest thing the
 * suite does. The time it took is the measured speed of the machine: the
 * tests that use the guest stretch their timeouts by it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test as base } from '@playwright/test';
import { portIsFree, startStack, type Stack } from './harness.ts';
import { slowdown } from './machine-speed.ts';
import { openHost, type HostPage } from './pages.ts';

export { expect };

/** Whether `npm run guest:linux` built the guest; without it the graphics guest stands in (screenshots only). */
export const LINUX = existsSync(join(import.meta.dirname, '..', '.cache', 'guests', 'linux', 'bzImage'));

/**
 * Page load to SPICE-WEB-GUEST READY on the reference machine of
 * machine-speed.ts with nothing else running: an estimate (it took 44 s there
 * at load average 10); set low, it errs towards longer timeouts.
 */
const QUIET_BOOT_MS = 30_000;

export interface SharedGuest {
  stack: Stack;
  host: HostPage;
  /** Page load to READY (0 for the graphics guest). */
  bootMs: number;
  /** Factor ≥ 1 for the timeouts of tests on this guest: how much slower than a quiet reference boot it was. */
  slow: number;
}

export const test = base.extend<{ slowTimeouts: void }, { guest: SharedGuest }>({
  guest: [
    async ({ browser }, use) => {
      // The README's own ports (8765, 5900) where they are free, so the screenshots show the addresses it gives.
      const readmePorts = (await portIsFree(8765)) && (await portIsFree(5900));
      // (Another worker may take them between the check and the start.)
      const stack = readmePorts ? await startStack({ relay: 8765, tcp: 5900 }).catch(() => startStack()) : await startStack();
      const t0 = Date.now();
      const host = await openHost(browser, stack, LINUX ? '&guest=linux' : '&guest=graphics');
      let bootMs = 0;
      if (LINUX) {
        // How long a boot may take follows from how slow the machine is right now.
        const timeout = Math.max(90_000, 3 * QUIET_BOOT_MS * slowdown());
        await expect
          .poll(() => host.page.evaluate(() => window.spiceHost!.vm!.serial.join('\n')), {
            timeout,
            message: `the Linux guest was not READY within ${Math.round(timeout / 1000)} s`,
          })
          .toContain('SPICE-WEB-GUEST READY');
        bootMs = Date.now() - t0;
      }
      process.stderr.write(`shared guest: ${LINUX ? `Linux READY in ${(bootMs / 1000).toFixed(1)} s` : 'graphics guest'}\n`);
      await use({ stack, host, bootMs, slow: Math.max(1, bootMs / QUIET_BOOT_MS) });
      await host.page.context().close();
      await stack.stop();
    },
    // The boot's own wait above is the limit that says what went wrong; this one only stops a hang.
    { scope: 'worker', timeout: 30 * 60_000 },
  ],
  slowTimeouts: [
    async ({ guest }, use, testInfo) => {
      testInfo.setTimeout(testInfo.timeout * guest.slow);
      await use();
    },
    { auto: true },
  ],
});
