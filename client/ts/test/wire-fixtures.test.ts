import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeServerFrame, encodeClientMessage, formatOfSubprotocol } from '../src/codec.js';
import type { ClientMessage, Format } from '../src/types.js';

/**
 * The shared wire fixtures (docs/fixtures/wire.json, generated from the gateway's codecs): the
 * SDK must decode every recorded server frame to its meaning and encode every client message to
 * exactly the recorded bytes.
 */
interface WireFixture {
  name: string;
  subprotocol: string;
  direction: 'server' | 'client';
  hex: string;
  message: unknown;
}

const file = JSON.parse(readFileSync(new URL('../../../docs/fixtures/wire.json', import.meta.url), 'utf8')) as { fixtures: WireFixture[] };
const formatOf = (f: WireFixture): Format => {
  const format = formatOfSubprotocol(f.subprotocol);
  if (!format) throw new Error(`fixture ${f.name}: unknown subprotocol ${f.subprotocol}`);
  return format;
};
/** The frame as a WebSocket delivers it: text for JSON, an ArrayBuffer for binary frames. */
const frame = (f: WireFixture): string | ArrayBuffer => {
  const b = Buffer.from(f.hex, 'hex');
  return formatOf(f) === 'json' ? b.toString('utf8') : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
const server = file.fixtures.filter((f) => f.direction === 'server');
const client = file.fixtures.filter((f) => f.direction === 'client');

describe('wire fixtures (docs/fixtures/wire.json)', () => {
  it('covers every subprotocol in both directions, including a compressed (0x01) frame and compact columns', () => {
    for (const dir of ['server', 'client'] as const) {
      expect(new Set(file.fixtures.filter((f) => f.direction === dir).map(formatOf))).toEqual(
        new Set(['msgpack', 'json', 'msgpack+deflate', 'msgpack-compact', 'msgpack-compact+deflate']),
      );
    }
    expect(server.some((f) => formatOf(f) === 'msgpack+deflate' && f.hex.startsWith('01'))).toBe(true);
    for (const name of ['upd-trades', 'upd-quotes', 'upd-book', 'upd-off-grid']) {
      expect(server.some((f) => f.name === `msgpack-compact/server/${name}`)).toBe(true);
      // Deflated with the dictionary of the topic's kind (flag 2 trade, 3 quote, 4 book).
      expect(server.find((f) => f.name === `msgpack-compact+deflate/server/${name}`)?.hex.slice(0, 2)).toMatch(/^0[234]$/);
    }
    expect(server.some((f) => formatOf(f) === 'msgpack-compact+deflate' && f.hex.startsWith('00'))).toBe(true);
  });

  it.each(server.map((f) => [f.name, f] as const))('decodes server frame %s to its meaning', async (_n, f) => {
    expect(await decodeServerFrame(formatOf(f), frame(f))).toEqual(f.message);
  });

  it.each(client.map((f) => [f.name, f] as const))('encodes client message %s to exactly the recorded bytes', (_n, f) => {
    const out = encodeClientMessage(formatOf(f), f.message as ClientMessage);
    const bytes = typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.from(out);
    expect(bytes.toString('hex')).toBe(f.hex);
  });
});
