/**
 * What our page servers (the Vite dev server of `npm start`, `npm run host`
 * and the tests) add for safety: no cross-origin subresource requests, and the
 * launcher's relay key handed to its own page only (see
 * src/host/launcher-credentials.ts for the page side).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Connect, Plugin } from 'vite';
import { LAUNCHER_CREDENTIALS_PATH, type LauncherCredentials } from '../src/host/launcher-credentials.ts';
import { isLoopbackHost } from '../src/relay/net-util.ts';

/**
 * Refuses requests that another site's page makes for our modules, workers
 * or files (Fetch Metadata): only navigations may come from elsewhere. CORS
 * is off too (vite.config.ts), so such a page could not read the answer anyway.
 */
export function refuseCrossOrigin(): Plugin {
  const middleware: Connect.NextHandleFunction = (req, res, next) => {
    const site = req.headers['sec-fetch-site'];
    if ((site === 'cross-site' || site === 'same-site') && req.headers['sec-fetch-mode'] !== 'navigate') {
      res.statusCode = 403;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end(`refused: a ${site} ${String(req.headers['sec-fetch-mode'] ?? '')} request; this server answers its own pages only\n`);
      return;
    }
    next();
  };
  return {
    name: 'spice-web-server-refuse-cross-origin',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
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
 * Serves {@link LAUNCHER_CREDENTIALS_PATH}: the relay key, to the launcher's
 * own page on loopback and to nobody else (see {@link credentialsRefusal}).
 */
export function launcherCredentialsPlugin(credentials: () => LauncherCredentials): Plugin {
  const middleware: Connect.NextHandleFunction = (req: IncomingMessage, res: ServerResponse, next) => {
    if ((req.url ?? '').split('?')[0] !== LAUNCHER_CREDENTIALS_PATH) return next();
    const refusal = credentialsRefusal(req);
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-type', 'application/json');
    if (refusal) {
      res.statusCode = 403;
      res.end(JSON.stringify({ error: refusal }));
      return;
    }
    res.end(JSON.stringify(credentials()));
  };
  return {
    name: 'spice-web-server-launcher-credentials',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}
