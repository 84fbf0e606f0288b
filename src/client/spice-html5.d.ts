/** The little of spice-html5's API this project uses (the package ships no types). */
declare module '@spice-project/spice-html5/src/main.js' {
  export interface SpiceMainConnOptions {
    uri: string;
    password: string;
    screen_id?: string;
    message_id?: string;
    onerror?: (e: unknown) => void;
    onsuccess?: () => void;
    onagent?: () => void;
  }
  export class SpiceMainConn {
    constructor(opts: SpiceMainConnOptions);
    stop(): void;
  }
}
