/**
 * The control messages spoken between the hosting page and the relay
 * (text frames of JSON), shared by the Node relay and the browser side.
 *
 * Kept free of Node and DOM imports so both `src/relay` and code running in a
 * window or a Web Worker can use it.
 */

/** What a session name must look like (in `/host?session=`, `/spice/NAME`, `/mux?session=`). */
export const SESSION_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** The session used when none is named (native clients on the TCP port, spice-html5 on `/`). */
export const DEFAULT_SESSION = 'default';

/** A host's secret must be at least this long, so one page cannot guess another's. */
export const MIN_SECRET_LENGTH = 16;

/** WebSocket close codes the relay uses on page sockets (4000–4999 are application codes). */
export const RelayCloseCode = {
  /** Malformed or unexpected message, bad query parameters, bad secret. */
  BadRequest: 4000,
  /** The session is held by another page (different secret). */
  SessionHeld: 4001,
  /** A newer host socket with the same secret replaced this one. */
  Replaced: 4002,
  /** The session's host went away, so its streams are gone. */
  HostGone: 4003,
  /** Unknown stream or wrong token (an attach on `/mux`, or the mux token itself). */
  UnknownStream: 4004,
  /** The page did not register within the relay's attach timeout. */
  Timeout: 4008,
  /** Another page socket is already attached to that stream. */
  AlreadyAttached: 4009,
  /** The session has as many mux sockets as the relay allows. */
  TooManySockets: 4012,
  /** The register message lacked the relay key, or carried a wrong one. */
  BadRelayKey: 4010,
} as const;

/**
 * Close codes of a host socket after which registering again would not help:
 * a bad request or key stays bad, and a socket replaced by a newer
 * registration of the same page must not fight it for the session.
 */
export const FATAL_HOST_CLOSE_CODES: ReadonlySet<number> = new Set([
  RelayCloseCode.BadRequest,
  RelayCloseCode.BadRelayKey,
  RelayCloseCode.Replaced,
]);

/** Who compares a client's ticket with the password: the relay (it holds the password) or the page. */
export type TicketCheck = 'relay' | 'page';

/** Which kind of SPICE client is behind a stream. */
export type ClientTransport = 'tcp' | 'ws';

/**
 * One client connection offered to the page. Plain data (structured-cloneable),
 * so the page can post it to a Worker which then attaches by itself.
 */
export interface StreamOffer {
  /** Relay-assigned stream id, unique within the relay. */
  stream: string;
  /** 128-bit hex token that proves the right to attach to this stream. */
  token: string;
  transport: ClientTransport;
  /** The client's address as the relay saw it, `ip:port`. */
  remote: string;
  /** Base URL of the relay, e.g. `ws://127.0.0.1:8765`. */
  relayUrl: string;
  session: string;
  /** Proves the right to open a mux socket (`/mux`) for this session; one per registration. */
  muxToken: string;
}

/** page → relay on `/host`: the first message. */
export interface RegisterMessage {
  type: 'register';
  /** Proves this page owns the session across reconnects (never shared with clients). */
  secret: string;
  /** The relay key the operator gave pages that may host. */
  key?: string;
}

/** Longest log line a page may forward to the relay (longer ones are cut). */
export const MAX_FORWARDED_LOG_LENGTH = 500;

/** page → relay on `/host` after registering. */
export type HostClientMessage =
  | RegisterMessage
  /** The relay holds the password: is this decrypted ticket (null: undecryptable) right? */
  | { type: 'ticket'; stream: string; password: string | null }
  /** The page checked the ticket itself: the outcome, so the relay can log and throttle. */
  | { type: 'auth'; stream: string; ok: boolean; reason?: string }
  /** A warning or error of the page, for the relay operator's log. */
  | { type: 'log'; level: 'warn' | 'error'; text: string };

/** relay → page on `/host`. */
export type HostServerMessage =
  | {
      type: 'registered';
      session: string;
      tcpPort: number | null;
      clientPath: string;
      /** The SPICE TLS port (default session, relay with TLS), else null or absent. */
      tlsPort?: number | null;
      /** 'relay': send decrypted tickets to the relay; 'page': check them here. */
      ticketCheck: TicketCheck;
      /** The token page threads open their mux sockets with (as a subprotocol, see {@link muxProtocols}). */
      muxToken: string;
    }
  | { type: 'error'; reason: string }
  | { type: 'open'; stream: string; token: string; transport: ClientTransport; remote: string }
  | { type: 'closed'; stream: string; reason?: string }
  | { type: 'ticket-result'; stream: string; ok: boolean; reason?: string };

/**
 * Mux sockets (`/mux?session=NAME`): each page thread that serves client
 * connections opens one and carries all of its streams on it. The session's
 * mux token travels in the handshake's Sec-WebSocket-Protocol header (see
 * {@link muxProtocols}), not in the URL, which proxies and access logs keep;
 * the relay checks it before it accepts the socket, so nothing is read from a
 * socket that has not proved its right (page frames may be 64 MiB).
 * Binary messages are one stream's bytes behind a {@link MUX_HEADER_SIZE}-byte
 * header (the stream id, u32 little-endian): a SPICE message whole from the
 * page, a chunk of client bytes from the relay. Text messages are control.
 *
 * Flow control is per stream, so one slow client never holds the socket:
 * the relay credits page bytes once they are written to the client's socket
 * (a page keeps a stream's uncredited bytes under {@link MUX_PAGE_WINDOW}),
 * and the page credits client bytes once it took them (the relay stops
 * reading a client past {@link MUX_CLIENT_WINDOW} uncredited).
 */
export const MUX_HEADER_SIZE = 4;

/** Uncredited client → page bytes per stream past which the relay stops reading that client. */
export const MUX_CLIENT_WINDOW = 256 * 1024;

/**
 * Uncredited page → client bytes per stream past which the relay closes the
 * stream: the page's channels hold their messages once 4 MiB wait (see
 * RedChannelClient), so only a page that ignores credit gets here.
 */
export const MUX_PAGE_WINDOW = 16 * 1024 * 1024;

/** Mux sockets one session may have open (a page needs one per thread). */
export const MAX_MUX_SOCKETS_PER_SESSION = 32;

/** `[stream, bytes]` pairs of a credit message. */
export type CreditList = Array<[stream: number, bytes: number]>;

/** page → relay on `/mux` (text frames). */
export type MuxClientMessage =
  | { type: 'attach'; stream: string; token: string }
  | { type: 'detach'; stream: string }
  | { type: 'close'; stream: string }
  | { type: 'credit'; credits: CreditList };

/** relay → page on `/mux` (text frames). */
export type MuxServerMessage =
  | { type: 'attached'; stream: string }
  | { type: 'refused'; stream: string; code: number; reason: string }
  | { type: 'detached'; stream: string }
  | { type: 'closed'; stream: string; reason: string }
  | { type: 'credit'; credits: CreditList };

/** The stream id a mux frame carries for a stream named `id` in offers, or null if it is not one. */
export function muxStreamNumber(id: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(id)) return null;
  const n = Number(id);
  return n <= 0xffffffff ? n : null;
}

/** A credit list as sent, or null when `value` is not one (each entry two whole numbers ≥ 0, at most `max`). */
export function parseCreditList(value: unknown, max = 100_000): CreditList | null {
  if (!Array.isArray(value) || value.length > max) return null;
  for (const e of value) {
    if (!Array.isArray(e) || e.length !== 2 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1]) || e[0] < 0 || e[1] < 0) return null;
  }
  return value as CreditList;
}

/** Joins a relay base URL (with or without a trailing slash) and a path. */
export function relayEndpoint(relayUrl: string, pathAndQuery: string): string {
  return relayUrl.replace(/\/+$/, '') + pathAndQuery;
}

/** The `/mux` URL a page thread opens to carry the streams of the offer's session (its token goes in {@link muxProtocols}). */
export function muxUrl(offer: Pick<StreamOffer, 'relayUrl' | 'session'>): string {
  const q = new URLSearchParams({ session: offer.session });
  return relayEndpoint(offer.relayUrl, `/mux?${q.toString()}`);
}

/** The subprotocol a mux socket speaks; the relay selects it (and never echoes the token). */
export const MUX_SUBPROTOCOL = 'spice-web-mux';
const MUX_TOKEN_PREFIX = 'spice-web-mux-token.';

/** The subprotocols a page thread offers when it opens its mux socket: the protocol, then the token. */
export function muxProtocols(muxToken: string): string[] {
  return [MUX_SUBPROTOCOL, MUX_TOKEN_PREFIX + muxToken];
}

/**
 * The mux token in a handshake's offered subprotocols, or why there is none:
 * exactly one token entry, beside {@link MUX_SUBPROTOCOL}.
 */
export function muxTokenOf(protocols: readonly string[]): { ok: true; token: string } | { ok: false; reason: string } {
  if (!protocols.includes(MUX_SUBPROTOCOL)) return { ok: false, reason: `expected the ${MUX_SUBPROTOCOL} subprotocol, got ${protocols.length} others` };
  const tokens = protocols.filter((p) => p.startsWith(MUX_TOKEN_PREFIX));
  if (tokens.length !== 1) return { ok: false, reason: `expected one ${MUX_TOKEN_PREFIX}… subprotocol, got ${tokens.length}` };
  return { ok: true, token: tokens[0]!.slice(MUX_TOKEN_PREFIX.length) };
}

/**
 * Parses a JSON text frame into an object with a string `type`, or explains
 * what was wrong. Field checks per message type are left to the caller.
 */
export function parseControlMessage(
  text: string,
): { ok: true; msg: Record<string, unknown> & { type: string } } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: `expected a JSON object, got ${preview(text)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: `expected a JSON object, got ${preview(text)}` };
  }
  const type = (value as Record<string, unknown>).type;
  if (typeof type !== 'string') {
    return { ok: false, error: `expected a string "type" field, got ${preview(text)}` };
  }
  return { ok: true, msg: value as Record<string, unknown> & { type: string } };
}

/** A short, printable excerpt of untrusted text for error messages. */
export function preview(text: string, max = 60): string {
  const s = JSON.stringify(text.length > max ? text.slice(0, max) + '…' : text);
  return s;
}
