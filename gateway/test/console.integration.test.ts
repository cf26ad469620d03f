/**
 * What a person at the terminal sees (issue 17, point 4): a banner and readable logs on a TTY,
 * JSON lines for machines. The TTY is a real pseudo-terminal from util-linux `script`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN } from './support/process.js';
import { waitFor } from './support/wait.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) {
    // Detached: the group is the gateway (and `script` around it, when there is one).
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function run(cmd: string, args: string[], env: Record<string, string>): { out: () => string; child: ChildProcess } {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { out: () => out, child };
}

const GATEWAY_ARGS = ['--host', '127.0.0.1', '--port', '0', '--feed-rate', '0'];
const BANNER_WS = /WebSocket +ws:\/\/127\.0\.0\.1:(\d+)\/v1/;

describe('the console', () => {
  it('on a terminal: a banner with the URLs, and readable log lines instead of JSON', async () => {
    const cmd = [process.execPath, MAIN, ...GATEWAY_ARGS].map((a) => `'${a}'`).join(' ');
    const { out } = run('script', ['-qfec', cmd, '/dev/null'], { TICKWIRE_WORKERS: '1', TERM: 'dumb' });
    const m = await waitFor(() => BANNER_WS.exec(out()), { what: 'the banner', timeoutMs: 30_000 });
    const text = out();
    expect(text).toMatch(/Ops page +http:\/\/127\.0\.0\.1:\d+\/ops/);
    expect(text).toMatch(/Workers +1\r?\n/);
    const listening = text.split(/\r?\n/).find((l) => l.includes('tickwire listening on'));
    expect(listening).toMatch(/^\d\d:\d\d:\d\d\.\d{3} .*INFO.* tickwire listening on 127\.0\.0\.1:(\d+)/);
    expect(listening).toContain(`:${m[1]} `);
    expect(text.split(/\r?\n/).filter((l) => l.startsWith('{'))).toEqual([]);
  });

  it('on a pipe: JSON lines only, no banner', async () => {
    const { out } = run(process.execPath, [MAIN, ...GATEWAY_ARGS], { TICKWIRE_WORKERS: '1' });
    await waitFor(() => out().includes('"port":'), { what: 'the listening line', timeoutMs: 30_000 });
    const lines = out()
      .split('\n')
      .filter((l) => l !== '');
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(out()).not.toMatch(BANNER_WS);
  });

  it('TICKWIRE_LOG_FORMAT=pretty on a pipe, with workers: banner, and the workers log readably too', async () => {
    const env = { TICKWIRE_WORKERS: '2', TICKWIRE_LOG_FORMAT: 'pretty', TICKWIRE_LOG_LEVEL: 'debug' };
    const { out } = run(process.execPath, [MAIN, ...GATEWAY_ARGS], env);
    // Worker threads log to a pipe of their own: the format must reach them from the primary.
    await waitFor(() => BANNER_WS.test(out()) && /DEBUG \[worker 1\] worker listening/.test(out()), {
      what: 'banner and a worker line',
      timeoutMs: 30_000,
    });
    expect(out()).toMatch(/Workers +2\n/);
    expect(
      out()
        .split('\n')
        .filter((l) => l.startsWith('{')),
    ).toEqual([]);
  });
});
