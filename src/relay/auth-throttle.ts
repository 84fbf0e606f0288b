/**
 * Slows password guessing per address: after failed ticket checks, new
 * connections from that address (IPv6: its /64) are spaced out, the gap
 * doubling with each failure up to a ceiling. A success clears the address;
 * so does a quiet spell. Other addresses are never slowed.
 */
import { addressGroup } from './admission.ts';

/** Tuning of {@link AuthThrottle}; every field has a default. */
export interface AuthThrottleOptions {
  /** Gap after the first failure. Default 200 ms. */
  baseDelayMs?: number;
  /** Longest gap. Default 5000 ms (a client still links within the 10 s link deadline). */
  maxDelayMs?: number;
  /** Failures are forgotten this long after the last one. Default 15 minutes. */
  forgetAfterMs?: number;
  /** Most addresses remembered (oldest forgotten first), so memory stays bounded. Default 10000. */
  maxAddresses?: number;
}

interface Record {
  failures: number;
  lastFailure: number;
  /** Earliest time the next connection from this address may go ahead. */
  nextAt: number;
}

/** Per-address failure counts and the gaps they impose. */
export class AuthThrottle {
  private readonly records = new Map<string, Record>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxAddresses: number;

  constructor(opts: AuthThrottleOptions = {}, private readonly now: () => number = Date.now) {
    this.baseDelayMs = opts.baseDelayMs ?? 200;
    this.maxDelayMs = opts.maxDelayMs ?? 5000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 15 * 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
  }

  /** The gap imposed after `failures` failures in a row. */
  delayFor(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  /**
   * A connection from `address` wants to go ahead: how many ms it must wait
   * first. Reserves its slot, so parallel connections queue one gap apart.
   */
  reserve(address: string): number {
    const r = this.live(addressGroup(address));
    if (!r) return 0;
    const t = this.now();
    const start = Math.max(t, r.nextAt);
    r.nextAt = start + this.delayFor(r.failures);
    return start - t;
  }

  /** A ticket from `address` was wrong; returns the failures in a row and the gap now imposed. */
  failed(address: string): { failures: number; delayMs: number } {
    const group = addressGroup(address);
    const t = this.now();
    const r = this.live(group) ?? { failures: 0, lastFailure: t, nextAt: t };
    r.failures++;
    r.lastFailure = t;
    r.nextAt = Math.max(r.nextAt, t + this.delayFor(r.failures));
    this.records.delete(group); // re-insert: the map's order is then least recently failed first
    this.records.set(group, r);
    while (this.records.size > this.maxAddresses) this.records.delete(this.records.keys().next().value!);
    return { failures: r.failures, delayMs: this.delayFor(r.failures) };
  }

  /** A ticket from `address` was right: its failures are forgotten. */
  succeeded(address: string): void {
    this.records.delete(addressGroup(address));
  }

  /** Failures in a row from `address` (0 when none or forgotten). */
  failures(address: string): number {
    return this.live(addressGroup(address))?.failures ?? 0;
  }

  /** Addresses remembered. */
  get size(): number {
    return this.records.size;
  }

  private live(group: string): Record | null {
    const r = this.records.get(group);
    if (!r) return null;
    if (this.now() - r.lastFailure > this.forgetAfterMs) {
      this.records.delete(group);
      return null;
    }
    return r;
  }
}
