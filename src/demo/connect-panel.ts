/** The "Connect a SPICE client" panel: addresses for both kinds of client, copy buttons, the web-client link. */
import { $, flash } from './dom.ts';
import { virtViewerFile, type VvFile } from './vv-file.ts';

export interface ConnectInfo {
  /** The relay's WebSocket base URL, e.g. ws://127.0.0.1:8765. */
  relayUrl: string;
  session: string;
  /** Clients must give a password (the page does not know it: the relay checks tickets). */
  passwordRequired: boolean;
  /** The relay's TCP port for native clients (only the "default" session has one). */
  tcpPort: number | null;
  /** The relay's SPICE TLS port (only with TLS on, and only for the "default" session). */
  tlsPort?: number | null;
  /** Path of the session's WebSocket endpoint on the relay, e.g. /spice/default. */
  clientPath: string;
}

export interface ClientAddresses {
  native: string | null;
  /** Through the relay as an HTTP proxy (plain relays only): reaches this session whatever its name. */
  proxied: { proxy: string; uri: string } | null;
  /** `spice://HOST?tls-port=N` when the relay has a TLS port for this session. */
  nativeTls: string | null;
  webSocket: string;
  /** client.html on this site, pointed at the session (never carrying a password). */
  webClient: string;
}

/** Where each kind of client connects; `pageUrl` is the demo page's own address. */
export function clientAddresses(info: ConnectInfo, pageUrl: string): ClientAddresses {
  const relay = new URL(info.relayUrl);
  const webSocket = `${info.relayUrl.replace(/\/+$/, '')}${info.clientPath}`;
  const client = new URL('/client.html', pageUrl);
  client.searchParams.set('url', webSocket);
  return {
    native: info.tcpPort ? `spice://${relay.hostname}:${info.tcpPort}` : null,
    // spice-gtk speaks plain HTTP to a proxy, so this needs the relay's ws:// (not wss://) port.
    proxied: relay.protocol === 'ws:' ? { proxy: `http://${relay.host}`, uri: `spice://${info.session}:5900` } : null,
    nativeTls: info.tlsPort ? `spice://${relay.hostname}?tls-port=${info.tlsPort}` : null,
    webSocket,
    webClient: client.toString(),
  };
}

export function showConnectPanel(info: ConnectInfo): ClientAddresses {
  const a = clientAddresses(info, location.href);
  $('native-url').textContent = a.nativeTls ?? a.native ?? 'none';
  if (a.nativeTls) {
    // With TLS the secure port is the one to give out; the plain one (if still open) is only mentioned.
    $('native-label').textContent = 'remote-viewer or spicy (native, TLS)';
    $('native-hint').textContent =
      `e.g. remote-viewer "${a.nativeTls}" --spice-ca-file=CA.pem (the CA that signed the relay's certificate)` +
      (a.native ? `  ·  unencrypted: ${a.native}` : '');
  } else if (a.native) {
    const { hostname, port } = new URL(a.native.replace(/^spice:/, 'http:'));
    $('native-hint').textContent = `e.g. remote-viewer ${a.native}  ·  spicy -h ${hostname} -p ${port}`;
  } else if (a.proxied) {
    // Any session, through the relay's HTTP CONNECT.
    $('native-url').textContent = `SPICE_PROXY=${a.proxied.proxy} remote-viewer ${a.proxied.uri}`;
    $('native-hint').textContent = `spice-gtk reaches session "${info.session}" through the relay as its HTTP proxy (or use the .vv file)`;
  } else {
    $('native-hint').textContent =
      info.session === 'default'
        ? 'The relay runs without a TCP port (--tcp-port off).'
        : `Only the session "default" gets the relay's TLS port; this page serves "${info.session}".`;
    $<HTMLButtonElement>('native-url-copy').hidden = true;
  }
  setUpVvLink(info, a);
  $('ws-url').textContent = a.webSocket;
  $<HTMLAnchorElement>('web-client').href = a.webClient;
  $('web-client').removeAttribute('aria-disabled');
  $('password-state').textContent = info.passwordRequired
    ? 'required — remote-viewer and the web client ask for it'
    : 'none: anyone who can reach the relay may connect';
  for (const button of document.querySelectorAll<HTMLButtonElement>('button.copy[data-copy]')) {
    button.addEventListener('click', () => void copyFrom($(button.dataset.copy!), button));
  }
  return a;
}

/** What the `.vv` file says for this session: through the relay's proxy, or the TLS port of "default". */
export function vvFor(info: ConnectInfo, a: ClientAddresses): VvFile | null {
  const title = `spice-web-server: ${info.session}`;
  if (a.proxied) return { title, host: info.session, port: 5900, proxy: a.proxied.proxy };
  if (info.tlsPort) return { title, host: new URL(info.relayUrl).hostname, tlsPort: info.tlsPort };
  return null;
}

/** The "Open in remote-viewer" link: a `.vv` made in the page, with the password only if the user adds it. */
function setUpVvLink(info: ConnectInfo, a: ClientAddresses): void {
  const vv = vvFor(info, a);
  const link = $<HTMLAnchorElement>('vv-link');
  const include = $<HTMLInputElement>('vv-include-password');
  const password = $<HTMLInputElement>('vv-password');
  $('vv-row').hidden = vv === null;
  if (!vv) return;
  $('vv-password-row').hidden = !info.passwordRequired;
  link.download = `${info.session}.vv`;
  const update = (): void => {
    password.hidden = !include.checked;
    const text = virtViewerFile({ ...vv, ...(include.checked && password.value ? { password: password.value } : {}) });
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/x-virt-viewer' }));
  };
  include.addEventListener('change', update);
  password.addEventListener('input', update);
  update();
}

/** Copies an element's text; where the clipboard API is unavailable (plain http on a LAN address) it selects the text instead. */
async function copyFrom(el: HTMLElement, button: HTMLButtonElement): Promise<void> {
  const text = el.textContent ?? '';
  try {
    await navigator.clipboard.writeText(text);
    flash(button, 'Copied');
  } catch {
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = getSelection();
    sel?.removeAllRanges();
    sel?.addRange(range);
    flash(button, 'Press Ctrl+C', 3000);
  }
}
