/**
 * How a page started by our launcher (`npm start`, `npm run host`, the test
 * harness) learns the relay key without it ever being in a URL or a served
 * file: the launcher either exposes a function to the page through the
 * browser's DevTools protocol (`npm run host`), or the page server answers a
 * same-origin POST that no other origin can make or read (`npm start` on
 * loopback). Embedders with their own relay pass the key themselves.
 */

import { randomSecret } from '../transport/relay-host.ts';

/** What the launcher hands to the page. */
export interface LauncherCredentials {
  /** The relay key (null: the relay needs none). */
  relayKey: string | null;
}

/** The page server's endpoint; POST only, same-origin only, loopback only. */
export const LAUNCHER_CREDENTIALS_PATH = '/__spice/launcher-credentials';

declare global {
  interface Window {
    /** Set by a launcher that drives the browser (Playwright binding); never by the page itself. */
    spiceLauncherCredentials?: () => Promise<LauncherCredentials | null>;
  }
}

/**
 * Asks whoever launched this page for the relay key; null when nobody offers
 * one (a page on someone else's server), so the caller can ask the user or
 * try without.
 */
export async function launcherCredentials(): Promise<LauncherCredentials | null> {
  const binding = globalThis.window?.spiceLauncherCredentials;
  if (typeof binding === 'function') {
    const c = await binding();
    if (c) return { relayKey: typeof c.relayKey === 'string' ? c.relayKey : null };
  }
  let res: Response;
  try {
    res = await fetch(LAUNCHER_CREDENTIALS_PATH, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
  } catch {
    return null;
  }
  if (!res.ok) return null;
  const body = (await res.json()) as { relayKey?: unknown };
  return { relayKey: typeof body.relayKey === 'string' ? body.relayKey : null };
}

/**
 * The secret this origin's pages register a session with, kept in
 * localStorage (this origin only) so that a reload, or the page opened again
 * in a new tab, gets the session name back at once instead of waiting out the
 * relay's grace period. A second tab serving the same session takes it over.
 */
export function storedSessionSecret(relayUrl: string, session: string): string {
  const name = `spice-web-server:secret:${relayUrl}:${session}`;
  let storage: Storage | null = null;
  try {
    storage = globalThis.localStorage ?? null;
  } catch {
    /* storage refused (sandboxed frame): a fresh secret each load */
  }
  const kept = storage?.getItem(name);
  if (kept && kept.length >= 16) return kept;
  const secret = randomSecret();
  storage?.setItem(name, secret);
  return secret;
}
