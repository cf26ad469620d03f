import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { banner } from '../src/banner.js';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { prettyLine } from '../src/log-format.js';
import { prettyLogs } from '../src/log.js';

/** What pino writes for `log.<level>(obj, msg)`, through the same options the gateway uses. */
function jsonLine(write: (log: pino.Logger) => void, bindings: Record<string, unknown> = {}): string {
  let line = '';
  const log = pino({ level: 'trace', base: { svc: 'tickwire' } }, { write: (s: string) => (line = s) }).child(bindings);
  write(log);
  return line;
}

describe('pretty log lines', () => {
  it('show time, level, message and every other field of the JSON line', () => {
    const line = jsonLine((l) => l.warn({ port: 9001, topic: 'trade.BTC-USD', reason: 'two words' }, 'slow consumer closed'));
    const out = prettyLine(line, { color: false });
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow consumer closed {2}port=9001 topic=trade\.BTC-USD reason="two words"\n$/);
    expect(out).not.toContain('svc');
    expect(() => JSON.parse(out)).toThrow();
  });

  it('name the worker and print an error with its stack below the line', () => {
    const line = jsonLine((l) => l.error({ err: new Error('boom') }, 'flush failed'), { worker: 1 });
    const out = prettyLine(line, { color: false });
    const [first, ...rest] = out.trimEnd().split('\n');
    expect(first).toMatch(/ERROR \[worker 1\] flush failed$/);
    expect(rest[0]).toBe('    Error: boom');
    expect(rest.length).toBeGreaterThan(1);
  });

  it('colour the level only when asked', () => {
    const line = jsonLine((l) => l.info('hello'));
    expect(prettyLine(line, { color: true })).toContain('\u001b[36mINFO \u001b[0m hello');
    expect(prettyLine(line, { color: false })).not.toContain('\u001b');
  });

  it('pass a line that is not a JSON object through unchanged', () => {
    expect(prettyLine('not json', { color: false })).toBe('not json\n');
    expect(prettyLine('[1,2]\n', { color: false })).toBe('[1,2]\n');
  });

  it('are chosen by logFormat, and for auto by whether stdout is a terminal', () => {
    expect(prettyLogs('auto', true)).toBe(true);
    expect(prettyLogs('auto', false)).toBe(false);
    expect(prettyLogs('json', true)).toBe(false);
    expect(prettyLogs('pretty', false)).toBe(true);
    expect(loadConfig({ env: { TICKWIRE_LOG_FORMAT: 'pretty' } }).logFormat).toBe('pretty');
    expect(() => loadConfig({ env: { TICKWIRE_LOG_FORMAT: 'xml' } })).toThrow(/TICKWIRE_LOG_FORMAT/);
  });
});

describe('start-up banner', () => {
  it('gives the URLs a newcomer needs and the settings that decide what they see', () => {
    const text = banner(loadConfig({ env: {} }), 9001, '1.2.3');
    expect(text).toContain('tickwire 1.2.3 — listening on port 9001 (all interfaces)');
    expect(text).toMatch(/WebSocket +ws:\/\/127\.0\.0\.1:9001\/v1/);
    expect(text).toMatch(/Live board +http:\/\/127\.0\.0\.1:9001\//);
    expect(text).toMatch(/Ops page +http:\/\/127\.0\.0\.1:9001\/ops/);
    expect(text).toMatch(/Metrics +http:\/\/127\.0\.0\.1:9001\/metrics/);
    expect(text).toMatch(/Source +embedded market simulator, 7 symbols, 1000 ticks\/s/);
    expect(text).toMatch(/Auth +none — anyone may connect/);
  });

  it('follows TLS, Kafka, a fixed worker count and JWT', () => {
    // The banner only reads settings: files named in them need not exist here.
    const cfg: Config = {
      ...loadConfig({ env: {} }),
      ...{ host: '127.0.0.1', tlsCertFile: 'c.pem', tlsKeyFile: 'k.pem', source: 'kafka', kafkaBrokers: 'k1:9092', workers: 3 },
      ...{ authMode: 'jwt', jwtSecret: 'x'.repeat(32), anonymousTopics: 'trade.*' },
    };
    const text = banner(cfg, 8443, '1.2.3');
    expect(text).toContain('(127.0.0.1 only)');
    expect(text).toMatch(/WebSocket +wss:\/\/127\.0\.0\.1:8443\/v1/);
    expect(text).toMatch(/Metrics +https:\/\/127\.0\.0\.1:8443\/metrics/);
    expect(text).toMatch(/Source +Kafka k1:9092, topics ticks/);
    expect(text).toMatch(/Workers +3\n/);
    expect(text).toMatch(/Auth +JWT required \(anonymous: trade\.\*\)/);
  });
});
