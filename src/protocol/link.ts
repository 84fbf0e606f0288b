/**
 * Link-stage codecs: SpiceLinkHeader, SpiceLinkMess, SpiceLinkReply, the auth
 * mechanism word and the link result (spice-wire.md §2).
 */
import { LinkError, SPICE_MAGIC, SPICE_VERSION_MAJOR, SPICE_VERSION_MINOR } from './constants.ts';
import { ProtocolError, WireReader, WireWriter } from './wire.ts';

export const LINK_HEADER_SIZE = 16;
export const LINK_MESS_FIXED_SIZE = 18;
export const LINK_REPLY_FIXED_SIZE = 178;
export const LINK_PUBKEY_SIZE = 162;
export const LINK_TICKET_SIZE = 128;
export const LINK_AUTH_MECH_SIZE = 4;
/** spice-server refuses a LinkMess larger than this (and so do we). */
export const LINK_MESS_MAX_SIZE = 4096;
/** spice-server's limit on capability words. */
export const LINK_MAX_CAP_WORDS = 1024;

export interface LinkHeader {
  magic: number;
  major: number;
  minor: number;
  size: number;
}

export function decodeLinkHeader(bytes: Uint8Array): LinkHeader {
  const r = new WireReader(bytes, 'SpiceLinkHeader');
  return { magic: r.u32('magic'), major: r.u32('major_version'), minor: r.u32('minor_version'), size: r.u32('size') };
}

export function encodeLinkHeader(size: number): Uint8Array {
  return new WireWriter(LINK_HEADER_SIZE)
    .u32(SPICE_MAGIC)
    .u32(SPICE_VERSION_MAJOR)
    .u32(SPICE_VERSION_MINOR)
    .u32(size)
    .finish();
}

/**
 * Checks a client's link header; returns the link error to answer with, or OK.
 * The reason says what was expected and what came.
 */
export function checkLinkHeader(h: LinkHeader): { error: LinkError; reason: string } {
  if (h.magic !== SPICE_MAGIC) {
    return {
      error: LinkError.INVALID_MAGIC,
      reason: `bad link magic: expected 0x${SPICE_MAGIC.toString(16)} ("REDQ"), got 0x${h.magic.toString(16)}`,
    };
  }
  if (h.major !== SPICE_VERSION_MAJOR) {
    return { error: LinkError.VERSION_MISMATCH, reason: `protocol major ${h.major}, expected ${SPICE_VERSION_MAJOR}` };
  }
  if (h.size < LINK_MESS_FIXED_SIZE || h.size > LINK_MESS_MAX_SIZE) {
    return {
      error: LinkError.INVALID_DATA,
      reason: `link message size ${h.size} outside ${LINK_MESS_FIXED_SIZE}..${LINK_MESS_MAX_SIZE}`,
    };
  }
  return { error: LinkError.OK, reason: '' };
}

export interface LinkMess {
  connectionId: number;
  channelType: number;
  channelId: number;
  commonCaps: number[];
  channelCaps: number[];
}

export function decodeLinkMess(bytes: Uint8Array): LinkMess {
  const r = new WireReader(bytes, 'SpiceLinkMess');
  const connectionId = r.u32('connection_id');
  const channelType = r.u8('channel_type');
  const channelId = r.u8('channel_id');
  const numCommon = r.u32('num_common_caps');
  const numChannel = r.u32('num_channel_caps');
  const capsOffset = r.u32('caps_offset');
  if (numCommon + numChannel > LINK_MAX_CAP_WORDS) {
    throw new ProtocolError(`SpiceLinkMess: ${numCommon + numChannel} capability words, at most ${LINK_MAX_CAP_WORDS}`);
  }
  if (capsOffset < LINK_MESS_FIXED_SIZE) {
    throw new ProtocolError(`SpiceLinkMess: caps_offset ${capsOffset} inside the fixed part (< ${LINK_MESS_FIXED_SIZE})`);
  }
  r.seek(capsOffset);
  const commonCaps: number[] = [];
  for (let i = 0; i < numCommon; i++) commonCaps.push(r.u32('common cap'));
  const channelCaps: number[] = [];
  for (let i = 0; i < numChannel; i++) channelCaps.push(r.u32('channel cap'));
  return { connectionId, channelType, channelId, commonCaps, channelCaps };
}

export function encodeLinkMess(m: LinkMess): Uint8Array {
  const w = new WireWriter();
  w.u32(m.connectionId).u8(m.channelType).u8(m.channelId);
  w.u32(m.commonCaps.length).u32(m.channelCaps.length).u32(LINK_MESS_FIXED_SIZE);
  for (const c of m.commonCaps) w.u32(c);
  for (const c of m.channelCaps) w.u32(c);
  return w.finish();
}

export interface LinkReply {
  error: LinkError;
  pubKey: Uint8Array;
  commonCaps: number[];
  channelCaps: number[];
}

/** Header + SpiceLinkReply, ready to send. */
export function encodeLinkReply(reply: LinkReply): Uint8Array {
  if (reply.pubKey.byteLength > LINK_PUBKEY_SIZE) {
    throw new ProtocolError(`public key is ${reply.pubKey.byteLength} bytes, at most ${LINK_PUBKEY_SIZE}`);
  }
  const body = new WireWriter(LINK_REPLY_FIXED_SIZE + 16);
  body.u32(reply.error);
  body.bytes(reply.pubKey).zeros(LINK_PUBKEY_SIZE - reply.pubKey.byteLength);
  body.u32(reply.commonCaps.length).u32(reply.channelCaps.length).u32(LINK_REPLY_FIXED_SIZE);
  for (const c of reply.commonCaps) body.u32(c);
  for (const c of reply.channelCaps) body.u32(c);
  const b = body.finish();
  const out = new Uint8Array(LINK_HEADER_SIZE + b.byteLength);
  out.set(encodeLinkHeader(b.byteLength));
  out.set(b, LINK_HEADER_SIZE);
  return out;
}

export function decodeLinkReply(bytes: Uint8Array): LinkReply {
  const r = new WireReader(bytes, 'SpiceLinkReply');
  const error = r.u32('error') as LinkError;
  const pubKey = r.bytesOf(LINK_PUBKEY_SIZE, 'pub_key').slice();
  const numCommon = r.u32('num_common_caps');
  const numChannel = r.u32('num_channel_caps');
  r.seek(r.u32('caps_offset'));
  const commonCaps: number[] = [];
  for (let i = 0; i < numCommon; i++) commonCaps.push(r.u32('common cap'));
  const channelCaps: number[] = [];
  for (let i = 0; i < numChannel; i++) channelCaps.push(r.u32('channel cap'));
  return { error, pubKey, commonCaps, channelCaps };
}

/** An error reply: header + LinkReply with only `error` set (194 bytes), as spice-server sends. */
export function encodeLinkErrorReply(error: LinkError): Uint8Array {
  const w = new WireWriter(LINK_HEADER_SIZE + LINK_REPLY_FIXED_SIZE);
  w.bytes(encodeLinkHeader(LINK_REPLY_FIXED_SIZE));
  w.u32(error).zeros(LINK_REPLY_FIXED_SIZE - 4);
  return w.finish();
}

/** The 4-byte link result sent after the ticket. */
export function encodeLinkResult(error: LinkError): Uint8Array {
  return new WireWriter(4).u32(error).finish();
}

/** Capability word helpers: capability N is bit N%32 of word N/32. */
export function hasCap(words: readonly number[], bit: number): boolean {
  const word = words[bit >>> 5];
  return word !== undefined && ((word >>> (bit & 31)) & 1) === 1;
}

export function capsFromBits(bits: readonly number[]): number[] {
  const words: number[] = [];
  for (const bit of bits) {
    const i = bit >>> 5;
    while (words.length <= i) words.push(0);
    words[i] = (words[i]! | (1 << (bit & 31))) >>> 0;
  }
  return words;
}
