#!/usr/bin/env node
// Runs a TypeScript script in this very process (tsx registered in-process), so
// signals reach the script's own handlers and no wrapper process is left behind:
//   node scripts/run.mjs scripts/host.ts --headless
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node scripts/run.mjs SCRIPT.ts [args…]\n');
  process.exit(2);
}
register();
// The script sees its own arguments at process.argv.slice(2), as if run directly.
process.argv.splice(1, 1);
await import(pathToFileURL(resolve(script)).href);
