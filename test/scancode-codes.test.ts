import { describe, expect, it } from 'vitest';
import { domKeyForScancode } from '../src/sources/scancode-codes.ts';

describe('set-1 scancodes to DOM keys', () => {
  it('maps letters, digits, punctuation, function keys and E0-prefixed keys; ignores the break bit', () => {
    expect(domKeyForScancode([0x1e])).toEqual({ code: 'KeyA', key: 'a', shiftedKey: 'A' });
    expect(domKeyForScancode([0x1e | 0x80])?.code).toBe('KeyA');
    expect(domKeyForScancode([0x0b])).toEqual({ code: 'Digit0', key: '0', shiftedKey: ')' });
    expect(domKeyForScancode([0x02])).toEqual({ code: 'Digit1', key: '1', shiftedKey: '!' });
    expect(domKeyForScancode([0x1c])?.code).toBe('Enter');
    expect(domKeyForScancode([0x39])?.key).toBe(' ');
    expect(domKeyForScancode([0x3b])?.code).toBe('F1');
    expect(domKeyForScancode([0x58])?.code).toBe('F12');
    expect(domKeyForScancode([0xe0, 0x48])?.code).toBe('ArrowUp');
    expect(domKeyForScancode([0xe0, 0x1d])?.code).toBe('ControlRight');
    expect(domKeyForScancode([0x1d])?.code).toBe('ControlLeft');
    expect(domKeyForScancode([])).toBeNull();
    expect(domKeyForScancode([0x7f])).toBeNull();
  });
});
