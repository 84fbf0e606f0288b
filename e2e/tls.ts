/**
 * Helpers for the TLS specs: a Chromium that trusts exactly the test server's
 * key, and the environment under which spice-gtk trusts the test CA.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '../playwright.config.ts';
import { spkiSha256 } from '../src/relay/tls-listener.ts';

/**
 * A separate system Chromium that accepts the certificate with this public
 * key, and no other certificate error (rather than --ignore-certificate-errors).
 */
export function launchTrustingChromium(cert: Buffer): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spkiSha256(cert)}`],
  });
}

/** An empty HOME, so no ~/.spicec/spice_truststore.pem of this machine takes part. */
export function emptyHome(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'spice-client-home-'));
}

/**
 * Environment for spice-gtk clients. spicy-screenshot has no --spice-ca-file:
 * with no CA file set, spice-gtk loads OpenSSL's default trust locations, and
 * OpenSSL reads SSL_CERT_FILE for them — so the chain and the host name are
 * still verified, against the test CA. `caFile` null: only the system's CAs.
 */
export function spiceGtkEnv(home: string, caFile: string | null): NodeJS.ProcessEnv {
  return { HOME: home, SSL_CERT_FILE: caFile ?? undefined, SSL_CERT_DIR: undefined };
}
