/**
 * The Linux guest boots in Node v86: the kernel and initramfs from
 * scripts/build-linux-guest.sh (built first if .cache/ lacks them, which needs
 * apt access to Debian's i386 packages and takes a minute or two), then the
 * readiness marker on the serial console, a 1024x768 framebuffer console, and
 * working shells on both the serial console and tty1 (PS/2 keyboard).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type NodeVm, withV86 } from './helpers/v86-node.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.cache', 'guests', 'linux');

interface Manifest {
  kernelVersion: string;
  cmdline: string;
  memoryMB: number;
  readyMarker: string;
}

/** Types `command` on tty1 until `expected` shows on the serial port (the shell may still be starting). */
async function typeOnTty1(vm: NodeVm, command: string, expected: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    vm.typeText(`${command}\n`);
    try {
      await vm.waitForSerial(expected, 5_000);
      return;
    } catch (e) {
      if (attempt === 3) throw e;
    }
  }
}

describe('linux guest', () => {
  beforeAll(() => {
    // Does nothing when the cached build is current.
    execFileSync('bash', [join(ROOT, 'scripts', 'build-linux-guest.sh')], { stdio: 'inherit', timeout: 10 * 60_000 });
  }, 10 * 60_000);

  it('boots to a shell on the serial console and on the framebuffer console', async () => {
    const manifest = JSON.parse(readFileSync(join(OUT, 'manifest.json'), 'utf8')) as Manifest;
    await withV86(
      {
        bzimage: readFileSync(join(OUT, 'bzImage')),
        initrd: readFileSync(join(OUT, 'initrd.img')),
        cmdline: manifest.cmdline,
        memoryMB: manifest.memoryMB,
      },
      async (vm) => {
        await vm.waitForSerial(manifest.readyMarker, 90_000);
        await vm.waitForSerial(/spice-web-guest:\S*# /, 10_000);
        expect(vm.serialText).toContain(`${manifest.readyMarker} (fb0 1024,768)`);
        expect(vm.mode).toEqual({ graphical: true, width: 1024, height: 768 });

        vm.serialSend('echo hello-$((6*7))\n');
        await vm.waitForSerial('hello-42', 10_000);

        await typeOnTty1(vm, 'echo kbd-$((6*7)) >/dev/ttyS0', 'kbd-42');
      },
    );
  }, 120_000);
});
