/**
 * A page that runs the real spice-html5 client (npm @spice-project/spice-html5)
 * against a relay URL: `client.html?url=ws://127.0.0.1:8765/spice/default&password=…`.
 */
import * as SpiceHtml5 from '@spice-project/spice-html5/src/main.js';

export interface Html5ClientState {
  connected: boolean;
  errors: string[];
}

declare global {
  interface Window {
    spiceClient?: Html5ClientState & { stop(): void };
  }
}

const params = new URLSearchParams(location.search);
const url = params.get('url') ?? `ws://${location.hostname}:8765/spice/default`;
const password = params.get('password') ?? '';
const state: Html5ClientState = { connected: false, errors: [] };

function showState(text: string, kind: 'ok' | 'error'): void {
  const el = document.getElementById('conn-state')!;
  el.textContent = text;
  el.className = kind;
}

document.getElementById('target')!.textContent = url;

const conn = new SpiceHtml5.SpiceMainConn({
  uri: url,
  password,
  screen_id: 'spice-screen',
  message_id: 'messages',
  onerror: (e: unknown) => {
    state.errors.push(e instanceof Error ? e.message : String(e));
    // spice-html5 also reports a closed socket here, as a bare Event.
    showState(e instanceof Error ? e.message : 'disconnected', 'error');
  },
  onsuccess: () => {
    state.connected = true;
    showState('connected', 'ok');
  },
});

window.spiceClient = Object.assign(state, { stop: () => conn.stop() });
