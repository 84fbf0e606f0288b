/**
 * Secrets from files and the environment, for the relay CLI and the
 * launchers: the first line of a file, and relay keys made on first use in
 * files only their owner can read. Errors name the option and the file,
 * never the contents.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The first line of a secret file (without its newline). */
export function readSecretFile(path: string, option: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${option}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (!line) throw new Error(`${option}: ${path} is empty; expected the secret on its first line`);
  return line;
}

/** A fresh relay key written to `path` (which must not exist), readable by this user only. */
function createKeyFile(path: string): string {
  const key = randomBytes(24).toString('base64url');
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/**
 * The relay key from `file` (created with a fresh key if missing), else from
 * SPICE_RELAY_KEY, else a fresh one in a private temporary file when
 * `fallback` is 'file' or kept in memory when it is 'memory'. `where` says
 * where it is, for the log (never the key itself).
 */
export function resolveRelayKey(
  file: string | null | undefined,
  env: NodeJS.ProcessEnv,
  fallback: 'file' | 'memory',
): { key: string; where: string } {
  if (file) {
    let exists = true;
    try {
      statSync(file);
    } catch {
      exists = false;
    }
    if (!exists) return { key: createKeyFile(file), where: `${file} (created)` };
    const key = readSecretFile(file, '--relay-key-file');
    if (key.length < 16) throw new Error(`--relay-key-file: the key in ${file} has ${key.length} characters; expected at least 16`);
    return { key, where: file };
  }
  if (env.SPICE_RELAY_KEY) return { key: env.SPICE_RELAY_KEY, where: 'SPICE_RELAY_KEY' };
  if (fallback === 'memory') return { key: randomBytes(24).toString('base64url'), where: 'memory (made for this run)' };
  const path = join(mkdtempSync(join(tmpdir(), 'spice-relay-')), 'relay-key');
  return { key: createKeyFile(path), where: path };
}
