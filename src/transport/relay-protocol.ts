/**
 * The control messages spoken between the hosting page and the relay
 * (text frames of JSON), shared by the Node relay and the browser side.
 *
 * Kept free of Node and DOM imports so both `src/relay` and code running in a
 * window or a Web Worker can use it.
 */

/** What a session name must look like (in `/host?session=`, `/spice/NAME`, `/stream?session=`). */
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
  /** Unknown stream or wrong token on `/stream`. */
  UnknownStream: 4004,
  /** The page did not register within the relay's attach timeout. */
  Timeout: 4008,
  /** Another page socket is already attached to that stream. */
  AlreadyAttached: 4009,
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
    }
  | { type: 'error'; reason: string }
  | { type: 'open'; stream: string; token: string; transport: ClientTransport; remote: string }
  | { type: 'closed'; stream: string; reason?: string }
  | { type: 'ticket-result'; stream: string; ok: boolean; reason?: string };

/** page → relay on `/stream` (text frames; binary frames are client bytes). */
export type StreamClientMessage = { type: 'detach' };

/** relay → page on `/stream` (text frames). */
export type StreamServerMessage =
  | { type: 'attached'; stream: string }
  | { type: 'detached'; stream: string };

/** Joins a relay base URL (with or without a trailing slash) and a path. */
export function relayEndpoint(relayUrl: string, pathAndQuery: string): string {
  return relayUrl.replace(/\/+$/, '') + pathAndQuery;
}

/** The `/stream` URL a page socket opens to attach to an offered stream. */
export function streamAttachUrl(offer: StreamOffer): string {
  const q = new URLSearchParams({ session: offer.session, stream: offer.stream, token: offer.token });
  return relayEndpoint(offer.relayUrl, `/stream?${q.toString()}`);
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
