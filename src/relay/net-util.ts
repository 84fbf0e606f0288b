/**
 * Small Node-side helpers for the relay: address formatting, close reasons,
 * secret comparison.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** `ip:port` for logs and offers; IPv4-mapped IPv6 shown as plain IPv4, IPv6 in brackets. */
export function formatRemote(address: string | undefined, port: number | undefined): string {
  if (!address) return 'unknown';
  const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const host = isIP(ip) === 6 ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

/** Host part of a URL: IPv6 literals need brackets. */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (host.startsWith('::ffff:')) return host.slice(7).startsWith('127.');
  return false;
}

/**
 * WebSocket close reasons are limited to 123 bytes of UTF-8; longer ones make
 * `ws` throw, so cut them (on a character boundary) instead.
 */
export function closeReason(reason: string): string {
  const max = 123;
  if (Buffer.byteLength(reason) <= max) return reason;
  let s = reason;
  while (Buffer.byteLength(s + '…') > max) s = s.slice(0, -1);
  return s + '…';
}

/** Compares two secrets in constant time (hashing first so lengths do not leak either). */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Seconds with one decimal, for the per-connection log line. */
export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
