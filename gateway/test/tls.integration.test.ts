import { decode } from '@msgpack/msgpack';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../src/config/load.js';
import type { Gateway } from '../src/gateway.js';
import { checkTopicStream, encodeMsgpack, type Msg } from './support/client.js';
import { startTestGateway } from './support/gateway.js';
import { spawnGateway, stopAll } from './support/process.js';
import { waitFor } from './support/wait.js';

/** TLS (tlsCertFile/tlsKeyFile): wss:// and https:// with a certificate the client really verifies. */
const dir = mkdtempSync(join(tmpdir(), 'tickwire-tls-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
const TOPIC = 'quote.BTC-USD';
afterAll(() => {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** A wss:// client (ws + a standard msgpack decoder) that keeps every message. */
function wss(port: number, opts: WebSocket.ClientOptions): Promise<{ ws: WebSocket; messages: Msg[] }> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/v1`, ['tickwire.v1.msgpack'], opts);
  const messages: Msg[] = [];
  ws.on('message', (d: Buffer) => messages.push(decode(d) as Msg));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

const until = async (cond: () => boolean, ms: number, what: string) => {
  await waitFor(cond, { what, timeoutMs: ms, intervalMs: 10 });
};

function httpsGetText(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, ca ? { ca } : {}, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('TLS: wss:// and https:// with a self-signed certificate', () => {
  let gw: Gateway;
  let ca: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    execFileSync(
      '/usr/bin/openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'pipe' },
    );
    ca = readFileSync(certFile, 'utf8');
    gw = await startTestGateway({ tlsCertFile: certFile, tlsKeyFile: keyFile, feedRate: 2000 });
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await gw?.stop();
  });

  it('a client that verifies the certificate (ca, no rejectUnauthorized:false) subscribes, gets a snap, then consecutive upd', async () => {
    const c = await wss(gw.port, { ca });
    sockets.push(c.ws);
    const tls = (c.ws as unknown as { _socket: TLSSocket })._socket;
    expect(tls.encrypted).toBe(true);
    expect(tls.authorized).toBe(true);
    expect(tls.getPeerCertificate().subject.CN).toBe('127.0.0.1');

    c.ws.send(encodeMsgpack({ op: 'sub', id: 1, topics: [TOPIC] }));
    await until(() => c.messages.filter((m) => m.topic === TOPIC).length >= 30, 20_000, 'stream over wss');
    expect(c.messages.find((m) => m.op === 'ack')).toMatchObject({ op: 'ack', id: 1, topics: [TOPIC] });
    const stream = c.messages.filter((m) => m.topic === TOPIC);
    expect(stream[0]).toMatchObject({ op: 'snap', topic: TOPIC, epoch: gw.epoch });
    expect(checkTopicStream(stream)).toBeGreaterThanOrEqual(29);

    c.ws.send(encodeMsgpack({ op: 'ping', id: 5 }));
    await until(() => c.messages.some((m) => m.op === 'pong'), 15_000, 'pong');
    expect(c.messages.find((m) => m.op === 'pong')).toEqual({ op: 'pong', id: 5 });
  });

  it('without the CA the client refuses the certificate: verification is really on', async () => {
    await expect(wss(gw.port, {})).rejects.toThrow(/self[- ]signed/i);
  });

  it('https:// serves /healthz and /metrics', async () => {
    const h = await httpsGetText(`https://127.0.0.1:${gw.port}/healthz`, ca);
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body)).toEqual({ status: 'ok' });
    const m = await httpsGetText(`https://127.0.0.1:${gw.port}/metrics`, ca);
    expect(m.status).toBe(200);
    expect(m.body).toMatch(/^tickwire_connections \d+$/m);
    await expect(httpsGetText(`https://127.0.0.1:${gw.port}/healthz`)).rejects.toThrow(/self[- ]signed/i);
  });

  it('plain ws:// and http:// to the TLS port fail', async () => {
    const plain = new WebSocket(`ws://127.0.0.1:${gw.port}/v1`);
    sockets.push(plain);
    const outcome = await new Promise<string>((resolve) => {
      plain.once('open', () => resolve('open'));
      plain.once('error', (e) => resolve(`error: ${e.message}`));
      plain.once('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
      setTimeout(() => resolve('timeout'), 5000);
    });
    expect(outcome).toMatch(/^error/);
    await expect(fetch(`http://127.0.0.1:${gw.port}/healthz`)).rejects.toThrow();
    // The TLS side is unaffected.
    expect((await httpsGetText(`https://127.0.0.1:${gw.port}/healthz`, ca)).status).toBe(200);
  });
});

describe('TLS configuration', () => {
  it('tlsCertFile without tlsKeyFile (or the reverse) is a ConfigError naming tlsKeyFile', async () => {
    for (const overrides of [{ tlsCertFile: certFile }, { tlsKeyFile: keyFile }]) {
      let err: unknown;
      try {
        loadConfig({ overrides });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/TICKWIRE_TLS_KEY_FILE \(--tls-key-file\)/);
      expect((err as Error).message).toMatch(/tlsKeyFile/);
    }
    // startTestGateway throws synchronously (loadConfig) today; either way it must not start.
    await expect((async () => startTestGateway({ tlsCertFile: certFile }))()).rejects.toThrow(/tlsKeyFile/);
  });

  it('the process refuses to start with exit code 2, naming the setting', async () => {
    const e = await spawnGateway(['--tls-cert-file', certFile]).then(
      () => undefined,
      (x: { code: number; stderr: string }) => x,
    );
    expect(e?.code).toBe(2);
    expect(e?.stderr).toMatch(/TICKWIRE_TLS_KEY_FILE \(--tls-key-file\).*tlsKeyFile/);
  });

  // docs/configuration.md: "A bad value stops startup with exit code 2 and a message naming the
  // setting" (jwtPublicKeyFile does this). A TLS file that cannot be read instead fails inside
  // uWS.SSLApp: exit code 1 and "failed to start: Error: App construction failed" with a stack
  // trace, naming neither the setting nor the path.
  it('a TLS file that cannot be read stops startup with exit code 2, naming the setting', async () => {
    const e = await spawnGateway(['--tls-cert-file', join(dir, 'missing-cert.pem'), '--tls-key-file', join(dir, 'missing-key.pem')]).then(
      () => undefined,
      (x: { code: number; stderr: string }) => x,
    );
    expect(e, 'the gateway started with missing TLS files').toBeDefined();
    expect(e?.stderr).toMatch(/tlsCertFile|TLS_CERT_FILE|tls-cert-file/);
    expect(e?.code).toBe(2);
  });
});
