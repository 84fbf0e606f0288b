/**
 * Ticket authentication (spice-wire.md §2.3–2.4): an RSA-1024 key made with
 * WebCrypto; clients encrypt `password\0` with RSA-OAEP (SHA-1, MGF1-SHA-1).
 */
import { LINK_PUBKEY_SIZE, LINK_TICKET_SIZE } from '../protocol/link.ts';
import { MAX_PASSWORD_LENGTH } from '../protocol/constants.ts';

export interface TicketKey {
  /** DER SubjectPublicKeyInfo, exactly 162 bytes for a 1024-bit key with e = 65537. */
  readonly spki: Uint8Array;
  readonly privateKey: CryptoKey;
}

/** Makes the link key. Both clients need a valid key even when no password is set. */
export async function generateTicketKey(): Promise<TicketKey> {
  const pair = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
    true,
    ['encrypt', 'decrypt'],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  if (spki.byteLength !== LINK_PUBKEY_SIZE) {
    throw new Error(`RSA-1024 SPKI: expected ${LINK_PUBKEY_SIZE} bytes, WebCrypto gave ${spki.byteLength}`);
  }
  return { spki, privateKey: pair.privateKey };
}

async function tryDecrypt(key: CryptoKey, ticket: Uint8Array<ArrayBuffer>): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, key, ticket));
  } catch {
    return null;
  }
}

/**
 * Decrypts a 128-byte ticket to the password text (up to the first NUL).
 * spice-html5 drops leading zero bytes of the ciphertext and pads at the end
 * instead (about 1 ticket in 256); when decryption fails and the ticket ends in
 * zeros, those zeros are moved to the front and decryption is tried again.
 * Returns null when the ticket cannot be decrypted at all.
 */
export async function decryptTicket(key: TicketKey, ticket: Uint8Array): Promise<string | null> {
  if (ticket.byteLength !== LINK_TICKET_SIZE) return null;
  let plain = await tryDecrypt(key.privateKey, ticket.slice());
  if (!plain) {
    let zeros = 0;
    while (zeros < ticket.byteLength && ticket[ticket.byteLength - 1 - zeros] === 0) zeros++;
    for (let k = 1; k <= zeros && !plain; k++) {
      const shifted = new Uint8Array(LINK_TICKET_SIZE);
      shifted.set(ticket.subarray(0, LINK_TICKET_SIZE - k), k);
      plain = await tryDecrypt(key.privateKey, shifted);
    }
  }
  if (!plain) return null;
  const nul = plain.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? plain.subarray(0, nul) : plain);
}

/** Encrypts a password as the clients do (for tests and our own tools). */
export async function encryptTicket(spki: Uint8Array, password: string): Promise<Uint8Array> {
  const pub = await crypto.subtle.importKey('spki', spki.slice(), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['encrypt']);
  const text = new TextEncoder().encode(password);
  const plain = new Uint8Array(text.byteLength + 1);
  plain.set(text);
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, pub, plain));
}

export type TicketVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Compares two passwords in constant time: both are hashed first, so neither
 * their contents nor their lengths show in the time taken.
 */
export async function passwordsEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest('SHA-256', enc.encode(a)),
    crypto.subtle.digest('SHA-256', enc.encode(b)),
  ]);
  const x = new Uint8Array(ha);
  const y = new Uint8Array(hb);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/**
 * The password rule on a decrypted ticket (null: it did not decrypt). A
 * ticket that does not decrypt is refused even when no password is set, as
 * spice-server does; with no password any decryptable ticket passes.
 */
export async function checkPassword(given: string | null, password: string | null): Promise<TicketVerdict> {
  if (given === null) return { ok: false, reason: 'ticket could not be decrypted with the link key' };
  if (password === null || password === '') return { ok: true };
  if (given.length > MAX_PASSWORD_LENGTH) return { ok: false, reason: `password longer than ${MAX_PASSWORD_LENGTH}` };
  if (!(await passwordsEqual(given, password))) return { ok: false, reason: 'wrong password' };
  return { ok: true };
}

/** Decrypts a ticket and applies {@link checkPassword}. */
export async function checkTicket(key: TicketKey, ticket: Uint8Array, password: string | null): Promise<TicketVerdict> {
  return checkPassword(await decryptTicket(key, ticket), password);
}
