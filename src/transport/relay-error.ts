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
