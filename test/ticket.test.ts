import { constants, publicEncrypt, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkTicket, decryptTicket, generateTicketKey, passwordsEqual } from '../src/server/ticket.ts';

/** Encrypts `password\0` the way spice-gtk does (OpenSSL RSA-OAEP, SHA-1, MGF1-SHA-1). */
function clientTicket(spki: Uint8Array, password: string): Uint8Array {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return new Uint8Array(
    publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(password + '\0')),
  );
}

describe('ticket', () => {
  it('makes a 162-byte RSA-1024 SPKI with e = 65537 in the form both clients parse', async () => {
    const key = await generateTicketKey();
    expect(key.spki.byteLength).toBe(162);
    expect(Buffer.from(key.spki.subarray(0, 29)).toString('hex')).toBe(
      '30819f300d06092a864886f70d010101050003818d00308189028181' + '00',
    );
    expect(Buffer.from(key.spki.subarray(-5)).toString('hex')).toBe('0203010001');
  });

  it('decrypts a ticket encrypted by OpenSSL as spice-gtk does, and an empty password', async () => {
    const key = await generateTicketKey();
    expect(await decryptTicket(key, clientTicket(key.spki, 'secret'))).toBe('secret');
    expect(await decryptTicket(key, clientTicket(key.spki, ''))).toBe('');
  });

  it('accepts spice-html5 tickets whose leading zero bytes moved to the end', async () => {
    const key = await generateTicketKey();
    // Find a ciphertext that starts with a zero byte (about 1 in 256), then shift it as html5 does.
    let ticket: Uint8Array | null = null;
    for (let i = 0; i < 5000 && !ticket; i++) {
      const t = clientTicket(key.spki, 'pw');
      if (t[0] === 0) ticket = t;
    }
    expect(ticket).not.toBeNull();
    let lead = 0;
    while (ticket![lead] === 0) lead++;
    const shifted = new Uint8Array(128);
    shifted.set(ticket!.subarray(lead));
    expect(await decryptTicket(key, shifted)).toBe('pw');
  });

  it('password rules: none set lets in any ticket that decrypts; set means it must match', async () => {
    const key = await generateTicketKey();
    expect(await checkTicket(key, clientTicket(key.spki, 'anything'), null)).toEqual({ ok: true });
    // spice-server refuses a ticket it cannot decrypt even without a password; so do we.
    expect(await checkTicket(key, new Uint8Array(128), null)).toEqual({
      ok: false,
      reason: 'ticket could not be decrypted with the link key',
    });
    expect(await checkTicket(key, clientTicket(key.spki, 'right'), 'right')).toEqual({ ok: true });
    expect(await checkTicket(key, clientTicket(key.spki, 'wrong'), 'right')).toEqual({ ok: false, reason: 'wrong password' });
    const garbage = await checkTicket(key, new Uint8Array(128).fill(7), 'right');
    expect(garbage.ok).toBe(false);
  });

  it('compares passwords in constant time by their digests: equal, unequal, prefixes and lengths', async () => {
    expect(await passwordsEqual('correct horse', 'correct horse')).toBe(true);
    expect(await passwordsEqual('correct horse', 'correct hors')).toBe(false);
    expect(await passwordsEqual('correct horse', 'correct horsE')).toBe(false);
    expect(await passwordsEqual('', '')).toBe(true);
    expect(await passwordsEqual('é', 'e\u0301')).toBe(false); // bytes, not looks
  });
});
