/** The page side of the relay transport: usable in a window, a Web Worker, or Node with `ws`. */
export { RelayHost, type RelayHostOptions } from './relay-host.ts';
export { RelayStream } from './relay-stream.ts';
export { RelayError } from './relay-socket.ts';
export { RelayMux } from './relay-mux.ts';
export {
  DEFAULT_SESSION,
  RelayCloseCode,
  SESSION_NAME_RE,
  type ClientTransport,
  type StreamOffer,
} from './relay-protocol.ts';
export type { WebSocketConstructor, WebSocketLike } from './websocket-like.ts';
