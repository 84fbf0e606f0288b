/** `npm start`: the relay plus the demo page; open the page in a browser and it starts hosting. */
import { SERVE_HELP, parseServeArgs, serve, stopOnSignal } from './serve.ts';

try {
  const o = parseServeArgs(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(`Usage: npm start -- [options]\n\nServes the demo page and the relay.\n\n${SERVE_HELP}`);
    process.exit(0);
  }
  const s = await serve(o);
  process.stdout.write(
    `\nspice-web-server demo\n` +
      `  open the page:        ${s.pageUrl}\n` +
      (s.nativeUrl ? `  then connect:         remote-viewer ${s.nativeUrl}\n` : '') +
      (s.proxyCommand ? `  through the relay:    ${s.proxyCommand}\n` : '') +
      (s.tlsUrl ? `  over TLS:             remote-viewer "${s.tlsUrl}" --spice-ca-file=CA.pem\n` : '') +
      `  or spice-html5 to:    ${s.webSocketUrl}\n` +
      (o.password ? `  password:             required\n` : '') +
      `Ctrl+C stops.\n`,
  );
  stopOnSignal(s.stop);
} catch (e) {
  process.stderr.write(`npm start: ${(e as Error).message}\n`);
  process.exit(2);
}
