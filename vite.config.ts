import { createReadStream, statSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { refuseCrossOrigin } from './scripts/page-server.ts';
import { ISOLATION_HEADERS } from './src/relay/page-guards.ts';


/**
 * Serves .cache/ (the BIOS and built guests, never committed) as plain bytes:
 * Vite would otherwise try to transform extension-less files such as bzImage.
 */
function cacheFiles(): Plugin {
  const root = join(import.meta.dirname, '.cache');
  return {
    name: 'spice-web-server-cache-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0]!;
        if (!url.startsWith('/.cache/')) return next();
        const path = normalize(join(root, decodeURIComponent(url.slice('/.cache/'.length))));
        if (!path.startsWith(root + sep)) return next();
        let size: number;
        try {
          const st = statSync(path);
          if (!st.isFile()) return next();
          size = st.size;
        } catch {
          res.statusCode = 404;
          return void res.end(`not found: ${url}`);
        }
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
        res.setHeader('Content-Type', path.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        res.setHeader('Content-Length', String(size));
        res.setHeader('Cache-Control', 'no-cache');
        if (req.method === 'HEAD') return void res.end();
        createReadStream(path).pipe(res);
      });
    },
  };
}

export default defineConfig({
  // No CORS: another origin's page must not read our modules (nor anything else we serve).
  server: { host: '127.0.0.1', port: 5173, strictPort: false, headers: { ...ISOLATION_HEADERS }, cors: false },
  preview: { host: '127.0.0.1', port: 4173, headers: { ...ISOLATION_HEADERS }, cors: false },
  plugins: [refuseCrossOrigin(), cacheFiles()],
  worker: { format: 'es' },
  build: { target: 'es2022' },
  optimizeDeps: { exclude: ['@spice-project/spice-html5', 'v86'] },
});
