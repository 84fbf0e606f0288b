import { describe, expect, it } from 'vitest';
import { LinkError } from '../src/protocol/constants.ts';
import {
  capsFromBits,
  checkLinkHeader,
  decodeLinkHeader,
  decodeLinkMess,
  encodeLinkErrorReply,
  encodeLinkMess,
  encodeLinkReply,
  encodeLinkResult,
  hasCap,
} from '../src/protocol/link.ts';
import { decodeFullHeader, decodeMiniHeader, encodeFullHeader, encodeMiniHeader } from '../src/protocol/data-header.ts';
import { decodePong, encodeNotify, encodePing, encodeSetAck } from '../src/protocol/common-messages.ts';
import { encodeChannelsList, encodeMainInit, encodeMouseMode, encodeMultiMediaTime } from '../src/protocol/main-messages.ts';
import {
  decodeDisplayInit,
  encodeCopyBits,
  encodeDrawCopyBitmap,
  encodeDrawFillSolid,
  encodeMonitorsConfig,
  encodeSurfaceCreate,
} from '../src/protocol/display-messages.ts';
import { encodeCursorInit, encodeCursorMove, encodeCursorSet } from '../src/protocol/cursor-messages.ts';
import {
  decodeKey,
  decodeMouseButton,
  decodeMouseMotion,
  decodeMousePosition,
  encodeInputsInit,
} from '../src/protocol/inputs-messages.ts';
import { ProtocolError, WireReader } from '../src/protocol/wire.ts';
import { SERVER_COMMON_CAPS } from '../src/server/red-link.ts';

const hex = (s: string): Uint8Array => new Uint8Array((s.replace(/\s+/g, '').match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('link stage codecs (spice-wire.md §2, §12.1)', () => {
  it('decodes the spice-html5 main-channel link exactly', () => {
    const header = hex('52454451 02000000 02000000 1A000000');
    const mess = hex('00000000 01 00 01000000 01000000 12000000 09000000 04000000');
    const h = decodeLinkHeader(header);
    expect(h).toEqual({ magic: 0x51444552, major: 2, minor: 2, size: 26 });
    expect(checkLinkHeader(h).error).toBe(LinkError.OK);
    expect(decodeLinkMess(mess)).toEqual({
      connectionId: 0,
      channelType: 1,
      channelId: 0,
      commonCaps: [0x9],
      channelCaps: [0x4],
    });
    expect(toHex(encodeLinkMess(decodeLinkMess(mess)))).toBe(toHex(mess));
  });

  it('reads caps at caps_offset, not at a fixed 18', () => {
    const m = hex('07000000 02 00 01000000 00000000 16000000 EEEEEEEE 0D000000');
    expect(decodeLinkMess(m).commonCaps).toEqual([0xd]);
  });

  it('rejects bad magic, wrong major and sizes outside 18..4096', () => {
    expect(checkLinkHeader({ magic: 0x12345678, major: 2, minor: 2, size: 26 }).error).toBe(LinkError.INVALID_MAGIC);
    expect(checkLinkHeader({ magic: 0x51444552, major: 1, minor: 2, size: 26 }).error).toBe(LinkError.VERSION_MISMATCH);
    expect(checkLinkHeader({ magic: 0x51444552, major: 2, minor: 2, size: 17 }).error).toBe(LinkError.INVALID_DATA);
    expect(checkLinkHeader({ magic: 0x51444552, major: 2, minor: 2, size: 4097 }).error).toBe(LinkError.INVALID_DATA);
    expect(checkLinkHeader({ magic: 0x12345678, major: 2, minor: 2, size: 26 }).reason).toMatch(/expected 0x51444552/);
  });

  it('rejects truncated caps and absurd cap counts', () => {
    expect(() => decodeLinkMess(hex('00000000 01 00 02000000 00000000 12000000 09000000'))).toThrow(ProtocolError);
    expect(() => decodeLinkMess(hex('00000000 01 00 01040000 00000000 12000000'))).toThrow(/capability words/);
  });

  it('encodes the link reply: header size 182, key @4, caps 0x0B @178', () => {
    const key = new Uint8Array(162).map((_, i) => i & 0xff);
    const out = encodeLinkReply({ error: 0, pubKey: key, commonCaps: SERVER_COMMON_CAPS, channelCaps: [] });
    expect(out.byteLength).toBe(16 + 182);
    expect(toHex(out.subarray(0, 16))).toBe('524544510200000002000000b6000000');
    expect(toHex(out.subarray(16, 20))).toBe('00000000');
    expect(out.subarray(20, 182)).toEqual(key);
    expect(toHex(out.subarray(182))).toBe('01000000' + '00000000' + 'b2000000' + '0b000000');
  });

  it('encodes the 194-byte error reply and the 4-byte result', () => {
    const e = encodeLinkErrorReply(LinkError.INVALID_MAGIC);
    expect(e.byteLength).toBe(194);
    expect(toHex(e.subarray(0, 20))).toBe('524544510200000002000000b2000000' + '02000000');
    expect(e.subarray(20).every((b) => b === 0)).toBe(true);
    expect(toHex(encodeLinkResult(LinkError.PERMISSION_DENIED))).toBe('07000000');
  });

  it('caps words: bit N of word N/32', () => {
    expect(capsFromBits([0, 1, 3])).toEqual([0xb]);
    expect(capsFromBits([33])).toEqual([0, 2]);
    expect(hasCap([0xd], 2)).toBe(true);
    expect(hasCap([0xd], 1)).toBe(false);
    expect(hasCap([], 0)).toBe(false);
  });
});

describe('data headers and common messages (§3, §4)', () => {
  it('mini header is u16 type, u32 size', () => {
    expect(toHex(encodeMiniHeader(103, 32))).toBe('670020000000');
    expect(decodeMiniHeader(hex('680000000000'))).toEqual({ type: 104, size: 0 });
  });
  it('full header is u64 serial, u16 type, u32 size, u32 sub_list', () => {
    const h = encodeFullHeader(1n, 3, 8);
    expect(toHex(h)).toBe('0100000000000000' + '0300' + '08000000' + '00000000');
    expect(decodeFullHeader(h)).toEqual({ serial: 1n, type: 3, size: 8 });
  });
  it('SET_ACK, PING, PONG, NOTIFY layouts', () => {
    expect(toHex(encodeSetAck(1, 20))).toBe('0100000014000000');
    expect(toHex(encodePing(7, 0x0102030405060708n))).toBe('07000000' + '0807060504030201');
    expect(decodePong(hex('07000000 0807060504030201'))).toEqual({ id: 7, timestamp: 0x0102030405060708n });
    const n = encodeNotify({ timeStamp: 5n, severity: 1, visibility: 2, what: 3, message: 'hi' });
    expect(toHex(n)).toBe('0500000000000000' + '01000000' + '02000000' + '03000000' + '03000000' + '686900');
  });
});

describe('main channel (§5)', () => {
  it('MAIN_INIT is 32 bytes in field order', () => {
    const b = encodeMainInit({
      sessionId: 0x11223344,
      displayChannelsHint: 1,
      supportedMouseModes: 3,
      currentMouseMode: 2,
      agentConnected: 0,
      agentTokens: 10,
      multiMediaTime: 1000,
      ramHint: 0,
    });
    expect(toHex(b)).toBe('44332211' + '01000000' + '03000000' + '02000000' + '00000000' + '0a000000' + 'e8030000' + '00000000');
  });
  it('CHANNELS_LIST matches the §12.1 bytes', () => {
    const b = encodeChannelsList([
      { type: 3, id: 0 },
      { type: 2, id: 0 },
      { type: 4, id: 0 },
    ]);
    expect(toHex(b)).toBe('03000000030002000400');
  });
  it('MOUSE_MODE uses u16 fields; MULTI_MEDIA_TIME a u32', () => {
    expect(toHex(encodeMouseMode(3, 2))).toBe('03000200');
    expect(toHex(encodeMultiMediaTime(0x12345678))).toBe('78563412');
  });
});

describe('display channel (§6)', () => {
  it('SURFACE_CREATE matches §12.1', () => {
    const b = encodeSurfaceCreate({ surfaceId: 0, width: 1024, height: 768, format: 32, flags: 1 });
    expect(toHex(b)).toBe('00000000' + '00040000' + '00030000' + '20000000' + '01000000');
  });
  it('DRAW_COPY with an inline BITMAP: pointer 57, descriptor @57, bitmap @75, pixels @93', () => {
    const pixels = new Uint8Array(2 * 3 * 4).map((_, i) => i);
    const b = encodeDrawCopyBitmap(0, 10, 20, { id: 1, width: 2, height: 3, pixels });
    expect(b.byteLength).toBe(93 + 24);
    const r = new WireReader(b);
    expect(r.u32()).toBe(0); // surface
    expect([r.i32(), r.i32(), r.i32(), r.i32()]).toEqual([20, 10, 23, 12]); // box top,left,bottom,right
    expect(r.u8()).toBe(0); // clip NONE
    expect(r.u32()).toBe(57); // src_bitmap
    expect([r.i32(), r.i32(), r.i32(), r.i32()]).toEqual([0, 0, 3, 2]); // src_area
    expect(r.u16()).toBe(8); // OP_PUT
    expect(r.u8()).toBe(0); // scale
    expect([r.u8(), r.i32(), r.i32(), r.u32()]).toEqual([0, 0, 0, 0]); // mask
    expect(r.offset).toBe(57);
    expect(r.u64()).toBe(1n);
    expect([r.u8(), r.u8(), r.u32(), r.u32()]).toEqual([0, 0, 2, 3]); // BITMAP, flags, w, h
    expect(r.offset).toBe(75);
    expect([r.u8(), r.u8(), r.u32(), r.u32(), r.u32(), r.u32()]).toEqual([8, 4, 2, 3, 8, 0]);
    expect(r.offset).toBe(93);
    expect(r.rest()).toEqual(pixels);
  });
  it('rejects a bitmap whose byte count does not match its size', () => {
    expect(() => encodeDrawCopyBitmap(0, 0, 0, { id: 1, width: 2, height: 2, pixels: new Uint8Array(15) })).toThrow(
      /expected 16 pixel bytes, got 15/,
    );
  });
  it('DRAW_FILL solid is 41 bytes; COPY_BITS 29; MONITORS_CONFIG 4 + 28n', () => {
    const f = encodeDrawFillSolid(0, { top: 0, left: 0, bottom: 1, right: 1 }, 0xff8000);
    expect(f.byteLength).toBe(41);
    expect(toHex(f.subarray(21, 28))).toBe('01' + '0080ff00' + '0800');
    expect(encodeCopyBits(0, { top: 0, left: 0, bottom: 1, right: 1 }, 5, 6).byteLength).toBe(29);
    expect(encodeMonitorsConfig(1, [{ id: 0, surfaceId: 0, width: 8, height: 8, x: 0, y: 0, flags: 0 }]).byteLength).toBe(32);
  });
  it('decodes DISPLAY_INIT as both clients send it', () => {
    expect(decodeDisplayInit(hex('01 00004001 00000000 01 00003000'))).toEqual({
      pixmapCacheId: 1,
      pixmapCacheSize: 20971520n,
      glzDictionaryId: 1,
      glzDictionaryWindowSize: 3145728,
    });
    expect(() => decodeDisplayInit(hex('01 0000'))).toThrow(ProtocolError);
  });
});

describe('cursor channel (§10)', () => {
  const shape = { unique: 9, type: 0, width: 1, height: 1, hotX: 0, hotY: 0, data: hex('11223344') };
  it('INIT: Point16, trail, visible, then flags + 17-byte header + data', () => {
    const b = encodeCursorInit({ x: 1, y: 2, trailLength: 0, trailFrequency: 0, visible: true, shape });
    expect(toHex(b)).toBe('0100' + '0200' + '0000' + '0000' + '01' + '0000' + '0900000000000000' + '00' + '0100' + '0100' + '0000' + '0000' + '11223344');
  });
  it('INIT without a shape sends flags NONE; SET and MOVE layouts', () => {
    expect(toHex(encodeCursorInit({ x: 0, y: 0, trailLength: 0, trailFrequency: 0, visible: false, shape: null }))).toBe(
      '000000000000000000' + '0100',
    );
    expect(toHex(encodeCursorSet(3, 4, true, shape).subarray(0, 7))).toBe('0300' + '0400' + '01' + '0000');
    expect(toHex(encodeCursorMove(-1, 2))).toBe('ffff0200');
  });
});

describe('inputs channel (§9)', () => {
  it('INIT is the u16 modifiers', () => {
    expect(toHex(encodeInputsInit(6))).toBe('0600');
  });
  it('keys: single byte, E0 prefix, html5 stray DF byte, Pause E1', () => {
    expect(decodeKey(hex('1E000000'), 'KEY_DOWN').scancode).toEqual([0x1e]);
    expect(decodeKey(hex('9E000000'), 'KEY_UP').scancode).toEqual([0x9e]);
    expect(decodeKey(hex('E04B0000'), 'KEY_DOWN').scancode).toEqual([0xe0, 0x4b]);
    expect(decodeKey(hex('E04BDF00'), 'KEY_DOWN').scancode).toEqual([0xe0, 0x4b]);
    expect(decodeKey(hex('E11D0000'), 'KEY_DOWN').scancode).toEqual([0xe1, 0x1d]);
    expect(decodeKey(hex('B5E00000'), 'KEY_UP').scancode).toEqual([0xb5]);
    expect(() => decodeKey(hex('1E00'), 'KEY_DOWN')).toThrow(/expected 4 byte/);
  });
  it('mouse messages, including html5 11-byte motion', () => {
    expect(decodeMouseMotion(hex('FEFFFFFF 03000000 0100'))).toEqual({ dx: -2, dy: 3, buttons: 1 });
    expect(decodeMouseMotion(hex('01000000 01000000 0000 00'))).toEqual({ dx: 1, dy: 1, buttons: 0 });
    expect(decodeMousePosition(hex('10000000 20000000 0400 00'))).toEqual({ x: 16, y: 32, buttons: 4, displayId: 0 });
    expect(decodeMouseButton(hex('03 0400'), 'MOUSE_PRESS')).toEqual({ button: 3, buttons: 4 });
    expect(() => decodeMousePosition(hex('10000000'))).toThrow(ProtocolError);
  });
});
