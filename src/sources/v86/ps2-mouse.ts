/**
 * Turning one pointer move into PS/2 mouse packets for v86. A packet carries
 * -256..255 per axis (v86 wraps larger deltas), so a long move becomes several
 * packets — but never more than {@link PS2_MAX_PACKETS_PER_MOVE}, whatever the
 * input: each packet is work for the emulator and an interrupt for the guest.
 */

/** Largest movement one PS/2 mouse packet carries. */
export const PS2_MAX_DELTA = 255;

/** Most packets one move becomes: 8 × 255 px crosses a 1920-pixel screen. */
export const PS2_MAX_PACKETS_PER_MOVE = 8;

/** Longest move, per axis, that the packets carry; longer ones are cut to it. */
export const PS2_MAX_MOVE = PS2_MAX_DELTA * PS2_MAX_PACKETS_PER_MOVE;

const bound = (v: number): number => (Number.isFinite(v) ? Math.max(-PS2_MAX_MOVE, Math.min(PS2_MAX_MOVE, Math.trunc(v))) : 0);

/**
 * The packets of one move of (dx, dy) pixels, y growing downwards as in SPICE:
 * evenly split steps that add up to the move (bounded to ±{@link PS2_MAX_MOVE}).
 * At least one packet, so a zero move still reports the buttons.
 */
export function ps2MovePackets(dx: number, dy: number): Array<[number, number]> {
  const x = bound(dx);
  const y = bound(dy);
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x), Math.abs(y)) / PS2_MAX_DELTA));
  const packets: Array<[number, number]> = [];
  let sentX = 0;
  let sentY = 0;
  for (let i = 1; i <= steps; i++) {
    const px = Math.round((x * i) / steps) - sentX;
    const py = Math.round((y * i) / steps) - sentY;
    sentX += px;
    sentY += py;
    packets.push([px, py]);
  }
  return packets;
}
