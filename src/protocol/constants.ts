/**
 * SPICE protocol numbers (spice-protocol `spice/enums.h`, `spice/protocol.h`),
 * as far as this server uses them. See ../shared/spice-wire.md.
 */

export const SPICE_MAGIC = 0x51444552; // "REDQ" read as a little-endian u32
export const SPICE_VERSION_MAJOR = 2;
export const SPICE_VERSION_MINOR = 2;

export const ChannelType = {
  MAIN: 1,
  DISPLAY: 2,
  INPUTS: 3,
  CURSOR: 4,
  PLAYBACK: 5,
  RECORD: 6,
} as const;
export type ChannelType = (typeof ChannelType)[keyof typeof ChannelType];

export function channelTypeName(type: number): string {
  for (const [name, value] of Object.entries(ChannelType)) if (value === type) return name.toLowerCase();
  return `type-${type}`;
}

export const LinkError = {
  OK: 0,
  ERROR: 1,
  INVALID_MAGIC: 2,
  INVALID_DATA: 3,
  VERSION_MISMATCH: 4,
  NEED_SECURED: 5,
  NEED_UNSECURED: 6,
  PERMISSION_DENIED: 7,
  BAD_CONNECTION_ID: 8,
  CHANNEL_NOT_AVAILABLE: 9,
} as const;
export type LinkError = (typeof LinkError)[keyof typeof LinkError];

/** Common capability bits. */
export const CommonCap = {
  PROTOCOL_AUTH_SELECTION: 0,
  AUTH_SPICE: 1,
  AUTH_SASL: 2,
  MINI_HEADER: 3,
} as const;

export const AuthMechanism = { SPICE: 1, SASL: 2 } as const;

/** Messages common to every channel, server → client. */
export const MsgCommon = {
  MIGRATE: 1,
  MIGRATE_DATA: 2,
  SET_ACK: 3,
  PING: 4,
  WAIT_FOR_CHANNELS: 5,
  DISCONNECTING: 6,
  NOTIFY: 7,
  LIST: 8,
} as const;

/** Messages common to every channel, client → server. */
export const MsgcCommon = {
  ACK_SYNC: 1,
  ACK: 2,
  PONG: 3,
  MIGRATE_FLUSH_MARK: 4,
  MIGRATE_DATA: 5,
  DISCONNECTING: 6,
} as const;

export const MsgMain = {
  MIGRATE_BEGIN: 101,
  MIGRATE_CANCEL: 102,
  INIT: 103,
  CHANNELS_LIST: 104,
  MOUSE_MODE: 105,
  MULTI_MEDIA_TIME: 106,
  AGENT_CONNECTED: 107,
  AGENT_DISCONNECTED: 108,
  AGENT_DATA: 109,
  AGENT_TOKEN: 110,
  NAME: 113,
  UUID: 114,
  AGENT_CONNECTED_TOKENS: 115,
} as const;

export const MsgcMain = {
  CLIENT_INFO: 101,
  MIGRATE_CONNECTED: 102,
  MIGRATE_CONNECT_ERROR: 103,
  ATTACH_CHANNELS: 104,
  MOUSE_MODE_REQUEST: 105,
  AGENT_START: 106,
  AGENT_DATA: 107,
  AGENT_TOKEN: 108,
} as const;

export const MouseMode = { SERVER: 1, CLIENT: 2 } as const;

export const MsgDisplay = {
  MODE: 101,
  MARK: 102,
  RESET: 103,
  COPY_BITS: 104,
  INVAL_LIST: 105,
  INVAL_ALL_PIXMAPS: 106,
  INVAL_PALETTE: 107,
  INVAL_ALL_PALETTES: 108,
  STREAM_CREATE: 122,
  STREAM_DATA: 123,
  STREAM_CLIP: 124,
  STREAM_DESTROY: 125,
  STREAM_DESTROY_ALL: 126,
  DRAW_FILL: 302,
  DRAW_OPAQUE: 303,
  DRAW_COPY: 304,
  SURFACE_CREATE: 314,
  SURFACE_DESTROY: 315,
  MONITORS_CONFIG: 317,
} as const;

export const MsgcDisplay = {
  INIT: 101,
  STREAM_REPORT: 102,
  PREFERRED_COMPRESSION: 103,
  GL_DRAW_DONE: 104,
  PREFERRED_VIDEO_CODEC_TYPE: 105,
} as const;

export const MsgInputs = {
  INIT: 101,
  KEY_MODIFIERS: 102,
  MOUSE_MOTION_ACK: 111,
} as const;

export const MsgcInputs = {
  KEY_DOWN: 101,
  KEY_UP: 102,
  KEY_MODIFIERS: 103,
  KEY_SCANCODE: 104,
  MOUSE_MOTION: 111,
  MOUSE_POSITION: 112,
  MOUSE_PRESS: 113,
  MOUSE_RELEASE: 114,
} as const;

/** The server sends MOUSE_MOTION_ACK after this many motion messages. */
export const INPUT_MOTION_ACK_BUNCH = 4;

export const MsgCursor = {
  INIT: 101,
  RESET: 102,
  SET: 103,
  MOVE: 104,
  HIDE: 105,
  TRAIL: 106,
  INVAL_ONE: 107,
  INVAL_ALL: 108,
} as const;

export const SurfaceFormat = { XRGB32: 32, ARGB32: 96 } as const;
export const SurfaceFlags = { PRIMARY: 1 } as const;

/** SPICE_IMAGE_TYPE_* (the wire's and QXL's image descriptor type). */
export const ImageType = {
  BITMAP: 0,
  QUIC: 1,
  LZ_PLT: 100,
  LZ_RGB: 101,
  GLZ_RGB: 102,
  FROM_CACHE: 103,
  SURFACE: 104,
  JPEG: 105,
  FROM_CACHE_LOSSLESS: 106,
  ZLIB_GLZ_RGB: 107,
  JPEG_ALPHA: 108,
  LZ4: 109,
} as const;
/** SPICE_BITMAP_FMT_* (shared by the wire and QXL bitmaps). */
export const BitmapFormat = {
  INVALID: 0,
  _1BIT_LE: 1,
  _1BIT_BE: 2,
  _4BIT_LE: 3,
  _4BIT_BE: 4,
  _8BIT: 5,
  _16BIT: 6,
  _24BIT: 7,
  _32BIT: 8,
  RGBA: 9,
  _8BIT_A: 10,
} as const;
/** SPICE_BITMAP_FLAGS_* on the wire (QXL's bitmap flags differ; see qxl-layout.ts). */
export const BitmapFlags = { PAL_CACHE_ME: 1, PAL_FROM_CACHE: 2, TOP_DOWN: 4 } as const;
export const Rop = { OP_PUT: 8 } as const;

export const CursorType = { ALPHA: 0, MONO: 1 } as const;
export const CursorFlags = { NONE: 1, CACHE_ME: 2, FROM_CACHE: 4 } as const;

export const NotifySeverity = { INFO: 0, WARN: 1, ERROR: 2 } as const;
export const NotifyVisibility = { LOW: 0, MEDIUM: 1, HIGH: 2 } as const;

/** Modifier bits in KEY_MODIFIERS / INPUTS_INIT. */
export const KeyModifier = { SCROLL_LOCK: 1, NUM_LOCK: 2, CAPS_LOCK: 4 } as const;
/** Every lock bit a client may send in KEY_MODIFIERS. */
export const KEY_MODIFIERS_ALL = KeyModifier.SCROLL_LOCK | KeyModifier.NUM_LOCK | KeyModifier.CAPS_LOCK;

/** SpiceMouseButton: the button of MOUSE_PRESS / MOUSE_RELEASE. */
export const MouseButton = { LEFT: 1, MIDDLE: 2, RIGHT: 3, UP: 4, DOWN: 5, SIDE: 6, EXTRA: 7 } as const;

/** SpiceMouseButtonMask: the bit of each button in a buttons_state (index = button - 1). */
export function mouseButtonMask(button: number): number {
  return button >= MouseButton.LEFT && button <= MouseButton.EXTRA ? 1 << (button - 1) : 0;
}
/** Every bit a buttons_state may carry. */
export const MOUSE_BUTTON_MASK_ALL = 0x7f;

/** spice-server's maximum password length (spice-gtk refuses longer before sending). */
export const MAX_PASSWORD_LENGTH = 60;

/** Playback channel, server → client (the channel has no client messages of its own). */
export const MsgPlayback = {
  DATA: 101,
  MODE: 102,
  START: 103,
  STOP: 104,
  VOLUME: 105,
  MUTE: 106,
  LATENCY: 107,
} as const;

/** Playback channel capability bits. */
export const PlaybackCap = { CELT_0_5_1: 0, VOLUME: 1, LATENCY: 2, OPUS: 3 } as const;

/** SPICE_AUDIO_DATA_MODE_*: how DATA bodies are coded. */
export const AudioDataMode = { INVALID: 0, RAW: 1, CELT_0_5_1: 2, OPUS: 3 } as const;

/** SPICE_AUDIO_FMT_*: the sample format START announces (S16 is the only one). */
export const AudioFormat = { S16: 1 } as const;

/** Record channel, server → client. */
export const MsgRecord = { START: 101, STOP: 102, VOLUME: 103, MUTE: 104 } as const;

/** Record channel, client → server. */
export const MsgcRecord = { DATA: 101, MODE: 102, START_MARK: 103 } as const;

/** Record channel capability bits. */
export const RecordCap = { CELT_0_5_1: 0, VOLUME: 1, OPUS: 2 } as const;
