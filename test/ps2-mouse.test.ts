/** One pointer move becomes a bounded number of PS/2 packets for v86, whatever the input. */
import { describe, expect, it } from 'vitest';
import { PS2_MAX_DELTA, PS2_MAX_MOVE, PS2_MAX_PACKETS_PER_MOVE, ps2MovePackets } from '../src/sources/v86/ps2-mouse.ts';

const sum = (packets: Array<[number, number]>): [number, number] => packets.reduce<[number, number]>((s, [x, y]) => [s[0] + x, s[1] + y], [0, 0]);

describe('ps2MovePackets', () => {
  it('small moves are one packet; long ones split evenly into packets of at most 255 that add up to the move', () => {
    expect(ps2MovePackets(3, -4)).toEqual([[3, -4]]);
    expect(ps2MovePackets(0, 0)).toEqual([[0, 0]]);
    const p = ps2MovePackets(1000, -300);
    expect(p).toHaveLength(4);
    expect(sum(p)).toEqual([1000, -300]);
    expect(p.every(([x, y]) => Math.abs(x) <= PS2_MAX_DELTA && Math.abs(y) <= PS2_MAX_DELTA)).toBe(true);
  });

  it('huge or invalid moves are cut to the per-move bound: never more than 8 packets', () => {
    for (const [dx, dy] of [
      [0xffffffff, 0xffffffff],
      [-0x80000000, 0x7fffffff],
      [1e300, -1e300],
      [Infinity, NaN],
      [PS2_MAX_MOVE + 1, 0],
    ] as const) {
      const p = ps2MovePackets(dx, dy);
      expect(p.length, `${dx},${dy}`).toBeLessThanOrEqual(PS2_MAX_PACKETS_PER_MOVE);
      expect(p.every(([x, y]) => Math.abs(x) <= PS2_MAX_DELTA && Math.abs(y) <= PS2_MAX_DELTA)).toBe(true);
    }
    expect(sum(ps2MovePackets(0xffffffff, -0xffffffff))).toEqual([PS2_MAX_MOVE, -PS2_MAX_MOVE]);
    expect(sum(ps2MovePackets(Infinity, NaN))).toEqual([0, 0]);
    // A move across a 1920-pixel screen still arrives whole.
    expect(sum(ps2MovePackets(1919, -1079))).toEqual([1919, -1079]);
  });
});
