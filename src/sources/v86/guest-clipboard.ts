/**
 * The Linux guest's clipboard helper line protocol on its second serial port
 * (COM2, /dev/ttyS1): the guest's `spice-clip` (scripts/linux-guest/spice-clip)
 * writes `CLIP <base64 of the UTF-8 text>\n`; the page offers that text to
 * every client. One line per copy; anything else on the port is ignored.
 */

/** Longest line taken (base64 of up to 1 MiB of text); a longer one is dropped whole. */
export const MAX_CLIP_LINE = Math.ceil((1024 * 1024) / 3) * 4 + 8;

const PREFIX = 'CLIP ';

/** The text a `CLIP` line carries, or null when the line is not one (or not valid base64 / UTF-8). */
export function parseClipLine(line: string): string | null {
  if (!line.startsWith(PREFIX)) return null;
  const b64 = line.slice(PREFIX.length).trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** Collects the port's bytes into lines (CR dropped), dropping lines longer than {@link MAX_CLIP_LINE}. */
export class SerialLineReader {
  private line = '';
  private overflow = false;

  constructor(private readonly onLine: (line: string) => void) {}

  push(byte: number): void {
    if (byte === 10) {
      if (!this.overflow) this.onLine(this.line);
      this.line = '';
      this.overflow = false;
    } else if (byte !== 13 && !this.overflow) {
      if (this.line.length >= MAX_CLIP_LINE) {
        this.overflow = true;
        this.line = '';
      } else this.line += String.fromCharCode(byte);
    }
  }
}
