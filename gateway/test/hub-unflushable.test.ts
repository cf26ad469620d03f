import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Hub, type HubSubscriber } from '../src/hub/hub.js';
import { CODECS, inflateFrame, type WireCodec } from '../src/codecs.js';

/**
 * Last-resort guard of the send path: a payload that no codec can encode (here one nested 2000
 * deep, which ingest now rejects, published straight into the hub) must not throw out of flush:
 * the topic's subscribers get a resync snap instead, and every other topic flows on.
 */
type Sub = HubSubscriber & { got: any[] };
const dec = (codec: WireCodec, f: Uint8Array) =>
  codec.derive ? decode(inflateFrame(f)) : codec.binary ? decode(f) : JSON.parse(new TextDecoder().decode(f));
const newHub = (errors: string[]) =>
  new Hub<Sub>({
    epoch: 'E',
    codecs: CODECS,
    maxTicksPerFrame: 100,
    historyMinWindowMs: 30_000,
    historyBudgetBytes: 1 << 30,
    historyMaxAgeMs: 60_000,
    onFlushError: (_e, topic) => errors.push(topic),
  });
const deliver = (s: Sub, f: Uint8Array) => s.got.push(dec(CODECS[s.codec] as WireCodec, f));

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

describe('Hub: a topic whose frames cannot be encoded', () => {
  it.each([
    ['direct subscribers', false],
    ['per-topic (viaTopic) subscribers', true],
  ])('%s get a resync snap instead of flush throwing; other topics are unaffected', (_name, viaTopic) => {
    const errors: string[] = [];
    const hub = newHub(errors);
    const published: { name: string; codec: number; frame: Uint8Array }[] = [];
    const live = new Map<Sub, Set<string>>();
    const topics = viaTopic
      ? {
          publish: (name: string, codec: number, frame: Uint8Array) => published.push({ name, codec, frame }),
          live: (s: Sub, name: string) => live.set(s, (live.get(s) ?? new Set()).add(name)),
        }
      : undefined;
    // The per-topic path: every live subscriber of (topic, codec) gets the published frame.
    const fanOut = (subs: Sub[]) => {
      for (const p of published.splice(0)) for (const s of subs) if (s.codec === p.codec && live.get(s)?.has(p.name)) deliver(s, p.frame);
    };
    const subs: Sub[] = [0, 1, 2].map((codec) => ({ codec, viaTopic, got: [] }));
    hub.publish('sys.announce', { msg: 'first' });
    hub.publish('user.bob.fills', { id: 1 });
    for (const s of subs) {
      for (const t of ['sys.announce', 'user.bob.fills']) {
        const r = hub.subscribe(s, t);
        if (r.kind !== 'frames') throw new Error('expected a snap');
        for (const f of r.frames) deliver(s, f);
        if (viaTopic) live.set(s, (live.get(s) ?? new Set()).add(t));
      }
    }
    const flush = () => {
      hub.flush(deliver, 0, topics);
      fanOut(subs);
    };
    hub.publish('sys.announce', { msg: 'second' });
    hub.publish('sys.announce', nested(2000));
    hub.publish('user.bob.fills', { id: 2 });
    expect(() => flush()).not.toThrow();
    expect(errors).toEqual(['sys.announce']);
    // The other topic's tick went out as usual.
    for (const s of subs) {
      expect(s.got.filter((m) => m.topic === 'user.bob.fills').map((m) => [m.op, m.seq])).toEqual([
        ['snap', 1],
        ['upd', 2],
      ]);
    }
    // The next flush resyncs the topic from its last deliverable value; later ticks continue from it.
    flush();
    hub.publish('sys.announce', { msg: 'fourth' });
    flush();
    for (const s of subs) {
      const msgs = s.got.filter((m) => m.topic === 'sys.announce');
      expect(msgs[0]).toMatchObject({ op: 'snap', seq: 1, data: { msg: 'first' } });
      const rest = msgs.slice(1).filter((m) => !(m.op === 'upd' && m.seq === 2));
      expect(rest).toEqual([
        { op: 'snap', topic: 'sys.announce', seq: 3, epoch: 'E', data: { msg: 'first' }, resync: true },
        { op: 'upd', topic: 'sys.announce', seq: 4, data: [{ msg: 'fourth' }] },
      ]);
    }
    // Resume cannot replay across the dropped ticks.
    const late: Sub = { codec: 0, got: [] };
    const r = hub.subscribe(late, 'sys.announce', { epoch: 'E', seq: 1 });
    if (r.kind !== 'frames') throw new Error('expected frames');
    expect(r.resync).toBe(true);
  });

  it('when the last value cannot be encoded either, subscribers wait for the next tick (a resync snap)', () => {
    const errors: string[] = [];
    const hub = newHub(errors);
    const s: Sub = { codec: 0, got: [] };
    // Subscribed before any data: its first snap is the poison itself.
    expect(hub.subscribe(s, 'sys.announce').kind).toBe('pending');
    hub.publish('sys.announce', nested(2000));
    expect(() => hub.flush(deliver, 0)).not.toThrow();
    expect(() => hub.flush(deliver, 0)).not.toThrow();
    expect(errors).toEqual(['sys.announce']);
    expect(s.got).toEqual([]);
    hub.publish('sys.announce', { msg: 'ok' });
    hub.flush(deliver, 0);
    expect(s.got).toEqual([{ op: 'snap', topic: 'sys.announce', seq: 2, epoch: 'E', data: { msg: 'ok' }, resync: true }]);
    hub.publish('sys.announce', { msg: 'next' });
    hub.flush(deliver, 0);
    expect(s.got[1]).toEqual({ op: 'upd', topic: 'sys.announce', seq: 3, data: [{ msg: 'next' }] });
  });
});
