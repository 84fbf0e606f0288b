/**
 * What one client holds down (spice-server's keyboard state in
 * inputs-channel.cpp): the keys it pressed and the buttons it holds, so that
 * they can be released when the client goes away. Otherwise the source keeps
 * them pressed for whoever comes next.
 */
import { MouseButton, mouseButtonMask } from '../protocol/constants.ts';

const E0 = 0xe0;
const E1 = 0xe1;
const BREAK = 0x80;
/** Key ids: the make code, plus this for E0-prefixed keys. */
const EXTENDED = 0x100;

/** Keys held by one client, as PC AT set-1 make codes (E0-prefixed ones apart). */
export class KbdState {
  /** At most 256 ids: 128 plain and 128 E0 make codes. */
  private readonly held = new Set<number>();

  /**
   * Records one key's scancode bytes as they go to the source: a make code
   * (bit 7 clear) holds the key, a break code releases it. E1 sequences (Pause)
   * have no break and are never held.
   */
  push(scancode: readonly number[]): void {
    const first = scancode[0];
    if (first === undefined || first === E1) return;
    const extended = first === E0;
    const code = extended ? scancode[1] : first;
    if (code === undefined) return;
    const id = (extended ? EXTENDED : 0) | (code & ~BREAK);
    if (code & BREAK) this.held.delete(id);
    else this.held.add(id);
  }

  /** The break codes of every held key (E0 keys with their prefix); forgets them. */
  releaseAll(): number[][] {
    const out: number[][] = [];
    for (const id of this.held) {
      const brk = (id & 0xff) | BREAK;
      out.push(id & EXTENDED ? [E0, brk] : [brk]);
    }
    this.held.clear();
    return out;
  }
}

/** Buttons that stay down until released (the wheel's UP and DOWN do not). */
const HOLDABLE = [MouseButton.LEFT, MouseButton.MIDDLE, MouseButton.RIGHT, MouseButton.SIDE, MouseButton.EXTRA] as const;

/** Mouse buttons held by one client, from its MOUSE_PRESS / MOUSE_RELEASE. */
export class MouseButtonState {
  private mask = 0;

  press(button: number): void {
    if ((HOLDABLE as readonly number[]).includes(button)) this.mask |= mouseButtonMask(button);
  }

  release(button: number): void {
    this.mask &= ~mouseButtonMask(button);
  }

  /** A release for each held button, with the mask left after it; forgets them. */
  releaseAll(): Array<{ button: number; buttons: number }> {
    const out: Array<{ button: number; buttons: number }> = [];
    for (const button of HOLDABLE) {
      if (!(this.mask & mouseButtonMask(button))) continue;
      this.mask &= ~mouseButtonMask(button);
      out.push({ button, buttons: this.mask });
    }
    return out;
  }
}
