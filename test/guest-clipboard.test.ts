import { describe, expect, it } from 'vitest';
import { MAX_CLIP_LINE, SerialLineReader, parseClipLine } from '../src/sources/v86/guest-clipboard.ts';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe("the Linux guest's spice-clip lines (COM2)", () => {
  it('decodes CLIP lines to UTF-8 text; anything else is not a copy', () => {
    expect(parseClipLine(`CLIP ${b64('café ✓\nline 2')}`)).toBe('café ✓\nline 2');
    expect(parseClipLine('CLIP ')).toBe('');
    expect(parseClipLine('hello')).toBeNull();
    expect(parseClipLine('CLIP not*base64')).toBeNull();
    expect(parseClipLine(`CLIP ${Buffer.from([0xff, 0xfe]).toString('base64')}`)).toBeNull(); // not UTF-8
  });

  it('splits bytes into lines, drops CR, and drops a line longer than the limit whole', () => {
    const lines: string[] = [];
    const r = new SerialLineReader((l) => lines.push(l));
    for (const c of 'CLIP YQ==\r\nnext\n') r.push(c.charCodeAt(0));
    for (let i = 0; i < MAX_CLIP_LINE + 10; i++) r.push(0x41);
    r.push(10);
    for (const c of 'after\n') r.push(c.charCodeAt(0));
    expect(lines).toEqual(['CLIP YQ==', 'next', 'after']);
  });
});
