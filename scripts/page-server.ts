/**
 * The page guards (src/relay/page-guards.ts) as Vite plugins, for the dev
 * server of `npm start`, `npm run host` and the tests.
 */
import type { Connect, Plugin } from 'vite';
import type { LauncherCredentials } from '../src/host/launcher-credentials.ts';
import { crossSiteRefusal, serveLauncherCredentials } from '../src/relay/page-guards.ts';

function plugin(name: string, middleware: Connect.NextHandleFunction): Plugin {
  return {
    name,
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}

/**
 * Refuses requests that another site's page makes for our modules, workers
 * or files: only navigations may come from elsewhere. CORS is off too
 * (vite.config.ts), so such a page could not read the answer anyway.
 */
export function refuseCrossOrigin(): Plugin {
  return plugin('spice-web-server-refuse-cross-origin', (req, res, next) => {
    const refusal = crossSiteRefusal(req);
    if (!refusal) return next();
    res.statusCode = 403;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`${refusal}\n`);
  });
}

/** Hands the launcher's relay key to its own page on loopback, and to nobody else. */
export function launcherCredentialsPlugin(credentials: () => LauncherCredentials): Plugin {
  return plugin('spice-web-server-launcher-credentials', (req, res, next) => {
    if (!serveLauncherCredentials(req, res, credentials)) next();
  });
}
