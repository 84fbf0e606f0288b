/**
 * PasteTyper: pastes text into a guest that has only a keyboard, by typing
 * it — US layout, Shift around shifted characters, a newline as Enter —
 * one key every `intervalMs`, slow enough for a BIOS keyboard buffer (15
 * keys) read by a busy guest. A new paste replaces one still being typed.
 */
import { createLogger } from '../util/logger.ts';
import { LEFT_SHIFT, usKeyForChar } from './scancode-codes.ts';

const log = createLogger('paste-typer');

export interface PasteTyperOptions {
  /** Time between two keys (default 20 ms: 50 characters a second). */
  intervalMs?: number;
  /** Longest paste typed, in characters (default 16384); the rest is dropped. */
  maxChars?: number;
}

/**
 * The key strokes that type `text`: each a list of set-1 bytes (make and
 * break, Shift around it). With the guest's Caps Lock on, letters take the
 * opposite Shift so they still come out as written.
 */
export function keyStrokesFor(text: string, capsLock = false): { strokes: number[][]; skipped: number } {
  const strokes: number[][] = [];
  let skipped = 0;
  // CRLF and lone CR are line ends too (a Windows client's clipboard).
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    const k = usKeyForChar(ch);
    if (!k) {
      skipped++;
      continue;
    }
    const press = [k.scancode, k.scancode | 0x80];
    const shift = capsLock && /^[a-z]$/i.test(ch) ? !k.shift : k.shift;
    strokes.push(shift ? [LEFT_SHIFT, ...press, LEFT_SHIFT | 0x80] : press);
  }
  return { strokes, skipped };
}

export class PasteTyper {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private queue: number[][] = [];
  private readonly intervalMs: number;
  private readonly maxChars: number;
  /** Keys typed so far (all pastes), for stats and tests. */
  typed = 0;

  constructor(
    /** Sends one key stroke's scancode bytes to the guest. */
    private readonly send: (scancodes: number[]) => void,
    opts: PasteTyperOptions = {},
    /** Whether the guest's Caps Lock is on now. */
    private readonly capsLock: () => boolean = () => false,
  ) {
    this.intervalMs = opts.intervalMs ?? 20;
    this.maxChars = opts.maxChars ?? 16384;
  }

  /** Whether a paste is still being typed. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Types `text`, replacing a paste still in progress. */
  paste(text: string): void {
    const { strokes, skipped } = keyStrokesFor(text.slice(0, this.maxChars), this.capsLock());
    if (skipped) log.info(`paste: ${skipped} character(s) have no key on a US keyboard and are left out`);
    if (text.length > this.maxChars) log.warn(`paste: ${text.length} characters, typing the first ${this.maxChars}`);
    this.cancel();
    this.queue = strokes;
    this.next();
  }

  /** Stops typing what is left. */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }

  private next(): void {
    this.timer = null;
    const stroke = this.queue.shift();
    if (!stroke) return;
    this.send(stroke);
    this.typed++;
    if (this.queue.length > 0) this.timer = setTimeout(() => this.next(), this.intervalMs);
  }
}
