import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { httpGet } from './gateway.js';
import { waitFor } from './wait.js';

/**
 * HAProxy (Debian's package) on loopback in front of gateway instances, configured as the
 * operations guide recommends for WebSocket: HTTP mode (the upgrade passes through), a long
 * `timeout tunnel` for established WebSockets, health checks on /readyz, leastconn, and
 * redispatch so a connect to a dead instance is retried on another.
 */
export interface Haproxy {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop(): void;
}

/** The haproxy binary (TICKWIRE_HAPROXY, else PATH and sbin), or an error saying how to install it (the LB test must not skip). */
export function findHaproxy(): string {
  if (process.env.TICKWIRE_HAPROXY) return process.env.TICKWIRE_HAPROXY;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, 'haproxy');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  throw new Error('haproxy is not installed: the load-balancer test needs it (bash scripts/prereqs.sh installs it, as npm test does)');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export function haproxyConfig(port: number, backends: readonly number[]): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    // Once upgraded, a WebSocket is a tunnel: this, not client/server, bounds its idle time.
    // tickwire sends hb every 2 s, so anything well above that works.
    '  timeout tunnel 1h',
    '  timeout client-fin 1s',
    '  timeout server-fin 1s',
    '  retries 3',
    '  option redispatch 1',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance leastconn',
    // HTTP/1.1 with a Host header: uWS does not answer an HTTP/1.0 request without Host, which
    // is what a bare `option httpchk GET /readyz` sends (every check would time out).
    '  option httpchk',
    '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host tickwire hdr Connection close',
    '  http-check expect status 200',
    '  timeout check 1s',
    '  default-server inter 300ms fall 2 rise 2',
    ...backends.map((p, i) => `  server gw${i + 1} 127.0.0.1:${p} check`),
    '',
  ].join('\n');
}

/** Starts haproxy in the foreground (-db) and resolves once /readyz answers 200 through it. */
export async function startHaproxy(backends: readonly number[]): Promise<Haproxy> {
  const bin = findHaproxy();
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-haproxy-'));
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(port, backends));
  const child = spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = () => {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Stops early when haproxy exits: no point polling a dead process.
    await waitFor(async () => exited || (await httpGet(port, '/readyz')).status === 200, {
      what: `haproxy on ${port} to serve /readyz`,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
  } catch (e) {
    stop();
    throw new Error(`${String(e)}:\n${out}`, { cause: e });
  }
  if (exited) {
    stop();
    throw new Error(`haproxy exited at startup:\n${out}`);
  }
  return { port, child, output: () => out, stop };
}
