/**
 * `npx tsx scripts/fetch-bios.ts`: puts SeaBIOS (`bios.bin`) and its standard-VGA
 * BIOS (`vgabios-stdvga.bin`) into `.cache/bios/`, where the page and the tests
 * load them from.
 *
 * The files are copied from Debian's installed `seabios` package
 * (/usr/share/seabios) when present, otherwise the package is downloaded with
 * `apt-get download` into a temporary directory and unpacked with `dpkg-deb -x`.
 * Nothing is done when both files are already cached. BIOS files are never
 * committed (`.cache/` is git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (this file lives in scripts/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the cached BIOS files live. */
export const BIOS_DIR = join(REPO_ROOT, '.cache', 'bios');

/** The file names we need, as named in Debian's seabios package. */
export const BIOS_FILES = ['bios.bin', 'vgabios-stdvga.bin'] as const;

/** Where Debian's seabios package installs its images. */
const SYSTEM_SEABIOS_DIR = '/usr/share/seabios';

/** What {@link ensureBios} did, for callers that report it. */
export interface EnsureBiosResult {
  /** `cached`: nothing to do; `copied`: from /usr/share/seabios; `downloaded`: via apt-get download. */
  action: 'cached' | 'copied' | 'downloaded';
  biosPath: string;
  vgaBiosPath: string;
}

function allPresent(dir: string): boolean {
  return BIOS_FILES.every((f) => existsSync(join(dir, f)) && statSync(join(dir, f)).size > 0);
}

function copyFrom(sourceDir: string, targetDir: string): void {
  mkdirSync(targetDir, { recursive: true });
  for (const f of BIOS_FILES) copyFileSync(join(sourceDir, f), join(targetDir, f));
}

/** Downloads Debian's seabios package and unpacks it; returns the directory holding the images. */
function downloadSeabios(work: string): string {
  try {
    execFileSync('apt-get', ['download', 'seabios'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`apt-get download seabios failed: ${err.stderr?.toString().trim() || err.message}`);
  }
  const deb = readdirSync(work).find((f) => f.startsWith('seabios_') && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download seabios succeeded but no seabios_*.deb appeared in ${work}`);
  const root = join(work, 'root');
  execFileSync('dpkg-deb', ['-x', join(work, deb), root], { stdio: ['ignore', 'pipe', 'pipe'] });
  const dir = join(root, 'usr', 'share', 'seabios');
  if (!allPresent(dir)) {
    throw new Error(`${deb} does not contain ${BIOS_FILES.join(' and ')} under usr/share/seabios`);
  }
  return dir;
}

/**
 * Makes sure both BIOS images are in {@link BIOS_DIR} (or `targetDir`).
 * `systemDir` is where an installed seabios package keeps them (overridable for tests).
 * Throws with a message naming both attempted sources when neither works.
 */
export function ensureBios(targetDir: string = BIOS_DIR, systemDir: string = SYSTEM_SEABIOS_DIR): EnsureBiosResult {
  const result = (action: EnsureBiosResult['action']): EnsureBiosResult => ({
    action,
    biosPath: join(targetDir, BIOS_FILES[0]),
    vgaBiosPath: join(targetDir, BIOS_FILES[1]),
  });
  if (allPresent(targetDir)) return result('cached');
  if (allPresent(systemDir)) {
    copyFrom(systemDir, targetDir);
    return result('copied');
  }
  const work = mkdtempSync(join(tmpdir(), 'seabios-'));
  try {
    copyFrom(downloadSeabios(work), targetDir);
    return result('downloaded');
  } catch (e) {
    throw new Error(
      `no SeaBIOS available: expected ${BIOS_FILES.join(' and ')} in ${systemDir} ` +
        `(run scripts/setup-system.sh, which installs the seabios package) or a working ` +
        `"apt-get download seabios"; that failed with: ${(e as Error).message}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const r = ensureBios();
    const what =
      r.action === 'cached'
        ? 'already present'
        : r.action === 'copied'
          ? `copied from ${SYSTEM_SEABIOS_DIR}`
          : 'downloaded from the Debian seabios package';
    process.stdout.write(`fetch-bios: ${r.biosPath} and ${r.vgaBiosPath}: ${what}\n`);
  } catch (e) {
    process.stderr.write(`fetch-bios: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
