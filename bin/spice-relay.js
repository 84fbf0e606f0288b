#!/usr/bin/env node
// spice-relay: the relay CLI (src/relay/cli.ts). In a source checkout it runs
// the sources through tsx, so no build step is needed and edits apply at once;
// an installed package has no src/ and runs the build in dist/relay/cli.js.
import { existsSync } from 'node:fs';

const source = new URL('../src/relay/cli.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import(new URL('../dist/relay/cli.js', import.meta.url).href);
}
await cli.relayCliMain(process.argv.slice(2));
