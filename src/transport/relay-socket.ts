/** Opening sockets to the relay, and the error every failure there becomes. */
import { resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket-like.ts';

/** A failure talking to the relay; `code` is the WebSocket close code (or the relay's refusal code) when there is one. */
export class RelayError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

/**
 * Opens a WebSocket to the relay with the injected or the global constructor;
 * throws a {@link RelayError} saying which URL could not be opened (URLs to
 * the relay carry no secrets: tokens travel in messages or, for mux
 * sockets, in `protocols`, which this error leaves out).
 */
export function openRelaySocket(url: string, WebSocketImpl?: WebSocketConstructor, protocols?: string[]): WebSocketLike {
  const Impl = resolveWebSocket(WebSocketImpl);
  try {
    return protocols ? new Impl(url, protocols) : new Impl(url);
  } catch (err) {
    throw new RelayError(`could not open ${url}: ${(err as Error).message}`);
  }
}
