/**
 * `npx tsx scripts/build-guests.ts [--out DIR]`: assembles every
 * `guests/<dir>/<name>.asm` with nasm into `<out>/<name>.img` (default out:
 * guests/), a 1.44 MB floppy image padded with zeros.
 *
 * The output depends only on the sources: nasm's flat binary format carries no
 * timestamps and the padding is fixed, so a rebuild is byte-identical to the
 * committed images (test/guests.test.ts checks this). Files under guests/ that
 * are shared between guests are `.inc` files and are not assembled on their own.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (this file lives in scripts/). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the guest sources and the committed images live. */
export const GUESTS_DIR = join(REPO_ROOT, 'guests');

/** Size of a 1.44 MB floppy: 80 cylinders x 2 heads x 18 sectors x 512 bytes. */
export const FLOPPY_SIZE = 1_474_560;

/** One assembled guest. */
export interface BuiltGuest {
  name: string;
  source: string;
  image: string;
  /** Bytes nasm produced before padding. */
  codeBytes: number;
}

/** Throws a message that says how to get nasm when it is missing. */
export function checkNasm(): string {
  try {
    return execFileSync('nasm', ['-v'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('nasm is not installed (expected the "nasm" command on PATH): run scripts/setup-system.sh, which installs it');
  }
}

/** The guest sources, `guests/<dir>/<name>.asm`, sorted by name. */
export function findGuestSources(guestsDir: string = GUESTS_DIR): string[] {
  const sources: string[] = [];
  for (const dir of readdirSync(guestsDir).sort()) {
    const full = join(guestsDir, dir);
    if (!statSync(full).isDirectory()) continue;
    for (const f of readdirSync(full).sort()) if (f.endsWith('.asm')) sources.push(join(full, f));
  }
  const names = sources.map((s) => basename(s, '.asm'));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`two guest sources are both named ${dup}.asm; each image name must be unique`);
  return sources;
}

/**
 * Assembles one source into a padded floppy image at `image`. `defines` are
 * nasm -D symbols for test variants (e.g. FORCE_DISPI); the committed images
 * use none.
 */
export function buildGuest(source: string, image: string, guestsDir: string = GUESTS_DIR, defines: readonly string[] = []): BuiltGuest {
  const work = mkdtempSync(join(tmpdir(), 'guest-'));
  const raw = join(work, 'out.bin');
  try {
    try {
      // Relative paths keep nasm's messages short; -I lets sources include shared .inc files.
      execFileSync(
        'nasm',
        ['-f', 'bin', '-w+all', ...defines.map((d) => `-D${d}`), '-I', `${join(guestsDir, 'common')}/`, '-I', `${dirname(source)}/`, '-o', raw, relative(REPO_ROOT, source)],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`nasm failed on ${relative(REPO_ROOT, source)}:\n${err.stderr?.toString().trim() || err.message}`);
    }
    const code = readFileSync(raw);
    if (code.length > FLOPPY_SIZE) {
      throw new Error(`${relative(REPO_ROOT, source)}: expected at most ${FLOPPY_SIZE} bytes, nasm produced ${code.length}`);
    }
    if (code.length < 512 || code[510] !== 0x55 || code[511] !== 0xaa) {
      throw new Error(`${relative(REPO_ROOT, source)}: expected a boot sector ending in 55 AA, got ${code.length} bytes without it`);
    }
    const padded = new Uint8Array(FLOPPY_SIZE);
    padded.set(code);
    mkdirSync(dirname(image), { recursive: true });
    writeFileSync(image, padded);
    return { name: basename(source, '.asm'), source, image, codeBytes: code.length };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds every guest into `outDir` (default guests/). */
export function buildGuests(outDir: string = GUESTS_DIR, guestsDir: string = GUESTS_DIR): BuiltGuest[] {
  checkNasm();
  return findGuestSources(guestsDir).map((src) => buildGuest(src, join(outDir, `${basename(src, '.asm')}.img`), guestsDir));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const args = process.argv.slice(2);
    let out = GUESTS_DIR;
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--out' && args[i + 1]) out = resolve(args[++i]!);
      else if (args[i] === '-h' || args[i] === '--help') {
        process.stdout.write('Usage: npx tsx scripts/build-guests.ts [--out DIR]\nAssembles guests/*/*.asm into DIR/<name>.img (default guests/).\n');
        process.exit(0);
      } else throw new Error(`unknown argument "${args[i]}" (expected --out DIR)`);
    }
    for (const g of buildGuests(out)) {
      process.stdout.write(`build-guests: ${relative(process.cwd(), g.image)} (${g.codeBytes} bytes of code, padded to ${FLOPPY_SIZE})\n`);
    }
  } catch (e) {
    process.stderr.write(`build-guests: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
