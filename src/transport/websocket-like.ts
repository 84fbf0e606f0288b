/**
 * The slice of the WebSocket API the transport uses, so the same code runs on
 * a window's or a Worker's `WebSocket` and, in Node tests, on `ws`.
 */

/** The events the transport listens to, in the shape both the DOM and `ws` deliver. */
export interface WebSocketEventMap {
  open: unknown;
  message: { readonly data: unknown };
  close: { readonly code: number; readonly reason: string };
  error: unknown;
}

/** A WebSocket as far as the transport needs one. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener<K extends keyof WebSocketEventMap>(type: K, listener: (event: WebSocketEventMap[K]) => void): void;
}

/** A WebSocket constructor: the global `WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** readyState values (the same on every implementation). */
export const WS_OPEN = 1;

/** The injected constructor, else the global one; a clear error where there is none (Node 20). */
export function resolveWebSocket(impl: WebSocketConstructor | undefined): WebSocketConstructor {
  if (impl) return impl;
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!g) {
    throw new Error('expected a global WebSocket or an injected WebSocketImpl, got neither (in Node, pass WebSocket from "ws")');
  }
  return g;
}

/** Copies a message payload (ArrayBuffer, typed-array view or Node Buffer) into a Uint8Array, or null for text. */
export function binaryPayload(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
