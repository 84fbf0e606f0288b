/**
 * The committed floppy guests: they rebuild byte for byte, and booted in v86
 * they show what guests/README.md promises and react to keyboard and mouse.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuest, buildGuests, checkNasm, GUESTS_DIR } from '../scripts/build-guests.ts';
import { GUESTS, getGuest, guestFileUrls } from '../src/sources/v86/guest-catalog.ts';
import { keyPress, type NodeVm, type Picture, scancodeOf, withV86 } from './helpers/v86-node.ts';

const GRAPHICS_IMG = join(GUESTS_DIR, 'graphics.img');
const TEXT_IMG = join(GUESTS_DIR, 'text.img');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'guests-test-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('build', () => {
  it('rebuilds every committed image byte for byte', () => {
    // No skip without nasm: checkNasm() fails saying to run scripts/setup-system.sh.
    checkNasm();
    const built = buildGuests(work);
    expect(built.map((g) => g.name).sort()).toEqual(['graphics', 'text']);
    const committed = readdirSync(GUESTS_DIR).filter((f) => f.endsWith('.img')).sort();
    expect(committed).toEqual(built.map((g) => `${g.name}.img`).sort());
    for (const g of built) {
      const fresh = readFileSync(g.image);
      const mine = readFileSync(join(GUESTS_DIR, `${g.name}.img`));
      expect(fresh.length, g.name).toBe(1_474_560);
      expect(fresh.equals(mine), `${g.name}.img differs from a rebuild: run npx tsx scripts/build-guests.ts`).toBe(true);
    }
  });
});

describe('catalog', () => {
  it('points at the committed images and the built Linux files', () => {
    expect(GUESTS.map((g) => g.name)).toEqual(['graphics', 'text', 'linux']);
    expect(guestFileUrls(getGuest('graphics'))).toEqual(['/guests/graphics.img']);
    expect(guestFileUrls(getGuest('linux'))).toEqual(['/.cache/guests/linux/bzImage', '/.cache/guests/linux/initrd.img']);
    expect(getGuest('linux').memoryMB).toBeGreaterThanOrEqual(128);
    expect(() => getGuest('toString')).toThrow(/unknown guest "toString": expected one of graphics, text, linux/);
  });
});

describe('text guest', () => {
  it('shows its known screen, places the cursor and echoes typed keys', async () => {
    await withV86({ fda: readFileSync(TEXT_IMG) }, async (vm) => {
      await vm.waitForText('SPICE-WEB TEXT GUEST');
      await vm.waitFor(() => vm.cursor.row === 20 && vm.cursor.col === 13, 'the cursor at row 20, column 13');
      const rows = vm.textScreen().map((r) => r.trimEnd());
      expect(rows[0]).toBe('  SPICE-WEB TEXT GUEST - 80x25 colour text mode');
      expect(rows[2]).toBe('  07 light grey on black: The quick brown fox jumps over the lazy dog.');
      expect(rows[3]).toBe('  4E yellow on red');
      expect(rows[6]).toBe('  8C BLINKING light red on black');
      expect(rows[8]).toBe('  FG:  0123456789ABCDEF');
      expect(rows[10]).toBe('  CHARACTER SET 00-FF:');
      expect(rows[12]).toBe('    20:  !"#$%&\'()*+,-./0123456789:;<=>?');
      expect(rows[13]).toBe('    40: @ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_');
      expect(rows[20]).toBe('  Type here>');
      expect(rows[24]).toContain('Typed keys are echoed at the cursor');

      vm.sendScancodes([...keyPress('a'), ...keyPress('b'), ...keyPress('x')]);
      await vm.waitForText('Type here> abx');
      vm.sendScancodes(keyPress('backspace'));
      await vm.waitFor(() => vm.textScreen()[20]!.trimEnd() === '  Type here> ab', 'backspace to erase the x');
      await vm.waitFor(() => vm.cursor.row === 20 && vm.cursor.col === 15, 'the cursor after "ab"');
      vm.sendScancodes([...keyPress('enter'), ...keyPress('b')]);
      await vm.waitFor(() => vm.textScreen()[21]!.trimEnd() === '  b', '"b" on the next row');
      await vm.waitFor(() => vm.cursor.row === 21 && vm.cursor.col === 3, 'the cursor after the new row');
    });
  });
});

/** Red, green, blue of one pixel. */
function rgb(p: Picture, x: number, y: number): [number, number, number] {
  const i = (y * p.width + x) * 4;
  return [p.rgba[i]!, p.rgba[i + 1]!, p.rgba[i + 2]!];
}

// The guest's colours (EGA palette) and layout at 1024x768 (scale 2: character cells of 16x32 pixels).
const BLUE: [number, number, number] = [0x00, 0x00, 0xaa];
const WHITE: [number, number, number] = [0xff, 0xff, 0xff];
const YELLOW: [number, number, number] = [0xff, 0xff, 0x55];
const LGREEN: [number, number, number] = [0x55, 0xff, 0x55];
const LRED: [number, number, number] = [0xff, 0x55, 0x55];
const LBLUE: [number, number, number] = [0x55, 0x55, 0xff];
const BLACK: [number, number, number] = [0, 0, 0];
const cellCentre = (col: number, row: number): [number, number] => [col * 16 + 8, row * 32 + 16];
/** Colours of the eight scancode bit cells (row 2, columns 6-13, most significant first). */
const bitCells = (p: Picture): Array<[number, number, number]> =>
  Array.from({ length: 8 }, (_, i) => rgb(p, ...cellCentre(6 + i, 2)));
const expectedBits = (code: number): Array<[number, number, number]> =>
  Array.from({ length: 8 }, (_, i) => ((code << i) & 0x80 ? LGREEN : BLACK));
/** The first blank of each button label: " L " at column 8, " M " at 12, " R " at 16, row 5. */
const buttonColours = (p: Picture): Array<[number, number, number]> => [8, 12, 16].map((c) => rgb(p, ...cellCentre(c, 5)));

async function bootGraphics(vm: NodeVm): Promise<string> {
  await vm.waitFor(() => vm.mode.graphical && vm.mode.width === 1024 && vm.mode.height === 768, 'VBE 1024x768', 15_000);
  return vm.waitForStablePicture();
}

/** Waits for the picture to change from `before`, then to settle. */
async function changedFrom(vm: NodeVm, before: string, what: string): Promise<string> {
  await vm.waitFor(() => vm.pictureHash() !== before, `the picture to change after ${what}`);
  return vm.waitForStablePicture();
}

/** Input used twice: step by step here, all at once for the determinism check. */
const SCRIPT: Array<(vm: NodeVm) => void> = [
  (vm) => vm.sendScancodes([scancodeOf('x')]),
  (vm) => vm.sendScancodes([scancodeOf('x') | 0x80]),
  (vm) => vm.mouseDelta(40, -30),
  (vm) => vm.mouseButtons(true, false, false),
  (vm) => vm.mouseButtons(false, false, false),
  (vm) => vm.mouseDelta(-100, 50),
  (vm) => vm.mouseButtons(false, true, true),
];

describe('graphics guest', () => {
  let finalHash = '';

  it('starts in VBE 1024x768x32 and reacts to keys, motion and buttons', async () => {
    await withV86({ fda: readFileSync(GRAPHICS_IMG) }, async (vm) => {
      let h = await bootGraphics(vm);
      expect(vm.sizeEvents.at(-1)).toEqual([1024, 768, 32]);
      let p = vm.picture();
      expect(rgb(p, 1000, 700)).toEqual(BLUE);
      expect(rgb(p, 512, 384)).toEqual(WHITE); // crosshair centre: the pointer starts mid-screen
      expect(bitCells(p)).toEqual(expectedBits(0));

      SCRIPT[0]!(vm); // x pressed: make code 2Dh
      h = await changedFrom(vm, h, 'a key press');
      expect(bitCells(vm.picture())).toEqual(expectedBits(0x2d));
      SCRIPT[1]!(vm); // released: break code ADh
      h = await changedFrom(vm, h, 'a key release');
      expect(bitCells(vm.picture())).toEqual(expectedBits(0xad));

      SCRIPT[2]!(vm); // right 40, down 30 (PS/2 dy is up-positive)
      h = await changedFrom(vm, h, 'mouse motion');
      p = vm.picture();
      expect(rgb(p, 552, 414)).toEqual(WHITE);
      expect(rgb(p, 512, 384)).toEqual(BLUE);

      SCRIPT[3]!(vm); // left button down: its box turns red, the crosshair yellow
      h = await changedFrom(vm, h, 'a click');
      p = vm.picture();
      expect(buttonColours(p)).toEqual([LRED, BLACK, BLACK]);
      expect(rgb(p, 552, 414)).toEqual(YELLOW);
      SCRIPT[4]!(vm);
      h = await changedFrom(vm, h, 'a button release');
      expect(buttonColours(vm.picture())).toEqual([BLACK, BLACK, BLACK]);

      SCRIPT[5]!(vm); // left 100 (negative: X sign bit), up 50
      h = await changedFrom(vm, h, 'mouse motion with negative x');
      expect(rgb(vm.picture(), 452, 364)).toEqual(WHITE);

      SCRIPT[6]!(vm); // middle and right held
      h = await changedFrom(vm, h, 'two buttons');
      expect(buttonColours(vm.picture())).toEqual([BLACK, LGREEN, LBLUE]);
      finalHash = h;
    });
  });

  it('shows the same picture for the same input, however it is timed', async () => {
    expect(finalHash, 'needs the previous test').not.toBe('');
    await withV86({ fda: readFileSync(GRAPHICS_IMG) }, async (vm) => {
      await bootGraphics(vm);
      for (const step of SCRIPT) step(vm); // all at once this time
      await vm.waitFor(() => vm.pictureHash() === finalHash, 'the picture of the same input history');
    });
  });

  it('switches modes on the keys 1-4', async () => {
    await withV86({ fda: readFileSync(GRAPHICS_IMG) }, async (vm) => {
      await bootGraphics(vm);
      const sizesAfter = (n: number): Array<readonly [number, number, number]> => vm.sizeEvents.slice(n);

      let n = vm.sizeEvents.length;
      vm.sendScancodes(keyPress('1'));
      await vm.waitForText('SPICE-WEB GFX  80x25 TEXT');
      expect(sizesAfter(n)).toContainEqual([80, 25, 0]);
      expect(vm.mode).toEqual({ graphical: false, width: 80, height: 25 });
      await vm.waitForText('EVENTS 0002'); // make and break of 1, applied in order across the switch

      n = vm.sizeEvents.length;
      vm.sendScancodes(keyPress('3'));
      await vm.waitFor(() => vm.mode.graphical && vm.mode.width === 1024, 'VBE 1024x768 again');
      expect(sizesAfter(n)).toContainEqual([1024, 768, 32]);
      expect(rgb(vm.picture(), 1000, 700)).toEqual(BLUE);

      n = vm.sizeEvents.length;
      vm.sendScancodes(keyPress('2'));
      await vm.waitFor(() => vm.mode.graphical && vm.mode.width === 320 && vm.mode.height === 200, 'mode 13h');
      expect(sizesAfter(n).at(-1)).toEqual([320, 200, 8]);
      await vm.waitForStablePicture();
      expect(rgb(vm.picture(), 300, 190)).toEqual([0, 0, 0x2a << 2]); // the 6-bit VGA DAC's blue

      n = vm.sizeEvents.length;
      vm.sendScancodes(keyPress('4'));
      await vm.waitFor(() => vm.mode.graphical && vm.mode.width === 1920 && vm.mode.height === 1080, 'VBE 1920x1080');
      expect(sizesAfter(n)).toContainEqual([1920, 1080, 32]);
      await vm.waitForStablePicture();
      expect(rgb(vm.picture(), 1900, 1060)).toEqual(BLUE);
    });
  });

  it('sets the VBE modes through the Bochs DISPI ports when the mode list lacks them', async () => {
    // A test build that always takes the DISPI path (-DFORCE_DISPI).
    const image = join(work, 'graphics-dispi.img');
    buildGuest(join(GUESTS_DIR, 'graphics', 'graphics.asm'), image, GUESTS_DIR, ['FORCE_DISPI']);
    await withV86({ fda: readFileSync(image) }, async (vm) => {
      await bootGraphics(vm);
      expect(rgb(vm.picture(), 1000, 700)).toEqual(BLUE);
      vm.sendScancodes(keyPress('4'));
      await vm.waitFor(() => vm.mode.graphical && vm.mode.width === 1920, 'DISPI 1920x1080');
      await vm.waitForStablePicture();
      const p = vm.picture();
      expect(rgb(p, 1900, 1060)).toEqual(BLUE);
      expect(rgb(p, 512, 384)).toEqual(WHITE); // the pointer keeps its position across modes
    });
  });
});
