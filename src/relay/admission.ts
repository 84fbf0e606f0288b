/**
 * Admission control for connections that have not authenticated yet: a
 * per-address and a global limit, and a deadline. Nothing unauthenticated may
 * hold a scarce resource (a page socket, relay memory) for long, and an
 * attacker must not be able to keep a real client out:
 *
 * - one address (IPv6: one /64) holds at most `maxPerAddress` pending
 *   connections; more are refused at once;
 * - when `maxTotal` are pending, a newcomer evicts the oldest connection of
 *   the addresses with the most pending ones, unless its own address holds
 *   as many (then the newcomer is refused). A client with one connection in
 *   flight therefore gets in, and keeps its place while it links unless many
 *   newer connections come from addresses holding as few;
 * - a pending connection that has not authenticated within `timeoutMs` is
 *   evicted.
 */
import { isIP } from 'node:net';

/** Limits of {@link Admission}. */
export interface AdmissionLimits {
  /** Most pending connections from one address (IPv6: one /64). */
  maxPerAddress: number;
  /** Most pending connections in all. */
  maxTotal: number;
  /** How long a connection may stay unauthenticated. */
  timeoutMs: number;
}

/** A pending connection's place; give it back with {@link AdmissionPass.release}. */
export interface AdmissionPass {
  /** The address group it counts against (the address, or an IPv6 /64). */
  readonly group: string;
  /** The connection authenticated: it no longer counts, and no deadline applies. */
  authenticated(): void;
  /** The connection is gone. Safe to call more than once, and after authenticated(). */
  release(): void;
}

/** What {@link Admission.admit} decided. */
export type AdmissionResult = { ok: true; pass: AdmissionPass } | { ok: false; reason: string };

interface Entry {
  readonly group: string;
  /** Arrival order: lower is older. */
  readonly seq: number;
  readonly evict: (reason: string) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  done: boolean;
}

/** Live counts, for stats and tests. */
export interface AdmissionStats {
  pending: number;
  addresses: number;
  evicted: number;
  refused: number;
}

/** Groups pending connections by address and enforces {@link AdmissionLimits}. */
export class Admission {
  private readonly groups = new Map<string, Set<Entry>>();
  private total = 0;
  private evicted = 0;
  private refused = 0;
  private seq = 0;

  constructor(private readonly limits: AdmissionLimits) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`Admission: expected ${k} to be a positive integer, got ${v}`);
    }
  }

  /**
   * Asks for a place for a new connection from `address`. `evict` is called
   * (once) if the connection must go later: deadline passed, or pushed out by
   * a newcomer; it must close the connection and release the pass.
   */
  admit(address: string, evict: (reason: string) => void): AdmissionResult {
    const group = addressGroup(address);
    const mine = this.groups.get(group);
    const have = mine?.size ?? 0;
    if (have >= this.limits.maxPerAddress) {
      this.refused++;
      return { ok: false, reason: `${have} connections from ${group} are still unauthenticated (limit ${this.limits.maxPerAddress})` };
    }
    if (this.total >= this.limits.maxTotal) {
      const victim = this.victim();
      if (!victim || victim.group === group || (this.groups.get(victim.group)?.size ?? 0) <= have) {
        this.refused++;
        return { ok: false, reason: `${this.total} connections are unauthenticated (limit ${this.limits.maxTotal}) and ${group} holds as many as anyone` };
      }
      this.evicted++;
      this.finish(victim);
      victim.evict(`pushed out: ${this.limits.maxTotal} connections were unauthenticated and its address ${victim.group} held the most`);
    }
    const entry: Entry = { group, seq: this.seq++, evict, timer: undefined, done: false };
    entry.timer = setTimeout(() => {
      if (entry.done) return;
      this.evicted++;
      this.finish(entry);
      entry.evict(`not authenticated within ${this.limits.timeoutMs} ms`);
    }, this.limits.timeoutMs);
    entry.timer.unref?.();
    let set = this.groups.get(group);
    if (!set) this.groups.set(group, (set = new Set()));
    set.add(entry);
    this.total++;
    const finish = (): void => this.finish(entry);
    return { ok: true, pass: { group, authenticated: finish, release: finish } };
  }

  stats(): AdmissionStats {
    return { pending: this.total, addresses: this.groups.size, evicted: this.evicted, refused: this.refused };
  }

  /** Stops every deadline (the relay is stopping). */
  clear(): void {
    for (const set of this.groups.values()) for (const e of set) this.finish(e);
  }

  /** The oldest entry among the biggest groups. */
  private victim(): Entry | null {
    let size = 0;
    for (const set of this.groups.values()) size = Math.max(size, set.size);
    let oldest: Entry | null = null;
    for (const set of this.groups.values()) {
      if (set.size !== size) continue;
      for (const e of set) if (!oldest || e.seq < oldest.seq) oldest = e;
    }
    return oldest;
  }

  private finish(entry: Entry): void {
    if (entry.done) return;
    entry.done = true;
    clearTimeout(entry.timer);
    const set = this.groups.get(entry.group);
    if (set?.delete(entry)) {
      this.total--;
      if (set.size === 0) this.groups.delete(entry.group);
    }
  }
}

/**
 * The unit limits count against: an IPv4 address, or the /64 of an IPv6 one
 * (one host usually owns a whole /64). IPv4-mapped IPv6 counts as IPv4.
 */
export function addressGroup(address: string): string {
  const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(a) !== 6) return a;
  const words = expandIpv6(a);
  return words ? `${words.slice(0, 4).join(':')}::/64` : a;
}

/** The eight 16-bit words of an IPv6 address as hex strings, or null if it is not one. */
function expandIpv6(a: string): string[] | null {
  const bare = a.split('%')[0]!;
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (t.length && t[t.length - 1]!.includes('.')) return null; // embedded IPv4 other than ::ffff: is rare; keep as is
  const fill = tail === null ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  const words = [...h, ...fill, ...t].map((w) => parseInt(w, 16).toString(16));
  return words.length === 8 ? words : null;
}
