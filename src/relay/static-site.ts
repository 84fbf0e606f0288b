/**
 * A built site (`npm run build:site`) served by the relay itself, the
 * production way to serve the demo page and the web client: GET and HEAD
 * of files under one folder, with the cross-origin isolation headers, no
 * listings, nothing outside the folder, nothing for other sites' pages.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { crossSiteRefusal, ISOLATION_HEADERS } from './page-guards.ts';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Files of one folder over HTTP; {@link StaticSite.handle} answers or passes. */
export class StaticSite {
  /** The folder, with symbolic links resolved. */
  readonly root: string;

  constructor(root: string) {
    let real: string;
    try {
      real = realpathSync(root);
    } catch {
      throw new Error(`static site: expected a folder at ${root}, found nothing (run npm run build:site)`);
    }
    if (!statSync(real).isDirectory()) throw new Error(`static site: expected a folder at ${root}, found a file`);
    this.root = real;
  }

  /** Answers a GET or HEAD of a file under the root (true), or leaves the request to others (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const refusal = crossSiteRefusal(req);
    if (refusal) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${refusal}\n`);
      return true;
    }
    const file = this.resolve((req.url ?? '/').split('?')[0]!);
    if (!file) return false;
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, {
      ...ISOLATION_HEADERS,
      'content-type': type,
      'content-length': String(statSync(file).size),
      'x-content-type-options': 'nosniff',
      // Built assets carry a hash in their names; pages must be checked again.
      'cache-control': type.startsWith('text/html') ? 'no-cache' : 'public, max-age=3600',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    return true;
  }

  /** The file a URL path names, or null: outside the root, a folder without index.html, or nothing. */
  private resolve(urlPath: string): string | null {
    let path: string;
    try {
      path = decodeURIComponent(urlPath);
    } catch {
      return null;
    }
    if (path.includes('\0')) return null;
    let full = join(this.root, path);
    try {
      if (statSync(full).isDirectory()) full = join(full, 'index.html');
      const real = realpathSync(full);
      // Links that lead out of the folder count as outside it.
      if (real !== this.root && !real.startsWith(this.root + sep)) return null;
      return statSync(real).isFile() ? real : null;
    } catch {
      return null;
    }
  }
}
