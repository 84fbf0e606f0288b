/**
 * Plain-words explanations of the failures a visitor of the demo page can
 * meet, each with what to run or change (the README's Troubleshooting).
 */
import { RelayError } from '../transport/relay-stream.ts';
import { MissingFileError } from './source-params.ts';

export interface Explained {
  title: string;
  /** What happened, in a sentence or two. */
  detail: string;
  /** What to do about it (may hold a command in `backticks`). */
  fix?: string;
}

export function explain(e: unknown, ctx: { relayUrl: string; session: string }): Explained {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof MissingFileError) {
    return { title: 'A file the virtual machine needs is missing', detail: `${e.url} is not on the server.`, fix: e.fix };
  }
  if (/not a secure context/.test(message)) {
    return {
      title: 'This page needs https on this address',
      detail: 'Browsers share memory with workers (SharedArrayBuffer) only on secure pages: https, or http on 127.0.0.1.',
      fix: 'Start it with a certificate: `npm start -- --host ADDR --tls-cert cert.pem --tls-key key.pem`, then open the https:// address it prints.',
    };
  }
  if (/not cross-origin isolated/.test(message)) {
    return {
      title: 'This page cannot share memory with its workers',
      detail: 'The browser did not isolate the page (no SharedArrayBuffer), so no SPICE server can run in it.',
      fix:
        'Open the page through `npm start` (its server sends the headers), or serve it with ' +
        '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp".',
    };
  }
  if (e instanceof RelayError) {
    if (/held by another page/.test(message)) {
      return {
        title: `Session "${ctx.session}" is already hosted by another page`,
        detail: 'Only one page at a time can serve a session on the relay; another tab probably serves it.',
        fix: 'Close the other tab and reload, or open this page with `?session=another-name`.',
      };
    }
    if (/reserved for the page that hosted it/.test(message)) {
      return {
        title: `Session "${ctx.session}" is kept for the page that served it a moment ago`,
        detail: 'A page that drops off keeps its session name for 30 seconds so nobody can take it while it comes back.',
        fix: 'Wait half a minute and reload, or open this page with `?session=another-name`.',
      };
    }
    if (/relay key/.test(message)) {
      return {
        title: 'The relay does not let this page host',
        detail: `${message}. Only pages holding the relay's key may serve sessions on it.`,
        fix:
          'Open the page at the address `npm start` or `npm run host` prints on this machine (it hands the key over by itself), ' +
          'or type the key below: the launcher or the relay prints which file holds it.',
      };
    }
    if (e.code === 1006 || /connection closed/.test(message)) {
      return {
        title: 'The relay cannot be reached, or refused this page',
        detail:
          `Nothing answered at ${ctx.relayUrl}, or the relay does not accept pages from ${location.origin}. ` +
          'Clients meet the page through this relay, so nothing can be served.',
        fix:
          'Start it with `npm start` (page and relay together) and open the address it prints; with other ports, pass `?relay=ws://HOST:PORT`; ' +
          'a relay of your own must allow this origin (`--allowed-origin`).',
      };
    }
    return { title: 'The relay refused this page', detail: message };
  }
  if (/could not download|Failed to fetch/.test(message)) {
    return { title: 'A file could not be downloaded', detail: message, fix: 'Check the address (and that the server serving it is running), then reload.' };
  }
  if (/no longer stored in this browser/.test(message)) {
    return { title: 'That image is gone from this browser', detail: message, fix: 'Pick the file again under "Your own image".' };
  }
  return { title: 'Something went wrong', detail: message, fix: 'The log below has details; reload to try again.' };
}
