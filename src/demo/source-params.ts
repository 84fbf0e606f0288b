/**
 * Reads what to serve from the demo page's query string:
 * `fda=URL` | `hda=URL` | `cdrom=URL` | `bzimage=URL&initrd=URL&cmdline=…` boot a VM
 * with those images (`memory=MB`, `bios=URL`, `vgabios=URL` optional);
 * `vm=bios` boots the BIOS alone; nothing: the test pattern.
 */
import type { SourceSpec } from '../host/session-host.ts';

/** Where setup puts Debian's SeaBIOS (scripts/fetch-bios.ts); never committed. */
export const DEFAULT_BIOS_URL = '/.cache/bios/bios.bin';
export const DEFAULT_VGA_BIOS_URL = '/.cache/bios/vgabios-stdvga.bin';

export function sourceFromParams(params: URLSearchParams): SourceSpec {
  const image = (name: string): { url: string } | undefined => {
    const v = params.get(name);
    return v ? { url: v } : undefined;
  };
  const fda = image('fda');
  const hda = image('hda');
  const cdrom = image('cdrom');
  const bzimage = image('bzimage');
  if (!fda && !hda && !cdrom && !bzimage && params.get('vm') !== 'bios') return { kind: 'test-pattern' };
  const memoryMB = Number(params.get('memory') ?? (bzimage ? 128 : 64));
  if (!Number.isInteger(memoryMB) || memoryMB < 16 || memoryMB > 2048) {
    throw new Error(`memory: expected a whole number of MiB from 16 to 2048, got "${params.get('memory')}"`);
  }
  return {
    kind: 'v86',
    vm: {
      bios: { url: params.get('bios') ?? DEFAULT_BIOS_URL },
      vgaBios: { url: params.get('vgabios') ?? DEFAULT_VGA_BIOS_URL },
      fda,
      hda,
      cdrom,
      bzimage,
      initrd: image('initrd'),
      cmdline: params.get('cmdline') ?? undefined,
      memoryMB,
    },
  };
}
