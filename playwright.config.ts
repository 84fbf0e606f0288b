import { defineConfig } from '@playwright/test';

/** Debian's Chromium, never a downloaded browser; flags for a closed network. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 90_000,
  // E2E_WORKERS=2 runs spec files in parallel (free ports from e2e/harness.ts,
  // Xvfb picks a free display, spice-gtk gets a HOME/XDG dir of its own), but on
  // a busy 2-core machine cold Vite page loads then passed 30 s: one by default.
  workers: Number(process.env.E2E_WORKERS ?? 1),
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
});
