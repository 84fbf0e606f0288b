import { afterEach, describe, expect, it, vi } from 'vitest';
import { PasteTyper, keyStrokesFor } from '../src/sources/paste-typer.ts';
import { setLogLevel } from '../src/util/logger.ts';

setLogLevel('silent');

describe('PasteTyper: a paste typed on a US keyboard', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('maps characters to set-1 strokes: plain, shifted (Left Shift around), newline as Enter, CRLF as one', () => {
    const { strokes, skipped } = keyStrokesFor('aA1!\r\n \t~é');
    expect(strokes).toEqual([
      [0x1e, 0x9e],
      [0x2a, 0x1e, 0x9e, 0xaa],
      [0x02, 0x82],
      [0x2a, 0x02, 0x82, 0xaa],
      [0x1c, 0x9c],
      [0x39, 0xb9],
      [0x0f, 0x8f],
      [0x2a, 0x29, 0xa9, 0xaa],
    ]);
    expect(skipped).toBe(1); // é has no US key
  });

  it("with the guest's Caps Lock on, letters take the opposite Shift; other keys do not", () => {
    expect(keyStrokesFor('aA1!', true).strokes).toEqual([
      [0x2a, 0x1e, 0x9e, 0xaa],
      [0x1e, 0x9e],
      [0x02, 0x82],
      [0x2a, 0x02, 0x82, 0xaa],
    ]);
  });

  it('types one key per interval; a new paste replaces the rest of the old one', () => {
    vi.useFakeTimers();
    const sent: number[][] = [];
    const typer = new PasteTyper((s) => sent.push(s), { intervalMs: 25 });
    typer.paste('abc');
    expect(sent).toEqual([[0x1e, 0x9e]]);
    vi.advanceTimersByTime(24);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
    typer.paste('z');
    vi.advanceTimersByTime(100);
    expect(sent).toEqual([[0x1e, 0x9e], [0x30, 0xb0], [0x2c, 0xac]]);
    expect(typer.busy).toBe(false);
    expect(typer.typed).toBe(3);
  });

  it('types at most maxChars characters', () => {
    vi.useFakeTimers();
    const sent: number[][] = [];
    new PasteTyper((s) => sent.push(s), { intervalMs: 1, maxChars: 3 }).paste('abcdef');
    vi.advanceTimersByTime(50);
    expect(sent).toHaveLength(3);
  });
});
