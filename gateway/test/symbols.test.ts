import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../src/auth/identity.js';
import { CODECS, jsonCodec } from '../src/codecs.js';
import { loadConfig } from '../src/config/load.js';
import { Hub } from '../src/hub/hub.js';
import { createLogger } from '../src/log.js';
import { decimalsOf, editDistance, SymbolDirectory, type SymbolInfo } from '../src/symbols/directory.js';
import { currenciesOf, embeddedDirectory } from '../src/symbols/embedded.js';
import { fileDirectory } from '../src/symbols/file.js';
import { KafkaDirectory } from '../src/symbols/kafka.js';
import { parseSymbolRecord } from '../src/symbols/record.js';
import type { Session, SessionConfig, SessionLink, WriteResult } from '../src/transport/session.js';
import { Sessions } from '../src/transport/sessions.js';
import { answerSnapshot, isSnapshotRefusal, type SnapshotDeps } from '../src/transport/snapshot.js';
import type { ServerMessage } from '../../protocol/src/messages.js';

const info = (symbol: string, extra: Partial<SymbolInfo> = {}): SymbolInfo => ({
  symbol,
  tickSize: 0.01,
  lotSize: 1,
  ...currenciesOf(symbol),
  precision: 2,
  kinds: ['trade', 'quote'],
  ...extra,
});

describe('symbol directory', () => {
  it('derives tick, lot, currencies and precision from the embedded feed', () => {
    const dir = embeddedDirectory('BTC-USD,EUR-USD,AAPL,ZZZ');
    expect(dir.source).toBe('embedded');
    const by = Object.fromEntries(dir.list().map((s) => [s.symbol, s]));
    expect(by['BTC-USD']).toEqual({
      symbol: 'BTC-USD',
      tickSize: 0.01,
      lotSize: 0.00001,
      base: 'BTC',
      quote: 'USD',
      precision: 2,
      kinds: ['trade', 'quote', 'book', 'candle', 'stats'],
    });
    expect(by['EUR-USD']).toMatchObject({ tickSize: 0.00001, lotSize: 1000, base: 'EUR', quote: 'USD', precision: 5 });
    expect(by.AAPL).toMatchObject({ base: 'AAPL', quote: 'USD', lotSize: 1 });
    expect(by.ZZZ).toMatchObject({ tickSize: 0.01, precision: 2 });
    expect(dir.list().map((s) => s.symbol)).toEqual(['AAPL', 'BTC-USD', 'EUR-USD', 'ZZZ']);
  });

  it('counts decimals and edit distances', () => {
    expect([0.01, 0.001, 0.00001, 1, 1000, 0.5, 0.25].map(decimalsOf)).toEqual([2, 3, 5, 0, 0, 1, 2]);
    expect(editDistance('BTC-USD', 'BTC-USD', 2)).toBe(0);
    expect(editDistance('BTC-UDS', 'BTC-USD', 2)).toBe(2);
    expect(editDistance('BTCUSD', 'BTC-USD', 2)).toBe(1);
    expect(editDistance('DOGE-USDT', 'BTC-USD', 2)).toBe(3);
    expect(currenciesOf('ETHBTC')).toEqual({ base: 'ETH', quote: 'BTC' });
    expect(currenciesOf('SOLUSDT')).toEqual({ base: 'SOL', quote: 'USDT' });
  });

  it('knows market symbols, suggests close ones, and leaves other kinds alone', () => {
    const dir = new SymbolDirectory('test', [info('BTC-USD'), info('ETH-USD')]);
    expect(dir.unknown('trade.BTC-USD')).toBeUndefined();
    expect(dir.unknown('quote.ETH-USD@250ms')).toBeUndefined();
    expect(dir.unknown('trade.BTCUSD')).toBe('BTC-USD');
    expect(dir.unknown('trade.ETH-USDT')).toBe('ETH-USD');
    expect(dir.unknown('trade.DOGE-USDT')).toBe('');
    expect(dir.suggest('btc-usd')).toBe('BTC-USD');
    expect(dir.unknown('user.alice.fills')).toBeUndefined();
    expect(dir.unknown('sys.announce')).toBeUndefined();
    expect(dir.unknown('not a topic')).toBeUndefined();
    dir.delete('BTC-USD');
    expect(dir.unknown('trade.BTC-USD')).toBe('ETH-USD');
  });

  it('validates records: required sizes, defaults for the rest', () => {
    expect(parseSymbolRecord('BTC-USD', { tickSize: 0.5, lotSize: 0.001 })).toEqual({
      symbol: 'BTC-USD',
      tickSize: 0.5,
      lotSize: 0.001,
      base: 'BTC',
      quote: 'USD',
      precision: 1,
      kinds: ['trade', 'quote', 'book', 'candle', 'stats'],
    });
    expect(parseSymbolRecord('X', { tickSize: 1, lotSize: 1, base: 'XX', quote: 'EUR', precision: 3, kinds: ['trade'] })).toMatchObject({
      base: 'XX',
      quote: 'EUR',
      precision: 3,
      kinds: ['trade'],
    });
    expect(parseSymbolRecord('btc', { tickSize: 1, lotSize: 1 })).toMatch(/does not match/);
    expect(parseSymbolRecord('X', { lotSize: 1 })).toMatch(/tickSize/);
    expect(parseSymbolRecord('X', { tickSize: 1, lotSize: -1 })).toMatch(/lotSize/);
    expect(parseSymbolRecord('X', { tickSize: 1, lotSize: 1, kinds: ['level3'] })).toMatch(/kinds/);
    expect(parseSymbolRecord('X', [1])).toMatch(/map/);
  });

  it('reads a file, and refuses a bad one with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-symbols-'));
    const good = join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        symbols: [
          { symbol: 'BTC-USD', tickSize: 0.1, lotSize: 0.01 },
          { symbol: 'AAPL', tickSize: 0.01, lotSize: 1 },
        ],
      }),
    );
    const d = fileDirectory(good);
    expect(d.source).toBe('file');
    expect(d.list().map((s) => [s.symbol, s.tickSize])).toEqual([
      ['AAPL', 0.01],
      ['BTC-USD', 0.1],
    ]);
    const bare = join(dir, 'bare.json');
    writeFileSync(bare, JSON.stringify([{ symbol: 'A', tickSize: 1, lotSize: 1 }]));
    expect(fileDirectory(bare).size).toBe(1);
    const twice = join(dir, 'twice.json');
    writeFileSync(
      twice,
      JSON.stringify([
        { symbol: 'A', tickSize: 1, lotSize: 1 },
        { symbol: 'A', tickSize: 1, lotSize: 1 },
      ]),
    );
    expect(() => fileDirectory(twice)).toThrow(/listed twice/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ symbol: 'A', tickSize: 0, lotSize: 1 }]));
    expect(() => fileDirectory(bad)).toThrow(/A: tickSize/);
    writeFileSync(bad, '{');
    expect(() => fileDirectory(bad)).toThrow(/symbolsFile/);
  });

  it('applies Kafka records (JSON, msgpack, tombstones) and refuses nothing before it has caught up', () => {
    const dir = new KafkaDirectory({ brokers: [], clientId: 't', topic: 'symbols', catchUpMs: 0 }, createLogger('silent'));
    expect(dir.apply('BTC-USD', Buffer.from(JSON.stringify({ tickSize: 0.01, lotSize: 0.0001 })))).toBe(true);
    expect(dir.apply('ETH-USD', Buffer.from(pack({ tickSize: 0.1, lotSize: 0.001 })))).toBe(true);
    expect(dir.apply('BAD', Buffer.from('{'))).toBe(false);
    expect(dir.apply('BAD', Buffer.from(JSON.stringify({ tickSize: 1 })))).toBe(false);
    expect(dir.list().map((s) => [s.symbol, s.tickSize])).toEqual([
      ['BTC-USD', 0.01],
      ['ETH-USD', 0.1],
    ]);
    expect(dir.unknown('trade.DOGE-USD')).toBeUndefined();
    dir.apply('BTC-USD', null);
    expect(dir.has('BTC-USD')).toBe(false);
  });

  it('config: one directory source at a time, and the file must be readable', () => {
    expect(() => loadConfig({ overrides: { symbolsFile: '/nonexistent/symbols.json' } })).toThrow(/SYMBOLS_FILE.*not readable/);
    expect(() => loadConfig({ overrides: { symbolsFile: __filename, symbolsTopic: 'symbols' } })).toThrow(/SYMBOLS_TOPIC.*set one/);
    expect(loadConfig({ overrides: { symbolsTopic: 'symbols' } }).symbolsTopic).toBe('symbols');
  });
});

class Link implements SessionLink {
  readonly sent: ServerMessage[] = [];
  readonly measured = true;
  constructor(s: Session) {
    s.attach(this);
  }
  frame(f: Uint8Array): WriteResult {
    this.sent.push(JSON.parse(new TextDecoder().decode(f)));
    return 'sent';
  }
  message(m: ServerMessage): WriteResult {
    this.sent.push(m);
    return 'sent';
  }
  buffered = () => 0;
  cork = (fn: () => void) => fn();
  close(): void {}
  closeSlow(): void {}
}

const CFG: SessionConfig = {
  maxSubscriptionsPerConnection: 10,
  maxTopicsPerRequest: 100,
  topicsPerMessage: 10,
  maxMessagesPerSec: 100,
  maxConnectionLifetimeSec: 0,
  slowSoftBytes: 1_000,
  maxBackpressureBytes: 10_000,
  slowTimeoutMs: 5_000,
};
const EVERYONE: Identity = { sub: undefined, markets: () => true, expiresAt: undefined };
const newHub = () =>
  new Hub<Session>({
    epoch: 'E1',
    codecs: CODECS,
    maxTicksPerFrame: 100,
    historyMinWindowMs: 1,
    historyBudgetBytes: 1 << 20,
    historyMaxAgeMs: 1000,
  });

describe('Session: unknown_symbol', () => {
  function connect(symbols: SymbolDirectory | undefined) {
    const hub = newHub();
    hub.publish('trade.BTC-USD', { ts: 1, px: 1, qty: 1, side: 'b' });
    hub.flush(() => undefined, 0);
    const errors: string[] = [];
    const sessions = new Sessions(CFG, hub, { opened() {}, closed() {} }, createLogger('silent'), (c) => errors.push(c));
    sessions.symbols = symbols;
    const s = sessions.create(jsonCodec.id, '10.0.0.1', EVERYONE, false, 0);
    const link = new Link(s);
    sessions.open(s, 0);
    return { s, link, errors };
  }

  it('refuses the unknown topics with a suggestion each, and acknowledges the others', () => {
    const dir = new SymbolDirectory('test', [info('BTC-USD'), info('ETH-USD')]);
    const { s, link, errors } = connect(dir);
    s.request({ op: 'sub', id: 4, topics: ['trade.BTC-USD', 'trade.BTC-UDS', 'trade.DOGE-USDT', 'quote.NOPE-X', 'user.a.b'] }, 0);
    expect(link.sent.slice(0, 3)).toEqual([
      { op: 'err', id: 4, code: 'forbidden', msg: expect.any(String), topics: ['user.a.b'] },
      {
        op: 'err',
        id: 4,
        code: 'unknown_symbol',
        msg: 'unknown symbol in trade.BTC-UDS; did you mean BTC-USD?',
        topics: ['trade.BTC-UDS'],
      },
      {
        op: 'err',
        id: 4,
        code: 'unknown_symbol',
        msg: expect.stringContaining('GET /v1/symbols'),
        topics: ['trade.DOGE-USDT', 'quote.NOPE-X'],
      },
    ]);
    expect(link.sent[3]).toEqual({ op: 'ack', id: 4, topics: ['trade.BTC-USD'] });
    expect(link.sent[4]).toMatchObject({ op: 'snap', topic: 'trade.BTC-USD' });
    expect(errors).toEqual(['forbidden', 'unknown_symbol', 'unknown_symbol']);
    expect([...s.topics]).toEqual(['sys.announce', 'trade.BTC-USD']);
  });

  it("accepts every symbol without a directory (today's behaviour)", () => {
    const { s, link } = connect(undefined);
    s.request({ op: 'sub', id: 1, topics: ['trade.DOGE-USDT'] }, 0);
    expect(link.sent).toEqual([{ op: 'ack', id: 1, topics: ['trade.DOGE-USDT'] }]);
  });
});

describe('GET /v1/snapshot answers', () => {
  const hub = newHub();
  hub.publish('trade.BTC-USD', { ts: 1, px: 1, qty: 1, side: 'b' });
  hub.publish('trade.BTC-USD', { ts: 2, px: 2, qty: 1, side: 's' });
  hub.publish('quote.ETH-USD', { ts: 3, bid: 1, bsz: 1, ask: 2, asz: 1 }, 'ticks/0', 41);
  hub.flush(() => undefined, 0);
  const deps = (over: Partial<SnapshotDeps> = {}): SnapshotDeps => ({
    hub,
    auth: { verifier: undefined, anonymous: undefined },
    symbols: new SymbolDirectory('test', [info('BTC-USD'), info('ETH-USD'), info('SOL-USD')]),
    maxTopicsPerRequest: 4,
    ...over,
  });
  const ask = (topics: string, d = deps()) => answerSnapshot(d, { topics, authz: '', queryToken: '', now: 0 });

  it('gives each topic the snap a sub would get now, and per-topic errors', () => {
    const a = ask('trade.BTC-USD, quote.ETH-USD,trade.SOL-USD,trade.BTCUSD');
    expect(isSnapshotRefusal(a)).toBe(false);
    if (isSnapshotRefusal(a)) return;
    expect(a.snaps).toEqual({
      'trade.BTC-USD': { op: 'snap', topic: 'trade.BTC-USD', seq: 2, epoch: 'E1', data: { ts: 2, px: 2, qty: 1, side: 's' } },
      'quote.ETH-USD': {
        op: 'snap',
        topic: 'quote.ETH-USD',
        seq: 1,
        epoch: 'E1',
        data: { ts: 3, bid: 1, bsz: 1, ask: 2, asz: 1 },
        src: 'ticks/0',
        off: 41,
      },
    });
    expect(a.errors).toEqual({
      'trade.SOL-USD': { code: 'no_data', msg: expect.any(String) },
      'trade.BTCUSD': { code: 'unknown_symbol', msg: 'unknown symbol in trade.BTCUSD; did you mean BTC-USD?' },
    });
    const views = ask('trade.BTC-USD@250ms,bad topic');
    expect(views).toMatchObject({ snaps: { 'trade.BTC-USD@250ms': { seq: 2 } }, errors: { 'bad topic': { code: 'bad_topic' } } });
  });

  it('refuses the request only for its size or its credentials; entitlements are per topic', () => {
    expect(ask('')).toMatchObject({ status: '400 Bad Request', body: { code: 'bad_request' } });
    expect(ask('trade.A,trade.B,trade.C,trade.D,trade.E')).toMatchObject({ status: '400 Bad Request', body: { code: 'too_many_topics' } });
    const verifier = {
      verify: (token: string) => {
        if (token !== 'good') throw new Error('bad');
        return { sub: 'u', markets: (t: string) => t.endsWith('BTC-USD'), expiresAt: undefined };
      },
    } as unknown as SnapshotDeps['auth']['verifier'];
    const jwt = deps({ auth: { verifier, anonymous: undefined } });
    expect(answerSnapshot(jwt, { topics: 'trade.BTC-USD', authz: '', queryToken: '', now: 0 })).toMatchObject({
      status: '401 Unauthorized',
    });
    expect(answerSnapshot(jwt, { topics: 'trade.BTC-USD', authz: 'Bearer nope', queryToken: '', now: 0 })).toMatchObject({
      status: '401 Unauthorized',
    });
    const ok = answerSnapshot(jwt, { topics: 'trade.BTC-USD,quote.ETH-USD', authz: '', queryToken: 'good', now: 0 });
    expect(ok).toMatchObject({ snaps: { 'trade.BTC-USD': { seq: 2 } }, errors: { 'quote.ETH-USD': { code: 'forbidden' } } });
  });
});
