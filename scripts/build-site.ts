/**
 * `npm run build:site`: the demo page, the web client and the element page as
 * a static site in dist-site/, for the relay (`spice-relay --static
 * dist-site`) or any static server that sends the cross-origin isolation
 * headers. The BIOS and the guests built so far go along, at the paths the
 * pages load them from.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';
import { createLogger } from '../src/util/logger.ts';

const log = createLogger('build-site');
const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist-site');

rmSync(OUT, { recursive: true, force: true });
await build({
  configFile: join(ROOT, 'vite.config.ts'),
  root: ROOT,
  logLevel: 'warn',
  build: {
    outDir: OUT,
    rollupOptions: { input: { index: join(ROOT, 'index.html'), client: join(ROOT, 'client.html'), element: join(ROOT, 'element.html') } },
  },
});
const copies: Array<[string, string]> = [
  ['.cache/bios', '.cache/bios'],
  ['.cache/guests/linux', '.cache/guests/linux'],
  ['guests/graphics.img', 'guests/graphics.img'],
  ['guests/text.img', 'guests/text.img'],
];
for (const [from, to] of copies) {
  if (!existsSync(join(ROOT, from))) {
    log.warn(`${from} is not there (npm run bios / npm run guest:linux make it); the site is built without it`);
    continue;
  }
  cpSync(join(ROOT, from), join(OUT, to), { recursive: true });
}
log.info(`site built in ${OUT}: serve it with spice-relay --static dist-site (or any server sending the COOP/COEP headers)`);
