/** Admission control and the password-guessing throttle of the relay, as pure logic. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission, addressGroup, type AdmissionPass } from '../src/relay/admission.ts';
import { AuthThrottle } from '../src/relay/auth-throttle.ts';
import { normalizeOrigin, normalizeOriginOrNull } from '../src/relay/origin.ts';

afterEach(() => {
  vi.useRealTimers();
});

function admitted(a: Admission, address: string, evictions: string[] = []): AdmissionPass {
  const r = a.admit(address, (reason) => evictions.push(`${address}: ${reason}`));
  if (!r.ok) throw new Error(`expected ${address} admitted, got refused: ${r.reason}`);
  return r.pass;
}

describe('addressGroup', () => {
  it('keeps IPv4 addresses, folds IPv4-mapped IPv6 to IPv4 and IPv6 to its /64', () => {
    expect(addressGroup('127.0.0.2')).toBe('127.0.0.2');
    expect(addressGroup('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressGroup('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
  });
});

describe('Admission', () => {
  it('refuses past the per-address limit; other addresses still get in', () => {
    const a = new Admission({ maxPerAddress: 3, maxTotal: 100, timeoutMs: 60_000 });
    for (let i = 0; i < 3; i++) admitted(a, '10.0.0.1');
    const r = a.admit('10.0.0.1', () => {});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/3 connections from 10\.0\.0\.1 are still unauthenticated \(limit 3\)/);
    admitted(a, '10.0.0.2');
    expect(a.stats()).toMatchObject({ pending: 4, addresses: 2, refused: 1 });
    a.clear();
  });

  it('authenticated or released connections stop counting', () => {
    const a = new Admission({ maxPerAddress: 2, maxTotal: 100, timeoutMs: 60_000 });
    const p1 = admitted(a, '10.0.0.1');
    const p2 = admitted(a, '10.0.0.1');
    p1.authenticated();
    p2.release();
    p2.release(); // twice is harmless
    expect(a.stats().pending).toBe(0);
    admitted(a, '10.0.0.1');
    admitted(a, '10.0.0.1');
    a.clear();
  });

  it('when full, a newcomer pushes out the oldest connection of the address holding the most', () => {
    const a = new Admission({ maxPerAddress: 10, maxTotal: 6, timeoutMs: 60_000 });
    const evicted: string[] = [];
    for (let i = 0; i < 4; i++) admitted(a, '10.0.0.66', evicted); // the flood
    admitted(a, '10.0.0.7', evicted);
    admitted(a, '10.0.0.8', evicted);
    // Full: the real client gets in at the flood's expense.
    admitted(a, '10.0.0.1', evicted);
    expect(evicted).toEqual([expect.stringMatching(/^10\.0\.0\.66: pushed out/)]);
    // The flood's own newcomers are refused while it holds the most.
    let floodRefused = 0;
    for (let i = 0; i < 5; i++) if (!a.admit('10.0.0.66', () => {}).ok) floodRefused++;
    expect(floodRefused).toBe(5);
    expect(a.stats()).toMatchObject({ pending: 6, evicted: 1 });
    a.clear();
  });

  it('against many addresses holding one each, a newcomer still gets in (the oldest goes)', () => {
    const a = new Admission({ maxPerAddress: 10, maxTotal: 4, timeoutMs: 60_000 });
    const evicted: string[] = [];
    for (let i = 1; i <= 4; i++) admitted(a, `10.0.1.${i}`, evicted);
    admitted(a, '10.0.0.1', evicted);
    expect(evicted).toEqual([expect.stringMatching(/^10\.0\.1\.1: pushed out/)]);
    a.clear();
  });

  it('evicts a connection that does not authenticate in time', () => {
    vi.useFakeTimers();
    const a = new Admission({ maxPerAddress: 4, maxTotal: 4, timeoutMs: 1000 });
    const evicted: string[] = [];
    const p = admitted(a, '10.0.0.1', evicted);
    admitted(a, '10.0.0.2', evicted).authenticated();
    vi.advanceTimersByTime(999);
    expect(evicted).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(evicted).toEqual(['10.0.0.1: not authenticated within 1000 ms']);
    expect(a.stats().pending).toBe(0);
    p.release();
    expect(a.stats().pending).toBe(0);
  });

  it('checks its limits', () => {
    expect(() => new Admission({ maxPerAddress: 0, maxTotal: 4, timeoutMs: 1 })).toThrow(/maxPerAddress to be a positive integer, got 0/);
  });
});

describe('AuthThrottle', () => {
  it('spaces connections from a failing address, doubling to a ceiling; others are not slowed', () => {
    const t = new AuthThrottle({ baseDelayMs: 100, maxDelayMs: 1000 }, () => 1_000_000);
    expect(t.reserve('10.0.0.9')).toBe(0);
    expect(t.failed('10.0.0.9')).toEqual({ failures: 1, delayMs: 100 });
    expect(t.failed('10.0.0.9')).toEqual({ failures: 2, delayMs: 200 });
    expect(t.failed('10.0.0.9')).toEqual({ failures: 3, delayMs: 400 });
    for (let i = 0; i < 5; i++) t.failed('10.0.0.9');
    expect(t.delayFor(8)).toBe(1000);
    // Parallel connections queue one gap apart.
    const waits = [t.reserve('10.0.0.9'), t.reserve('10.0.0.9'), t.reserve('10.0.0.9')];
    expect(waits[1]! - waits[0]!).toBe(1000);
    expect(waits[2]! - waits[1]!).toBe(1000);
    expect(t.reserve('10.0.0.1')).toBe(0);
    // A success clears the address.
    t.succeeded('10.0.0.9');
    expect(t.reserve('10.0.0.9')).toBe(0);
  });

  it('forgets after a quiet spell, and stays bounded in memory', () => {
    let now = 0;
    const t = new AuthThrottle({ forgetAfterMs: 1000, maxAddresses: 3 }, () => now);
    t.failed('10.0.0.1');
    now = 1001;
    expect(t.failures('10.0.0.1')).toBe(0);
    for (let i = 0; i < 10; i++) t.failed(`10.0.2.${i}`);
    expect(t.size).toBe(3);
    expect(t.failures('10.0.2.9')).toBe(1);
    expect(t.failures('10.0.2.0')).toBe(0);
  });
});

describe('origins', () => {
  it('normalizes origins and rejects anything that is not one', () => {
    expect(normalizeOrigin('HTTP://Example.org:80')).toBe('http://example.org');
    expect(normalizeOrigin('https://[::1]:8443/')).toBe('https://[::1]:8443');
    expect(normalizeOriginOrNull('null')).toBeNull();
    expect(normalizeOriginOrNull('file:///x')).toBeNull();
    expect(normalizeOriginOrNull('https://a.example/path')).toBeNull();
    expect(() => normalizeOrigin('example.org')).toThrow(/expected an origin like https:\/\/host:port/);
  });
});
