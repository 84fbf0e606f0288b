/**
 * A page that runs the real spice-html5 client (npm @spice-project/spice-html5)
 * against a relay URL: `client.html?url=ws://127.0.0.1:8765/spice/default`.
 * It connects at once; when the session wants a password, the page asks for
 * it in a form (a `password=` query parameter still works, for scripts, and
 * is dropped from the address bar at once).
 *
 * With the session's agent (the hosting page), files dropped onto the screen
 * are sent to it, and with `resize=1` the screen follows this window's size
 * (spice-html5's own resize and file-drop handlers, wired as its
 * spice_auto.html does). Resizing is opt-in: it changes the session's screen
 * for every viewer.
 */
import * as SpiceHtml5 from '@spice-project/spice-html5/src/main.js';
import { defaultRelayUrl } from '../util/default-relay-url.ts';

export interface Html5ClientState {
  connected: boolean;
  errors: string[];
}

declare global {
  interface Window {
    spiceClient?: Html5ClientState & { stop(): void };
    /** spice-html5's resize and file-drop handlers find the connection here. */
    spice_connection?: SpiceHtml5.SpiceMainConn;
  }
}

const params = new URLSearchParams(location.search);
const url = params.get('url') ?? `${defaultRelayUrl(location)}/spice/default`;
if (params.has('password')) {
  // Keep it out of the history and of anything that shows this page's address.
  const clean = new URL(location.href);
  clean.searchParams.delete('password');
  history.replaceState(null, '', clean);
}
const followWindow = params.get('resize') === '1';
const state: Html5ClientState = { connected: false, errors: [] };

const area = document.getElementById('spice-area')!;
area.addEventListener('dragover', (e) => SpiceHtml5.handle_file_dragover(e));
area.addEventListener('drop', (e) => {
  if (window.spice_connection) SpiceHtml5.handle_file_drop(e);
});
let resizeListening = false;

/** The agent is there: files can be dropped, and (opted in) the screen follows the window. */
function onAgent(sc: SpiceHtml5.SpiceMainConn): void {
  window.spice_connection = sc;
  if (!followWindow) return;
  // resize_helper measures the screen element's width: as a block it is the window's, not the canvas's.
  document.getElementById('spice-screen')!.style.display = 'block';
  if (!resizeListening) window.addEventListener('resize', (e) => SpiceHtml5.handle_resize(e));
  resizeListening = true;
  SpiceHtml5.resize_helper(sc);
}

function showState(text: string, kind: 'ok' | 'error'): void {
  const el = document.getElementById('conn-state')!;
  el.textContent = text;
  el.className = kind;
}

document.getElementById('target')!.textContent = url;
const login = document.getElementById('login') as HTMLFormElement;
const passwordInput = document.getElementById('password') as HTMLInputElement;

let conn: { stop(): void } | null = null;

function connect(password: string): void {
  conn?.stop();
  showState('connecting…', 'ok');
  let linked = false;
  conn = new SpiceHtml5.SpiceMainConn({
    uri: url,
    password,
    screen_id: 'spice-screen',
    message_id: 'messages',
    onagent: onAgent,
    onerror: (e: unknown) => {
      state.errors.push(e instanceof Error ? e.message : String(e));
      // spice-html5 also reports a closed socket here, as a bare Event.
      showState(e instanceof Error ? e.message : 'disconnected', 'error');
      if (!linked) {
        // Refused before the session started: most likely a password is needed, or a wrong one was given.
        login.hidden = false;
        passwordInput.focus();
      }
    },
    onsuccess: () => {
      linked = true;
      state.connected = true;
      login.hidden = true;
      showState('connected', 'ok');
    },
  });
}

login.addEventListener('submit', (ev) => {
  ev.preventDefault();
  connect(passwordInput.value);
  passwordInput.value = '';
});

connect(params.get('password') ?? '');
window.spiceClient = Object.assign(state, { stop: () => conn?.stop() });
