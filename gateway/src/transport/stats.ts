/**
 * A transport's own counters: plain number fields bumped on the hot path and read by Metrics only
 * when Prometheus scrapes (Metrics.addTransport). Each transport owns one; none is shared.
 */
export interface TransportStats {
  connectionsOpened: number;
  framesOut: number;
  bytesOut: number;
  /** Sends that left data buffered in the socket (the client reads slower than we write). */
  backpressureEvents: number;
  slowConsumerCloses: number;
  /** Times a connection passed slowSoftBytes and started being conflated. */
  slowConsumerEvents: number;
  /** Connections currently conflated (sampled by the transport's watchdog). */
  slowConsumers: number;
  /** upd frames not sent to conflated connections (they get a resync snap instead). */
  conflatedFrames: number;
  /** Client messages dropped over maxMessagesPerSec. */
  rateLimited: number;
  /** Bytes currently buffered for all open connections, sampled each flush. */
  bufferedBytes: number;
}

export function newTransportStats(): TransportStats {
  return {
    connectionsOpened: 0,
    framesOut: 0,
    bytesOut: 0,
    backpressureEvents: 0,
    slowConsumerCloses: 0,
    slowConsumerEvents: 0,
    slowConsumers: 0,
    conflatedFrames: 0,
    rateLimited: 0,
    bufferedBytes: 0,
  };
}

/** The sum of several transports' counters (what /metrics reports). */
export function sumStats(all: Iterable<TransportStats>): TransportStats {
  const sum = newTransportStats();
  for (const s of all) for (const k of Object.keys(sum) as (keyof TransportStats)[]) sum[k] += s[k];
  return sum;
}
