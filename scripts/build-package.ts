/**
 * `npm run build`: the installable package in dist/.
 *
 * - `dist/index.js`: the browser library (src/index.ts), one ES module.
 * - `dist/assets/`: the two Web Workers (RedWorker, v86) as self-contained ES
 *   modules, and the WebAssembly they load (qxl.wasm, v86.wasm) as real files.
 * - `dist/types/`: type declarations (tsc, tsconfig.build.json).
 * - `dist/relay/cli.js`: the relay CLI for Node (`spice-relay` through bin/).
 *
 * Why not Vite's library mode: it inlines every `new URL(…, import.meta.url)`
 * asset as a base64 data URL (2 MB of v86.wasm, qxl.wasm once per thread) and
 * rewrites the worker references into a form (`new URL(/* @vite-ignore *\/
 * "…", "" + import.meta.url)`) that a consumer's bundler no longer recognises,
 * so the worker files never reach the consumer's build. Here every worker and
 * WASM reference in the output is the plain `new URL('./assets/x', import.meta.url)`
 * that browsers resolve relative to the module and that bundlers supporting
 * the pattern (Vite; webpack 5 documents it) copy, or re-bundle, from
 * node_modules. The browser bundles import nothing by bare name, so no
 * bundler is required.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** The repository root (this file lives in scripts/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the package is built. */
export const DIST = join(REPO_ROOT, 'dist');
const ASSETS = join(DIST, 'assets');

/**
 * Every file the sources reference with `new URL('…', import.meta.url)`, by
 * its path in the repository, and its name in dist/assets/. A reference not
 * listed here fails the build: a new worker or asset must be added on purpose.
 */
const URL_TARGETS: Readonly<Record<string, string>> = {
  'src/worker/red-worker.ts': 'red-worker.js',
  'src/sources/v86/v86-worker.ts': 'v86-worker.js',
  'src/sound/sound-worker.ts': 'sound-worker.js',
  'build/qxl.wasm': 'qxl.wasm',
};

/** The browser bundles: the library entry, and each worker of {@link URL_TARGETS}. */
const BROWSER_ENTRIES: ReadonlyArray<{ entry: string; out: string }> = [
  { entry: 'src/index.ts', out: join(DIST, 'index.js') },
  ...Object.entries(URL_TARGETS)
    .filter(([source]) => source.endsWith('.ts'))
    .map(([source, name]) => ({ entry: source, out: join(ASSETS, name) })),
];

/** Node built-ins libv86 reaches for only when it runs under Node (never in a worker). */
const NODE_ONLY = /^(node:)?(crypto|fs|fs\/promises|perf_hooks)$/;

const NEW_URL_RE = /new\s+URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;

/** A relative module specifier from `fromDir` to `to`, always starting with ./ or ../. */
function relativeSpecifier(fromDir: string, to: string): string {
  const rel = relative(fromDir, to).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * Rewrites `new URL('<source path>', import.meta.url)` in the sources to point
 * at the built file in dist/assets/, relative to the bundle being written.
 */
function assetUrlsPlugin(outFile: string): Plugin {
  return {
    name: 'spice-asset-urls',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const code = readFileSync(args.path, 'utf8');
        if (!code.includes('import.meta.url')) return { contents: code, loader: 'ts' };
        const rewritten = code.replace(NEW_URL_RE, (whole, quote: string, spec: string) => {
          if (!spec.startsWith('.')) return whole;
          const target = relative(REPO_ROOT, resolve(dirname(args.path), spec)).split(sep).join('/');
          const name = URL_TARGETS[target];
          if (!name) {
            throw new Error(
              `${relative(REPO_ROOT, args.path)}: new URL(${quote}${spec}${quote}, import.meta.url) points at ${target}, ` +
                'which scripts/build-package.ts does not know; add it to URL_TARGETS',
            );
          }
          return `new URL(${JSON.stringify(relativeSpecifier(dirname(outFile), join(ASSETS, name)))}, import.meta.url)`;
        });
        return { contents: rewritten, loader: 'ts' };
      });
    },
  };
}

/**
 * Vite's `import x from 'pkg/file.wasm?url'`: the file is copied to
 * dist/assets/ and the import becomes its URL relative to the bundle.
 */
function urlImportsPlugin(outFile: string, copied: Map<string, string>): Plugin {
  return {
    name: 'spice-url-imports',
    setup(b) {
      b.onResolve({ filter: /\?url$/ }, async (args) => {
        const bare = args.path.slice(0, -'?url'.length);
        const found = await b.resolve(bare, { kind: 'import-statement', resolveDir: args.resolveDir });
        if (found.errors.length > 0) return { errors: found.errors };
        return { path: found.path, namespace: 'spice-url' };
      });
      b.onLoad({ filter: /.*/, namespace: 'spice-url' }, (args) => {
        const name = basename(args.path);
        const previous = copied.get(name);
        if (previous !== undefined && previous !== args.path) {
          throw new Error(`two ?url imports named ${name}: ${previous} and ${args.path}`);
        }
        copied.set(name, args.path);
        const spec = relativeSpecifier(dirname(outFile), join(ASSETS, name));
        return { contents: `export default new URL(${JSON.stringify(spec)}, import.meta.url).href;`, loader: 'js' };
      });
    },
  };
}

/** Empty stand-ins for {@link NODE_ONLY} modules, as Vite's browser build does. */
const nodeOnlyStubPlugin: Plugin = {
  name: 'spice-node-only-stubs',
  setup(b) {
    b.onResolve({ filter: NODE_ONLY }, (args) => ({ path: args.path, namespace: 'spice-node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'spice-node-stub' }, () => ({ contents: 'export default {};', loader: 'js' }));
  },
};

/** Builds the browser bundles and their assets; returns the files bundled from node_modules. */
async function buildBrowser(): Promise<string[]> {
  const copied = new Map<string, string>();
  const inputs = new Set<string>();
  for (const { entry, out } of BROWSER_ENTRIES) {
    const result = await build({
      entryPoints: [join(REPO_ROOT, entry)],
      outfile: out,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      // Readable output: consumers' bundlers minify their own builds.
      minify: false,
      legalComments: 'eof',
      charset: 'utf8',
      logLevel: 'warning',
      plugins: [assetUrlsPlugin(out), urlImportsPlugin(out, copied), nodeOnlyStubPlugin],
      metafile: true,
    });
    for (const input of Object.keys(result.metafile.inputs)) inputs.add(input.replace(/^[\w-]+:/, ''));
  }
  const qxlWasm = join(REPO_ROOT, 'build', 'qxl.wasm');
  if (!existsSync(qxlWasm)) throw new Error(`${qxlWasm} is missing: run npm run asbuild first`);
  copyFileSync(qxlWasm, join(ASSETS, 'qxl.wasm'));
  for (const [name, from] of copied) {
    copyFileSync(from, join(ASSETS, name));
    inputs.add(relative(REPO_ROOT, from));
  }
  return [...inputs];
}

/**
 * The bundles carry code of other packages (v86, comlink, idb-keyval); their
 * licenses ask for the notices to travel with it.
 */
function writeThirdPartyNotices(bundledFiles: readonly string[]): void {
  const roots = new Set<string>();
  for (const file of bundledFiles) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file.split(sep).join('/'));
    if (m) roots.add(m[1]!);
  }
  const sections: string[] = [];
  for (const name of [...roots].sort()) {
    const dir = join(REPO_ROOT, 'node_modules', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string; license?: string };
    const licenseFile = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    if (!licenseFile) throw new Error(`${name} is bundled into dist/ but has no LICENSE file to copy`);
    sections.push(`${name} ${pkg.version ?? ''} (${pkg.license ?? 'see below'})\n\n${readFileSync(join(dir, licenseFile), 'utf8').trim()}\n`);
  }
  writeFileSync(
    join(DIST, 'THIRD-PARTY-NOTICES.txt'),
    `spice-web-server's browser bundles (dist/index.js, dist/assets/) include these packages:\n\n${sections.join('\n' + '-'.repeat(72) + '\n\n')}`,
  );
}

async function buildRelayCli(): Promise<void> {
  const out = join(DIST, 'relay', 'cli.js');
  await build({
    entryPoints: [join(REPO_ROOT, 'src/relay/cli.ts')],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // `ws` stays a dependency of the package: bundling CommonJS into an ES
    // module breaks its require() of Node built-ins.
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(out, 0o755);
}

function* filesUnder(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/**
 * Declarations with tsc. The sources import with `.ts` extensions, which tsc
 * keeps in .d.ts output; they become `.js` so every module resolution mode
 * (bundler, node16) finds the declarations without allowImportingTsExtensions.
 */
function buildTypes(): void {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  for (const file of filesUnder(join(DIST, 'types'))) {
    if (!file.endsWith('.d.ts')) continue;
    const code = readFileSync(file, 'utf8');
    const fixed = code.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
    if (fixed !== code) writeFileSync(file, fixed);
  }
}

/**
 * Proves the output is what consumers need: browser bundles import nothing by
 * bare name, and every `new URL('…', import.meta.url)` names a file in dist/.
 */
function checkOutput(): string[] {
  const problems: string[] = [];
  for (const { out } of BROWSER_ENTRIES) {
    const code = readFileSync(out, 'utf8');
    const name = relative(REPO_ROOT, out);
    for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) problems.push(`${name} imports ${JSON.stringify(spec)} by bare name`);
    }
    for (const m of code.matchAll(NEW_URL_RE)) {
      const target = fileURLToPath(new URL(m[2]!, pathToFileURL(out)));
      if (!existsSync(target)) problems.push(`${name}: new URL(${JSON.stringify(m[2])}, import.meta.url) → ${target}, which is missing`);
    }
  }
  return problems;
}

async function main(): Promise<void> {
  const started = performance.now();
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(ASSETS, { recursive: true });
  writeThirdPartyNotices(await buildBrowser());
  await buildRelayCli();
  buildTypes();
  const problems = checkOutput();
  if (problems.length > 0) throw new Error(`the built package is broken:\n  ${problems.join('\n  ')}`);
  const lines = [...filesUnder(DIST)]
    .filter((f) => !f.includes(`${sep}types${sep}`))
    .map((f) => `  ${relative(REPO_ROOT, f).padEnd(28)} ${(statSync(f).size / 1024).toFixed(0).padStart(6)} KiB`);
  process.stdout.write(`built the package in ${((performance.now() - started) / 1000).toFixed(1)} s:\n${lines.join('\n')}\n  dist/types/ (declarations)\n`);
}

await main();
