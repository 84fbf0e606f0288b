/**
 * virt-viewer connection files (`.vv`): what remote-viewer opens when the
 * demo page's "Open in remote-viewer" is clicked. Through the relay as an
 * HTTP proxy (its CONNECT support) a file reaches any session.
 */

/** What goes into a `.vv` file. */
export interface VvFile {
  /** Window title. */
  title: string;
  /** The SPICE host: the session name when going through the proxy, else the relay's host. */
  host: string;
  port?: number;
  tlsPort?: number;
  /** `http://HOST:PORT` of the relay, which tunnels to `host` (a session name). */
  proxy?: string;
  /** Only when the user asked for it: whoever gets the file can connect. */
  password?: string;
}

/** The file's text; values with line breaks are refused (they would add keys). */
export function virtViewerFile(f: VvFile): string {
  const lines = ['[virt-viewer]', 'type=spice'];
  const add = (key: string, value: string | number | undefined): void => {
    if (value === undefined || value === '') return;
    const v = String(value);
    if (/[\r\n]/.test(v)) throw new Error(`.vv ${key}: expected a value on one line, got one with a line break`);
    lines.push(`${key}=${v}`);
  };
  add('host', f.host);
  add('port', f.port);
  add('tls-port', f.tlsPort);
  add('proxy', f.proxy);
  add('title', f.title);
  add('password', f.password);
  // A file holding a password should not outlive its use.
  if (f.password) lines.push('delete-this-file=1');
  return `${lines.join('\n')}\n`;
}
