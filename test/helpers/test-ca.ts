/**
 * A throw-away certificate authority and a server certificate it signed, made
 * with the `openssl` command in a temporary directory, for tests of the relay's
 * TLS. Nothing outside the directory is touched; `remove()` deletes it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Subject of the server certificate, in spice-gtk's `--spice-host-subject` form. */
export const TEST_SERVER_SUBJECT = 'O=spice-web-server test,CN=spice-web-server test server';

export interface TestCa {
  dir: string;
  /** The CA certificate (what clients trust), as a file and as PEM bytes. */
  caFile: string;
  caCert: Buffer;
  /** The server certificate, signed by the CA, with the requested IP addresses as subjectAltName. */
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  remove(): Promise<void>;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args[0]}: expected success, got ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

/** Makes a CA and a server certificate valid for `ips` (e.g. 127.0.0.1 and a namespace address). */
export async function makeTestCa(ips: readonly string[]): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'spice-test-ca-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(
      ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=spice-web-server throw-away test CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      dir,
    );
    await openssl(['req', ...ec, '-keyout', 'key.pem', '-out', 'server.csr', '-subj', `/${TEST_SERVER_SUBJECT.replace(',', '/')}`], dir);
    await writeFile(
      join(dir, 'server.ext'),
      `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\n` +
        'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
    );
    await openssl(
      ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'server.ext'],
      dir,
    );
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    return {
      dir,
      caFile: join(dir, 'ca.pem'),
      caCert: await readFile(join(dir, 'ca.pem')),
      certFile,
      keyFile,
      cert: await readFile(certFile),
      key: await readFile(keyFile),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
