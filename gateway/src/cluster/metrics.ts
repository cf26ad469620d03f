import client from 'prom-client';
import type { MetricsJson } from './messages.js';

/**
 * One Prometheus text from the registries of the primary and every worker: samples with the same
 * name and labels are summed (prom-client's cluster aggregation), so /metrics on any worker
 * reports the whole process. Each metric lives in only one role's registry or is a per-worker
 * quantity (see MetricsRole), so summing never counts a figure twice.
 */
export function aggregateMetrics(registries: MetricsJson[]): Promise<string> {
  return client.AggregatorRegistry.aggregate(registries).metrics();
}
