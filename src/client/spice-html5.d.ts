/** The little of spice-html5's API this project uses (the package ships no types). */
declare module '@spice-project/spice-html5/src/main.js' {
  export interface SpiceMainConnOptions {
    uri: string;
    password: string;
    screen_id?: string;
    message_id?: string;
    onerror?: (e: unknown) => void;
    onsuccess?: () => void;
    /** Called with the connection once the server says an agent is there. */
    onagent?: (sc: SpiceMainConn) => void;
  }
  export class SpiceMainConn {
    constructor(opts: SpiceMainConnOptions);
    stop(): void;
  }
  /** Sends MONITORS_CONFIG for the screen element's width and the window's height (both rounded down to 8). */
  export function resize_helper(sc: SpiceMainConn): void;
  /** A window `resize` listener: calls resize_helper 200 ms after the last resize (reads window.spice_connection). */
  export function handle_resize(e: Event): void;
  export function handle_file_dragover(e: DragEvent): void;
  /** Sends each dropped file through the agent (reads window.spice_connection). */
  export function handle_file_drop(e: DragEvent): void;
}
