#!/usr/bin/env node
// spice-relay: the relay CLI (src/relay/cli.ts), run through tsx so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { relayCliMain } = await import(new URL('../src/relay/cli.ts', import.meta.url).href);
await relayCliMain(process.argv.slice(2));
