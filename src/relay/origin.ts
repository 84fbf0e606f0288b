/**
 * Browser origins as the relay compares them: scheme, host and port only,
 * lower-cased, default ports dropped (what `new URL(…).origin` gives).
 */

/** The canonical form of an origin such as `http://127.0.0.1:5173`; throws if it is not one. */
export function normalizeOrigin(origin: string): string {
  const n = normalizeOriginOrNull(origin);
  if (n === null) {
    throw new RangeError(`expected an origin like https://host:port (scheme, host, optional port, nothing else), got ${JSON.stringify(origin)}`);
  }
  return n;
}

/** The canonical form of an origin, or null if `origin` is not an http(s) origin (e.g. "null"). */
export function normalizeOriginOrNull(origin: string): string | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return null;
  return url.origin;
}
