/**
 * What every server of our pages does for safety, whether the Vite dev server
 * of the launchers or the relay serving a built site: the cross-origin
 * isolation headers, no cross-site subresource requests, and the relay key
 * handed to the server's own loopback page only (see
 * src/host/launcher-credentials.ts for the page side).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LAUNCHER_CREDENTIALS_PATH, type LauncherCredentials } from '../host/launcher-credentials.ts';
import { isLoopbackHost } from './net-util.ts';

/** SharedArrayBuffer needs the first two on every page; the third keeps our files to our pages. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Why a request another site's page made is refused (Fetch Metadata), or null:
 * only navigations may come from elsewhere.
 */
export function crossSiteRefusal(req: IncomingMessage): string | null {
  const site = req.headers['sec-fetch-site'];
  if ((site === 'cross-site' || site === 'same-site') && req.headers['sec-fetch-mode'] !== 'navigate') {
    return `refused: a ${site} ${String(req.headers['sec-fetch-mode'] ?? '')} request; this server answers its own pages only`;
  }
  return null;
}

/** Why a credentials request is refused, or null if it is our own page on loopback asking. */
export function credentialsRefusal(req: IncomingMessage): string | null {
  if (req.method !== 'POST') return `expected POST, got ${req.method ?? '?'}`;
  const local = req.socket.localAddress ?? '';
  const remote = req.socket.remoteAddress ?? '';
  if (!isLoopbackHost(local) || !isLoopbackHost(remote)) {
    return 'the relay key is handed out on loopback only; give it to pages elsewhere yourself';
  }
  // HTTP/2 (Vite's https server speaks it) names the host in :authority instead of Host.
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? '';
  let hostname = '';
  try {
    hostname = new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    /* refused below */
  }
  // A name other than a loopback one means DNS rebinding, or a proxy we do not know.
  if (!isLoopbackHost(hostname)) return `expected a loopback Host header, got ${JSON.stringify(host)}`;
  if (req.headers['sec-fetch-site'] !== 'same-origin') return 'expected a same-origin request (Sec-Fetch-Site)';
  const origin = req.headers.origin;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (origin !== `${scheme}://${host}`) return `expected Origin ${scheme}://${host}, got ${JSON.stringify(origin ?? null)}`;
  return null;
}

/**
 * Answers {@link LAUNCHER_CREDENTIALS_PATH} (true) or leaves the request alone
 * (false): the relay key, to the server's own page on loopback and nobody else.
 */
export function serveLauncherCredentials(req: IncomingMessage, res: ServerResponse, credentials: () => LauncherCredentials): boolean {
  if ((req.url ?? '').split('?')[0] !== LAUNCHER_CREDENTIALS_PATH) return false;
  const refusal = credentialsRefusal(req);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-type', 'application/json');
  if (refusal) {
    res.statusCode = 403;
    res.end(JSON.stringify({ error: refusal }));
  } else {
    res.end(JSON.stringify(credentials()));
  }
  return true;
}
