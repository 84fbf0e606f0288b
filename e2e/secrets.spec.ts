/**
 * The password and the relay key stay where they belong with the launchers
 * (`npm start`, `npm run host`): never in a served file, a URL, the process
 * list, the output or Chromium's environment; the right password still works
 * and a wrong one is refused and reported in the host's output.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { comparePixels, freePort, run, spicyScreenshot } from './harness.ts';
import { expectCanvasEquals, expectedFrame, pauseAndSettle } from './pages.ts';

const ROOT = join(import.meta.dirname, '..');
/** Distinctive, so any leak is found by a plain search. */
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-leak-probe`;

interface Launched {
  pid: number;
  out: () => string;
  exited: Promise<number | null>;
  stop(): void;
}

function launch(script: 'start' | 'host', args: string[], env: NodeJS.ProcessEnv = {}): Launched {
  // As npm runs them: tsx registered in-process, no wrapper process in between.
  const proc = spawn(process.execPath, ['scripts/run.mjs', `scripts/${script}.ts`, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return {
    pid: proc.pid!,
    out: () => out,
    exited: new Promise((r) => proc.on('exit', (code) => r(code))),
    stop: () => proc.kill('SIGTERM'),
  };
}

/** Every process's command line, as `ps` shows them to any user. */
async function processList(): Promise<string> {
  return (await run('ps', ['-eo', 'args', '--no-headers'])).stdout;
}

/** The environment of each descendant of `pid` (Chromium and its helpers). */
function descendantEnvironments(pid: number): string[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: string[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      try {
        out.push(readFileSync(`/proc/${c}/environ`, 'utf8'));
      } catch {
        /* gone meanwhile */
      }
      walk(c);
    }
  };
  walk(pid);
  return out;
}

let dir: string;
test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'spice-secrets-'));
  writeFileSync(join(dir, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('npm start --password-file: the page works, and no served file, URL, process or output line holds the password', async ({ browser }) => {
  const [port, relayPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
  const app = launch('start', ['--port', String(port), '--relay-port', String(relayPort), '--tcp-port', String(tcpPort), '--password-file', join(dir, 'password')]);
  const ctx = await browser.newContext();
  try {
    await expect.poll(app.out, { timeout: 60_000 }).toContain('open the page:');
    const url = /open the page:\s+(\S+)/.exec(app.out())![1]!;
    expect(url).not.toContain(PASSWORD);
    expect(app.out()).toContain('password:             required');

    // Everything the page and its workers load, as a browser gets it.
    const bodies: Array<{ url: string; body: Buffer }> = [];
    ctx.on('response', async (r) => {
      try {
        bodies.push({ url: r.url(), body: await r.body() });
      } catch {
        /* redirects and aborted loads have no body */
      }
    });
    const page = await ctx.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.spiceHost !== undefined || window.spiceHostError !== undefined, null, { timeout: 60_000 });
    expect(await page.evaluate(() => window.spiceHostError)).toBeUndefined();
    expect(await page.evaluate(() => window.spiceHost!.relay.ticketCheck)).toBe('relay');
    await expect(page.locator('#password-state')).toContainText('required');
    expect(await page.locator('#web-client').getAttribute('href')).not.toContain('password');

    // The right password gets the exact picture; a wrong one is refused and reported.
    const frame = await pauseAndSettle({ page, logs: [] });
    const shot = await spicyScreenshot(tcpPort, PASSWORD);
    expect(shot.image, shot.result.stderr).not.toBeNull();
    expect(comparePixels(shot.image!.rgb, expectedFrame(frame), 1024).diff).toBe(0);
    const wrong = await spicyScreenshot(tcpPort, 'not-the-password');
    expect(wrong.image).toBeNull();
    await expect.poll(app.out, { timeout: 10_000 }).toMatch(/authentication failed for tcp client 127\.0\.0\.1:\d+ session=default: wrong password/);
    // The page's own warning reached this output through the relay.
    await expect.poll(app.out, { timeout: 10_000 }).toMatch(/page session=default: \[spice-server\] link refused/);

    // The demo's web-client link carries no password: spice-html5's page asks for it, then shows the picture.
    const client = await ctx.newPage();
    await client.goto(new URL((await page.locator('#web-client').getAttribute('href'))!, url).toString());
    await expect(client.locator('#login')).toBeVisible({ timeout: 20_000 });
    await client.fill('#password', PASSWORD);
    await client.click('#login button');
    await expectCanvasEquals({ page: client, logs: [] }, expectedFrame(frame), 'the paused frame', 60_000);
    await expect(client.locator('#login')).toBeHidden();
    expect(client.url()).not.toContain(PASSWORD);

    expect(bodies.length).toBeGreaterThan(10);
    for (const b of bodies) expect(b.body.includes(PASSWORD), `${b.url} holds the password`).toBe(false);
    expect(await processList()).not.toContain(PASSWORD);
    expect(app.out()).not.toContain(PASSWORD);
  } finally {
    await ctx.close();
    app.stop();
  }
  expect(await app.exited).toBe(0);
});

test('npm run host with SPICE_PASSWORD: Chromium, ps and the output never see the password or the relay key', async () => {
  const [port, relayPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
  const keyFile = join(dir, 'relay.key');
  const host = launch(
    'host',
    ['--headless', '--port', String(port), '--relay-port', String(relayPort), '--tcp-port', String(tcpPort), '--relay-key-file', keyFile],
    { SPICE_PASSWORD: PASSWORD },
  );
  try {
    await expect.poll(host.out, { timeout: 90_000 }).toContain('is hosting session "default"');
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(key.length).toBeGreaterThanOrEqual(16);
    const shot = await spicyScreenshot(tcpPort, PASSWORD);
    expect(shot.image, shot.result.stderr).not.toBeNull();
    expect(`${shot.image!.width}x${shot.image!.height}`).toBe('1024x768');
    expect((await spicyScreenshot(tcpPort, 'guess')).image).toBeNull();
    await expect.poll(host.out, { timeout: 10_000 }).toMatch(/page session=default: \[spice-server\] link refused/);

    const envs = descendantEnvironments(host.pid);
    expect(envs.length).toBeGreaterThan(0); // Chromium's processes
    for (const e of envs) {
      expect(e).not.toContain(PASSWORD);
      expect(e).not.toContain('SPICE_PASSWORD');
      expect(e).not.toContain(key);
    }
    const ps = await processList();
    expect(ps).not.toContain(PASSWORD);
    expect(ps).not.toContain(key);
    expect(host.out()).not.toContain(PASSWORD);
    expect(host.out()).not.toContain(key);
  } finally {
    host.stop();
  }
  expect(await host.exited).toBe(0);
});

test('without a password the launcher says so loudly; off loopback it refuses unless told otherwise', async () => {
  const loud = launch('start', ['--port', String(await freePort()), '--relay-port', String(await freePort()), '--tcp-port', 'off']);
  try {
    await expect.poll(loud.out, { timeout: 60_000 }).toContain('open the page:');
    expect(loud.out()).toMatch(/NO PASSWORD: anyone who can reach 127\.0\.0\.1 may connect/);
  } finally {
    loud.stop();
  }
  expect(await loud.exited).toBe(0);

  // 192.0.2.1 (TEST-NET-1) is never bound: the launcher refuses before it listens anywhere.
  const exposed = launch('start', ['--host', '192.0.2.1', '--tcp-port', 'off']);
  expect(await exposed.exited).toBe(2);
  expect(exposed.out()).toMatch(/--host 192\.0\.2\.1 exposes the session to the network: give a password/);

  const argv = launch('start', ['--port', String(await freePort()), '--relay-port', String(await freePort()), '--tcp-port', 'off', '--password', 'on-the-command-line']);
  try {
    await expect.poll(argv.out, { timeout: 60_000 }).toContain('open the page:');
    expect(argv.out()).toMatch(/--password on the command line is visible to every user of this machine \(ps\)/);
  } finally {
    argv.stop();
  }
  expect(await argv.exited).toBe(0);
});
