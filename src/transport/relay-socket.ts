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
 * throws a {@link RelayError} saying which URL could not be opened (with any
 * token in it left out: errors end up in logs).
 */
export function openRelaySocket(url: string, WebSocketImpl?: WebSocketConstructor): WebSocketLike {
  const Impl = resolveWebSocket(WebSocketImpl);
  try {
    return new Impl(url);
  } catch (err) {
    throw new RelayError(`could not open ${url.replace(/token=[^&]*/, 'token=…')}: ${(err as Error).message}`);
  }
}
