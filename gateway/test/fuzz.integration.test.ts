import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { CLOSE_CODES, ERROR_CODES } from '../../protocol/src/errors.js';
import { checkTopicStream, TestClient, type Msg } from './support/client.js';
import { checkAnswer, frameArb, FuzzConn, MARKER_BASE, markerFrame, terminalArb, type Format, type Frame } from './support/fuzz.js';
import { httpGet, metricValue, startTestGateway } from './support/gateway.js';

/**
 * Protocol fuzzing against a real gateway: at least 100 000 generated client frames (wrong types
 * in every field, random bytes, mutated valid frames, msgpack extension types, invalid UTF-8,
 * deep nesting, huge arrays and strings, oversize frames) over several connections of every
 * subprotocol, while bystanders read busy topics.
 *
 * Every fuzz frame is followed by a marker ping, so the replies between two marker pongs are
 * exactly the answer to one frame; the answer is checked against docs/protocol.md. Frames that
 * end the connection (oversize) go last in their window; the fuzzer then reconnects.
 *
 * FUZZ_SEED=<n> replays a run; FUZZ_FRAMES=<n> changes the budget (at least 100 000 by default).
 */
const TARGET = Number(process.env.FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WINDOW = 200;
const MAX_PAYLOAD = 65_536;
const MAX_TOPICS = 256;
const FORMATS: Format[] = ['msgpack', 'msgpack', 'json', 'json', 'msgpack+deflate', 'msgpack+deflate'];
const BUSY = ['trade.BTC-USD', 'quote.BTC-USD', 'quote.ETH-USD'];
const ERROR_TABLE = new Set(Object.keys(ERROR_CODES));
const DOCUMENTED_CLOSES = new Set<number>(Object.values(CLOSE_CODES).map((c) => c.code));

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
const show = (f: Frame) =>
  (typeof f.data === 'string' ? JSON.stringify(f.data.slice(0, 160)) : `0x${Buffer.from(f.data).subarray(0, 80).toString('hex')}`) +
  ` (${typeof f.data === 'string' ? f.data.length + ' chars' : f.data.length + ' bytes'})`;

describe('protocol fuzzing on a real gateway', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startTestGateway({ feedRate: 5000, maxMessagesPerSec: 1_000_000, maxPayloadLength: MAX_PAYLOAD });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it(`answers ≥ ${TARGET} random and mutated frames per the protocol, never crashes, and bystanders keep a gap-free stream`, async () => {
    const t0 = Date.now();
    const stats = {
      sent: 0,
      answered: 0,
      outcomes: new Map<string, number>(),
      errCodes: new Map<string, number>(),
      categories: new Map<string, number>(),
      closes: new Map<string, number>(),
      lostToClose: 0,
      terminal: 0,
      lostToUtf8Cut: 0,
      violations: [] as string[],
    };
    const fuzzConns = new Set<FuzzConn>();
    const bystanders: TestClient[] = [];
    const health: number[] = [];
    const probes: Promise<unknown>[] = [];
    const stall: number[] = [];
    let healthTimer: NodeJS.Timeout | undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    let markerSeq = 0;
    let genMs = 0;
    let streamFrames = 0;

    const run = async (format: Format, idx: number): Promise<void> => {
      const opts = { epoch: gw.epoch, maxTopics: MAX_TOPICS, maxPayload: MAX_PAYLOAD };
      const arb = frameArb(format, opts);
      const terminal = terminalArb(format, MAX_PAYLOAD);
      const open = async () => {
        const c = await FuzzConn.open(gw.port, format);
        fuzzConns.add(c);
        return c;
      };
      let conn = await open();
      for (let w = 0; stats.sent < TARGET && stats.violations.length < 20; w++) {
        const seed = (SEED + idx * 1_000_003 + w * 7919) | 0;
        const g0 = Date.now();
        const frames = fc.sample(arb, { numRuns: WINDOW, seed });
        genMs += Date.now() - g0;
        if (w % 12 === 11) frames.push(fc.sample(terminal, { numRuns: 1, seed })[0]!);
        conn.replies.length = 0;
        const markers: number[] = [];
        for (const f of frames) {
          conn.send(f.data, f.binary);
          stats.sent++;
          bump(stats.categories, `${format === 'json' ? 'json' : 'msgpack'}:${f.category}`);
          if (f.terminal) {
            stats.terminal++;
            break;
          }
          const n = markerSeq++;
          markers.push(MARKER_BASE + n);
          const mk = markerFrame(format, n);
          conn.send(mk.data, mk.binary);
        }
        const last = markers.at(-1)!;
        const c = conn;
        const answered = await c.until(
          () => c.closed !== undefined || (c.replies.at(-1)?.op === 'pong' && c.replies.at(-1)?.id === last),
          20_000,
        );
        if (!answered) {
          stats.violations.push(
            `${format} window ${w} (seed ${seed}): no answer to the last marker within 20 s (${c.replies.length} replies so far)`,
          );
          return;
        }
        const term = frames.at(-1)!.terminal ? frames.at(-1)! : undefined;
        if (term && !c.closed && !(await c.until(() => c.closed !== undefined, 5000)))
          stats.violations.push(`${format}: a ${term.category} frame did not close the connection: ${show(term)}`);

        // Split the replies at the marker pongs: group i answers frame i.
        const groups: Msg[][] = [];
        let cur: Msg[] = [];
        for (const m of c.replies) {
          if (m.op === 'pong' && m.id === markers[groups.length]) {
            groups.push(cur);
            cur = [];
          } else cur.push(m);
        }
        for (const [i, g] of groups.entries()) {
          const f = frames[i]!;
          const why = checkAnswer(g, f.expect, ERROR_TABLE);
          if (why)
            stats.violations.push(
              `${format} ${f.category} (seed ${seed}, #${i}): ${why}\n    frame: ${show(f)}\n    ` +
                `expected: ${JSON.stringify(f.expect).slice(0, 300)}\n    got: ${JSON.stringify(g).slice(0, 400)}`,
            );
          stats.answered++;
          bump(stats.outcomes, g.some((m) => m.op === 'pong') ? 'pong' : g.some((m) => m.op === 'ack') ? 'ack' : 'err only');
          for (const m of g) if (m.op === 'err') bump(stats.errCodes, m.code);
        }
        for (const v of c.violations.splice(0)) stats.violations.push(`${format}: ${v}`);

        if (c.closed) {
          const code = c.closed.code;
          const unanswered = frames.length - (term ? 1 : 0) - groups.length;
          stats.lostToClose += unanswered;
          if (term?.terminal === 'oversize') {
            bump(stats.closes, `${code} after oversize`);
            if (code !== 1009)
              stats.violations.push(`${format}: oversize frame closed with ${code} ${c.closed.reason}, expected 1009: ${show(term)}`);
            if (cur.length) stats.violations.push(`${format}: the oversize frame was answered ${JSON.stringify(cur).slice(0, 200)}`);
            // A close with a code comes after the answers to every earlier frame.
            if (unanswered) stats.violations.push(`${format}: ${unanswered} frames sent before an oversize frame were never answered`);
          } else if (term?.terminal === 'bad_utf8_text') {
            // Reported by its own test below (the cut also loses the answers to earlier frames); tallied here.
            bump(stats.closes, `${code} after invalid UTF-8 text`);
            stats.lostToUtf8Cut += unanswered;
          } else {
            bump(stats.closes, `${code} unexpected`);
            console.log(
              `unexpected close ${code} ${c.closed.reason} after frame ${groups.length}: ` +
                (frames[groups.length] ? `${frames[groups.length]!.category} ${show(frames[groups.length]!)}` : '?'),
            );
            if (!DOCUMENTED_CLOSES.has(code))
              stats.violations.push(
                `${format}: closed with undocumented code ${code} (${c.closed.reason}) after ` +
                  `frame ${groups.length}: ${frames[groups.length] ? show(frames[groups.length]!) : '?'}`,
              );
          }
          streamFrames += c.streamFrames;
          c.close();
          fuzzConns.delete(c);
          conn = await open();
        } else if (term) {
          stats.violations.push(`${format}: connection still open after ${term.category}`);
        } else if (groups.length !== markers.length || cur.length) {
          stats.violations.push(
            `${format}: ${groups.length}/${markers.length} frames answered, ${cur.length} stray ` +
              `replies ${JSON.stringify(cur).slice(0, 200)}`,
          );
        }
      }
      streamFrames += conn.streamFrames;
      conn.close();
      fuzzConns.delete(conn);
    };

    try {
      for (const protocols of [undefined, ['tickwire.v1.json'], ['tickwire.v1.msgpack+deflate']]) {
        const b = await TestClient.connect(gw.port, protocols ? { protocols } : {});
        bystanders.push(b);
        b.send({ op: 'sub', id: 1, topics: BUSY });
      }
      for (const b of bystanders) await b.waitUntil(() => BUSY.every((t) => b.topicMessages(t).length > 2), 15_000);

      // /healthz throughout, and the bystanders' progress: the longest time without a new upd.
      healthTimer = setInterval(() => {
        probes.push(
          httpGet(gw.port, '/healthz').then(
            (r) => health.push(r.status),
            () => health.push(0),
          ),
        );
      }, 500);
      const seen = bystanders.map((b) => b.messages.length);
      const lastNew = bystanders.map(() => Date.now());
      progressTimer = setInterval(() => {
        const now = Date.now();
        bystanders.forEach((b, i) => {
          let fresh = false;
          for (; seen[i]! < b.messages.length; seen[i]!++) if (b.messages[seen[i]!]!.op === 'upd') fresh = true;
          if (fresh) lastNew[i] = now;
          stall[i] = Math.max(stall[i] ?? 0, now - lastNew[i]!);
        });
      }, 100);

      await Promise.all(FORMATS.map((f, i) => run(f, i)));
    } finally {
      clearInterval(healthTimer);
      clearInterval(progressTimer);
      for (const c of fuzzConns) c.close();
    }
    const elapsed = (Date.now() - t0) / 1000;
    await Promise.all(probes);
    const final = await httpGet(gw.port, '/healthz');
    const metrics = (await httpGet(gw.port, '/metrics')).body;

    const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));
    console.log(
      `fuzz: seed ${SEED}, ${stats.sent} frames sent (+${markerSeq} marker pings) in ${elapsed.toFixed(1)} s ` +
        `on ${FORMATS.length} connections; ${stats.answered} answered, ${stats.lostToClose} unanswered because the connection ` +
        `closed (${stats.lostToUtf8Cut} of them lost to invalid-UTF-8 cuts)\n` +
        `  outcomes: ${JSON.stringify(sorted(stats.outcomes))}\n  err codes: ${JSON.stringify(sorted(stats.errCodes))}\n  ` +
        `closes: ${JSON.stringify(sorted(stats.closes))}\n` +
        `  categories: ${JSON.stringify(sorted(stats.categories))}\n  generation ${genMs} ms; stream frames to fuzz ` +
        `connections ${streamFrames}; /healthz polls: ${health.length}; bystander longest stall (ms): ${JSON.stringify(stall)}`,
    );

    expect(stats.violations.slice(0, 10), `seed ${SEED}`).toEqual([]);
    expect(stats.sent).toBeGreaterThanOrEqual(TARGET);
    // Every frame is accounted for: answered, or sent on a connection that closed before answering it.
    expect(stats.answered + stats.lostToClose + stats.terminal).toBe(stats.sent);
    // Every kind of answer occurred, and the rate limit never masked anything.
    expect(stats.outcomes.get('pong')).toBeGreaterThan(0);
    expect(stats.outcomes.get('ack')).toBeGreaterThan(0);
    for (const code of ['bad_frame', 'bad_request', 'unknown_op', 'bad_topic', 'too_many_topics', 'forbidden'])
      expect(stats.errCodes.get(code), code).toBeGreaterThan(0);
    expect(stats.errCodes.get('rate_limited') ?? 0).toBe(0);
    expect([...stats.closes.keys()].some((k) => k.startsWith('1009'))).toBe(true);
    // The gateway's own error counters agree with what the clients received.
    for (const code of ERROR_TABLE)
      expect(metricValue(metrics, `tickwire_errors_total{code="${code}"}`) || 0, code).toBeGreaterThanOrEqual(
        stats.errCodes.get(code) ?? 0,
      );

    // Alive throughout and at the end: every probe sent during the run was answered 200. How many were sent depends on this
    // process's own event loop (the frame generator runs on it), so only a floor that proves probes spanned the run.
    expect(health.length).toBe(probes.length);
    expect(health.length).toBeGreaterThanOrEqual(10);
    expect(health.filter((s) => s !== 200)).toEqual([]);
    expect(final.status).toBe(200);
    // Bystanders: still open, gap-free, and never starved for long.
    for (const b of bystanders) {
      expect(b.closeCode).toBeUndefined();
      for (const t of BUSY) expect(checkTopicStream(b.topicMessages(t)), t).toBeGreaterThan(100);
    }
    // Twice the longest gap between upd frames of a busy topic is far below the documented liveness bound (2 x heartbeat).
    for (const s of stall) expect(s).toBeLessThan(3000);
    for (const b of bystanders) b.close();
    // CPU-bound: ~1 min on a quiet 2-core machine, over 3 on one shared with the rest of the suite
    // and two busy loops; the bound only ends a hung run.
  }, 600_000);

  // Found by the fuzzer (category bad_utf8_text). uWebSockets.js validates text frames itself
  // (RFC 6455 §8.1) and drops the TCP connection, without a close frame, before the message
  // handler sees the frame; replies still buffered for that connection are lost. docs/protocol.md
  // documents exactly this, and this test holds the gateway to it: the offender is cut (1006),
  // nothing else is affected.
  it('a JSON text frame with invalid UTF-8 drops that connection (documented: 1006) and nothing else', async () => {
    const bystander = await FuzzConn.open(gw.port, 'json');
    const c = await FuzzConn.open(gw.port, 'json');
    try {
      c.send(Buffer.from([...Buffer.from('{"op":"ping","id":11,"x":"'), 0xff, ...Buffer.from('"}')]), false);
      await c.until(() => c.closed !== undefined, 3000);
      expect(c.closed?.code).toBe(1006);
      bystander.send('{"op":"ping","id":1}', false);
      await bystander.until(() => bystander.replies.some((m) => m.op === 'pong' && m.id === 1), 3000);
      expect(bystander.closed).toBeUndefined();
    } finally {
      c.close();
      bystander.close();
    }
    expect((await httpGet(gw.port, '/healthz')).status).toBe(200);
  });
});
