import client from 'prom-client';
import { TRIM_REASONS, type HistoryStore } from './hub/history.js';

/** What the history metrics read, at scrape time only: a hub (`Hub.history`, `Hub.historyWindows`). */
export interface HistorySource {
  readonly history: HistoryStore;
  historyWindows(): { topic: string; ms: number; ticks: number }[];
}

/**
 * Resume history metrics of one hub. With workers every hub (main thread and each worker) holds
 * a copy, and /metrics sums registries: bytes and trims add up over the copies (what the process
 * holds and did), a window is the smallest any copy holds (what a client can count on, whichever
 * worker it lands on). User channels are one series, `user.*` (smallest window, ticks summed), so
 * that per-user topics neither blow up the label set nor show up in metrics.
 */
export function historyMetrics(registry: client.Registry, src: HistorySource): void {
  const store = src.history;
  new client.Gauge({
    name: 'tickwire_history_bytes',
    help: 'Bytes of resume history held over all topics (summed over the main thread and workers; budget: historyBudgetBytes).',
    registers: [registry],
    collect() {
      this.set(store.bytes);
    },
  });
  let windows: Map<string, { ms: number; ticks: number }> | undefined;
  const perTopic = (): Map<string, { ms: number; ticks: number }> => {
    if (windows) return windows;
    const out = new Map<string, { ms: number; ticks: number }>();
    for (const w of src.historyWindows()) {
      const key = w.topic.startsWith('user.') ? 'user.*' : w.topic;
      const prev = out.get(key);
      out.set(key, prev ? { ms: Math.min(prev.ms, w.ms), ticks: prev.ticks + w.ticks } : { ms: w.ms, ticks: w.ticks });
    }
    // One walk over the topics serves both gauges of a scrape.
    windows = out;
    queueMicrotask(() => (windows = undefined));
    return out;
  };
  new client.Gauge({
    name: 'tickwire_history_window_seconds',
    help:
      'Per topic: how far back a resume reaches, in seconds (hub clock: now minus the oldest tick held); with workers, the ' +
      'smallest over them.',
    labelNames: ['topic'],
    aggregator: 'min',
    registers: [registry],
    collect() {
      this.reset();
      for (const [topic, w] of perTopic()) this.set({ topic }, w.ms / 1000);
    },
  });
  new client.Gauge({
    name: 'tickwire_history_window_ticks',
    help: 'Per topic: ticks held for resume; with workers, the smallest over them.',
    labelNames: ['topic'],
    aggregator: 'min',
    registers: [registry],
    collect() {
      this.reset();
      for (const [topic, w] of perTopic()) this.set({ topic }, w.ticks);
    },
  });
  const reported = { ...store.trims };
  const trims = new client.Counter({
    name: 'tickwire_history_trims_total',
    help:
      'History chunks freed, by reason: window (older than historyMinWindowSec needs), budget (historyBudgetBytes bound: the ' +
      'longest window gave way), gap (a replica saw a sequence gap, or a payload could not be stored).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      for (const reason of TRIM_REASONS) {
        const d = store.trims[reason] - reported[reason];
        if (d > 0) this.inc({ reason }, d);
        reported[reason] = store.trims[reason];
      }
    },
  });
  for (const reason of TRIM_REASONS) trims.inc({ reason }, 0);
}
