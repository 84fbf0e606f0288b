/**
 * Where a page looks for the relay when it is not told: the page's own host,
 * port 8765, `wss://` when the page itself is https (a secure page may not
 * open `ws://`, and a relay with TLS speaks only `wss://`).
 */
export function defaultRelayUrl(page: { protocol: string; hostname: string }): string {
  return `${page.protocol === 'https:' ? 'wss' : 'ws'}://${page.hostname || '127.0.0.1'}:8765`;
}
