import { readFileSync } from 'node:fs';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { asyncApiDocument, MESSAGE_SCHEMAS } from '../src/asyncapi.js';
import { CODECS } from './support/codecs.js';
import { CLOSE_CODES, ERROR_CODES } from '../src/errors.js';
import { ROOT } from '../../gateway/test/support/process.js';

/**
 * docs/asyncapi.yaml (issue 17, point 6): generated from the protocol tables, valid AsyncAPI 3.0
 * by the official parser, and every wire fixture (docs/fixtures/wire.json) is an instance of the
 * schema of its message.
 */
const YAML_FILE = `${ROOT}docs/asyncapi.yaml`;
const doc = asyncApiDocument() as { components: { schemas: Record<string, unknown> } };

function validator(): (schema: string, value: unknown) => { ok: boolean; errors: string } {
  // Not strict: the document carries AsyncAPI's own keywords (x-codes, format: double).
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'asyncapi', components: doc.components });
  return (schema, value) => {
    const v = ajv.getSchema(`asyncapi#/components/schemas/${schema}`);
    if (!v) throw new Error(`no schema ${schema}`);
    const ok = v(value) as boolean;
    return { ok, errors: ajv.errorsText(v.errors) };
  };
}

describe('AsyncAPI document', () => {
  it('is valid AsyncAPI 3.0 according to @asyncapi/parser (no error diagnostics)', async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(YAML_FILE, 'utf8'));
    // The parser's DiagnosticSeverity and the one its diagnostics are typed with come from two installed copies of
    // @stoplight/types (13.20 and spectral-core's 13.6): the same enum, which the rule cannot see.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.path.join('.')}: ${d.message}`);
    expect(errors).toEqual([]);
    expect(document).toBeDefined();
    expect(document!.version()).toBe('3.0.0');
    expect(
      document!
        .channels()
        .all()
        .map((c) => c.address()),
    ).toEqual(['/v1', '/v1/sse']);
    const ops = document!
      .operations()
      .all()
      .map((o) => [
        o.id(),
        o.action(),
        o
          .messages()
          .all()
          .map((m) => m.name()),
      ]);
    expect(ops).toEqual([
      ['sendRequest', 'send', ['sub', 'unsub', 'ping']],
      ['receiveStream', 'receive', ['ack', 'err', 'snap', 'upd', 'hb', 'pong', 'shutdown']],
      ['receiveSse', 'receive', ['ack', 'err', 'snap', 'upd', 'hb', 'pong', 'shutdown', 'close']],
    ]);
  });

  it('is what the protocol tables generate (npm run docs:asyncapi rewrites it)', () => {
    expect(parseYaml(readFileSync(YAML_FILE, 'utf8'))).toEqual(JSON.parse(JSON.stringify(asyncApiDocument())));
  });

  it('carries every subprotocol, error code and close code of the tables', () => {
    const text = readFileSync(YAML_FILE, 'utf8');
    const parsed = parseYaml(text) as {
      channels: { stream: { bindings: { ws: { headers: { properties: Record<string, { enum: string[] }> } } } } };
      components: { schemas: { ErrorCode: { enum: string[] }; CloseCode: { enum: number[] } } };
    };
    expect(parsed.channels.stream.bindings.ws.headers.properties['Sec-WebSocket-Protocol']!.enum).toEqual(CODECS.map((c) => c.subprotocol));
    expect(parsed.components.schemas.ErrorCode.enum).toEqual(Object.keys(ERROR_CODES));
    expect(parsed.components.schemas.CloseCode.enum).toEqual(Object.values(CLOSE_CODES).map((c) => c.code));
  });

  it('describes every wire fixture: each decoded message is an instance of its schema', () => {
    const { fixtures } = JSON.parse(readFileSync(`${ROOT}docs/fixtures/wire.json`, 'utf8')) as {
      fixtures: { name: string; message: { op: string } }[];
    };
    const check = validator();
    const ops = new Set<string>();
    for (const f of fixtures) {
      const schema = MESSAGE_SCHEMAS[f.message.op];
      expect(schema, `${f.name}: op ${f.message.op} has no message in the document`).toBeDefined();
      const r = check(schema!, f.message);
      expect(r.ok, `${f.name}: ${r.errors}`).toBe(true);
      ops.add(f.message.op);
    }
    expect([...ops].sort()).toEqual(['ack', 'err', 'hb', 'ping', 'pong', 'snap', 'sub', 'unsub', 'upd']);
  });

  it('rejects what the protocol does not allow (the schemas are not vacuous)', () => {
    const check = validator();
    const trade = { ts: 1, px: 1.5, qty: 2, side: 'b' };
    expect(check('Snap', { op: 'snap', topic: 'trade.BTC-USD', seq: 1, epoch: 'e', data: trade }).ok).toBe(true);
    expect(check('Snap', { op: 'snap', topic: 'trade.btc-usd', seq: 1, epoch: 'e', data: trade }).ok).toBe(false);
    expect(check('Snap', { op: 'snap', topic: 'trade.BTC-USD', seq: 0, epoch: 'e', data: trade }).ok).toBe(false);
    expect(check('Upd', { op: 'upd', topic: 'quote.AAPL@100ms', seq: 5, data: [] }).ok).toBe(false);
    expect(check('Upd', { op: 'upd', topic: 'quote.AAPL@150ms', seq: 5, data: [trade] }).ok).toBe(false);
    expect(check('Err', { op: 'err', code: 'no_such_code', msg: 'x' }).ok).toBe(false);
    expect(check('Sub', { op: 'sub', id: 1, topics: ['trade.BTC-USD'], since: { 'trade.BTC-USD': { epoch: 'e' } } }).ok).toBe(false);
    expect(check('TradeTick', { ...trade, side: 'x' }).ok).toBe(false);
  });
});
