import { decode } from '@msgpack/msgpack';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CODECS, testDeflate } from './support/codecs.js';
import { referenceExpand } from './support/compact-reference.js';
import { buildWireFixtures, type WireFixture } from '../src/fixtures.js';
import { validateClientMessage } from '../src/messages.js';

const file = JSON.parse(readFileSync(new URL('../../docs/fixtures/wire.json', import.meta.url), 'utf8')) as { fixtures: WireFixture[] };
const codecFor = (f: WireFixture) => CODECS.find((c) => c.subprotocol === f.subprotocol)!;

/** The dictionaries of compact+deflate as another SDK reads them: from protocol.json, by flag byte. */
const protocolJson = JSON.parse(readFileSync(new URL('../../client/python/tickwire/protocol.json', import.meta.url), 'utf8')) as {
  deflateDictionaries: { flag: number; hex: string }[];
};
const dictionaryOfFlag = (flag: number) => Buffer.from(protocolJson.deflateDictionaries.find((d) => d.flag === flag)!.hex, 'hex');

/** The message bytes of a frame: shared-deflate server frames unwrapped (flag byte, inflate with the flag's dictionary). */
function messageBytes(f: WireFixture): Buffer {
  const b = Buffer.from(f.hex, 'hex');
  if (f.direction !== 'server') return b;
  if (f.subprotocol.endsWith('+deflate')) return b[0] === 1 ? inflateRawSync(b.subarray(1)) : b.subarray(1);
  if (f.subprotocol.endsWith('+deflate.d1'))
    return b[0] === 0 ? b.subarray(1) : inflateRawSync(b.subarray(1), { dictionary: dictionaryOfFlag(b[0]!) });
  return b;
}

/** Decodes a frame the way an independent client would (standard decoder + zlib; compact columns by the reference decoder). */
function independentDecode(f: WireFixture): unknown {
  const b = messageBytes(f);
  if (f.subprotocol.endsWith('.json')) return JSON.parse(b.toString('utf8'));
  const compact = f.subprotocol.endsWith('-compact') || f.subprotocol.endsWith('-compact+deflate.d1');
  return compact && f.direction === 'server' ? referenceExpand(decode(b)) : decode(b);
}

function at(v: any, path: string): number {
  return path.split('.').reduce((o, k) => o[k], v);
}

describe('wire fixtures (docs/fixtures/wire.json)', () => {
  it('the file lists exactly the fixtures the codecs generate (npm run docs:fixtures)', () => {
    const gen = buildWireFixtures(testDeflate);
    expect(file.fixtures.map((f) => f.name)).toEqual(gen.map((f) => f.name));
    for (const [i, g] of gen.entries()) {
      const f = file.fixtures[i]!;
      expect(f.message).toEqual(g.message);
      // zlib output may differ between zlib versions and settings (the gateway's windowBits and
      // memLevel for the dictionary codec are not the tests'); compare compressed frames by content.
      const deflated = f.subprotocol.endsWith('+deflate') || f.subprotocol.endsWith('+deflate.d1');
      if (f.hex !== g.hex) expect(deflated && independentDecode(f)).toEqual(independentDecode(g));
    }
  });

  it('has compact frames in column form where every value is on its grid, and the msgpack form where one is not', () => {
    const data = (name: string) =>
      (decode(Buffer.from(file.fixtures.find((f) => f.name === `msgpack-compact/server/${name}`)!.hex, 'hex')) as { data: unknown[] }).data;
    for (const name of ['upd-trades', 'upd-quotes', 'upd-book', 'snap-trade', 'upd-unknown-symbol'])
      expect(typeof data(name)[0]).toBe('number');
    expect(data('upd-trades').slice(0, 2)).toEqual([100, 10000]);
    expect(data('upd-unknown-symbol').slice(0, 2)).toEqual([1e8, 1e8]);
    expect(typeof data('upd-off-grid')[0]).toBe('object');
  });

  it.each(file.fixtures.filter((f) => f.direction === 'server').map((f) => [f.name, f] as const))(
    '%s decodes with a standard decoder to its meaning',
    (_n, f) => {
      expect(independentDecode(f)).toEqual(f.message);
      const raw = messageBytes(f);
      for (const path of f.floats ?? []) {
        const b = Buffer.alloc(9);
        b[0] = 0xcb;
        b.writeDoubleBE(at(f.message, path), 1);
        expect(raw.indexOf(b), `${path} must be float64`).not.toBe(-1);
      }
    },
  );

  it.each(file.fixtures.filter((f) => f.direction === 'client').map((f) => [f.name, f] as const))(
    '%s is understood by the server',
    (_n, f) => {
      const value = codecFor(f).decode(Buffer.from(f.hex, 'hex'));
      expect(validateClientMessage(value, 256)).toEqual(f.message);
    },
  );
});
