import { describe, expect, it } from 'vitest';
import { CODEC_SPECS } from '../../protocol/src/subprotocols.js';
import type { BookMicroResult } from '../src/suite/book-micro.js';
import { booksScenario, type BookFanoutRun } from '../src/suite/scenarios/books.js';
import type { ScenarioContext } from '../src/suite/types.js';

// The gateway and the load generator's workers run COMPILED files from dist/: `npm test` builds
// first; when running vitest alone, run `npm run build` before. No timing assertions: the figures
// must be present, positive and consistent with each other, whatever this machine's speed.

const ctx: ScenarioContext = {
  opts: { quick: true, only: [] },
  progress: () => {},
  log: () => {},
  root: process.cwd(),
  shared: () => Promise.reject(new Error('the books scenario shares nothing')),
};

describe('books scenario (smoke)', () => {
  it('measures raw vs throttled fan-out and the micro figures on a tiny load, consistently', async () => {
    const scenario = booksScenario({
      clients: 3,
      rate: 300,
      durationSec: 1,
      warmupMs: 500,
      micro: { records: 3000, snapshotReps: 20, rate: 50_000 },
    });
    const r = await scenario.run(ctx);
    const data = r.data as { sides: BookFanoutRun[]; micro: BookMicroResult; errors: string[] };
    expect(data.errors).toEqual([]);

    const [raw, thr] = data.sides;
    expect(raw?.topic).toBe('book.BTC-USD');
    expect(thr?.topic).toBe('book.BTC-USD@100ms');
    for (const s of [raw!, thr!]) {
      expect(s.run.clientsSubscribed).toBe(3);
      expect(s.ingestPerSec).toBeGreaterThan(0);
      expect(s.run.delivered.ticksPerSec).toBeGreaterThan(0);
      expect(s.changeSetsPerCpuSec).toBeGreaterThan(0);
      expect(s.bytesPerCpuSec).toBeGreaterThan(0);
      // The sample client applied every change set and every checksum verified.
      expect(s.verify.checked).toBeGreaterThan(1);
      expect(s.verify.mismatches).toBe(0);
      expect(s.verify.gaps + s.verify.outOfOrder).toBe(0);
      expect(s.run.correctness.gaps).toBe(0);
      expect(s.run.correctness.badFrames).toBe(0);
    }
    // The raw clients got no more than the gateway ingested (×3 clients, 5 % sampling tolerance).
    expect(raw!.run.delivered.ticksPerSec).toBeLessThanOrEqual(raw!.ingestPerSec * 3 * 1.05);
    // The view merges: at most one change set per 100 ms per client (+1 for a window edge), far fewer bytes per client.
    expect(thr!.run.delivered.ticksPerSec).toBeLessThanOrEqual(3 * 11);
    expect(thr!.run.delivered.ticksPerSec).toBeLessThan(raw!.run.delivered.ticksPerSec);

    // Goals: every B goal present with a positive value; a quick run never passes or fails one.
    expect(r.goals.map((g) => g.id)).toEqual(['B1', 'B2', 'B3', 'B4']);
    for (const g of r.goals) {
      expect(g.value, g.id).toBeGreaterThan(0);
      expect(g.pass, g.id).toBeNull();
      expect(['smoke', 'informational'].includes(g.status ?? '') || g.status?.startsWith('invalid:'), `${g.id}: ${g.status}`).toBe(true);
    }
    expect(r.goals.find((g) => g.id === 'B1')?.status).not.toBe('smoke');

    const m = data.micro;
    expect(m.changeSets).toBeGreaterThan(0);
    for (const x of [m.engineNsPerRecord, m.foldNsPerChangeSet, m.mergeNsPerChangeSet]) expect(x).toBeGreaterThan(0);
    expect(m.snapshots.map((s) => s.depth)).toEqual([10, 100, 1000]);
    for (const s of m.snapshots) {
      expect(s.snapshotUs).toBeGreaterThan(0);
      expect(s.encodeUs).toBeGreaterThan(0);
    }
    // A deeper snapshot is a bigger frame.
    expect(m.snapshots[2]!.frameBytes).toBeGreaterThan(m.snapshots[0]!.frameBytes);
    expect(m.wire.map((w) => w.codec).sort()).toEqual(CODEC_SPECS.map((c) => c.name).sort());
    for (const w of m.wire) {
      expect(w.rawPerChangeSet).toBeGreaterThan(0);
      expect(w.throttledPerChangeSet).toBeGreaterThan(0);
      // Merged change sets carry each level once: never more bytes than the raw change sets they cover.
      expect(w.throttledPerRawChangeSet).toBeLessThanOrEqual(w.rawPerChangeSet);
    }
  }, 120_000);
});
