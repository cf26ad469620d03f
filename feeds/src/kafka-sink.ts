import { Partitioners, type ICustomPartitioner, type Message, type PartitionMetadata, type Producer } from 'kafkajs';
import { pack } from 'msgpackr';
import type { FeedValue } from './simulator.js';

/**
 * A batching Kafka producer for ticks, with bounded memory and per-topic order.
 *
 * push() encodes a tick (record key = the tickwire topic, value = the tick as a standard msgpack
 * map or JSON object: the contract of protocol/src/record.ts) and queues it for its
 * partition, which is chosen exactly as every Kafka client chooses it for a key (Java-compatible
 * murmur2 modulo the partition count), so one tickwire topic always lands in one partition.
 *
 * Lanes: the partitions are split into min(maxInFlight, partitions) lanes (partition p in lane
 * p % lanes), and each lane has at most one send outstanding. So up to maxInFlight sends are in
 * flight, but a partition is in at most one of them: kafkajs may put concurrent sends on the wire
 * in any order (and retries a failed send later), so this is what keeps each partition, hence
 * each tickwire topic, in order.
 *
 * Batches: a lane's send carries up to `maxBatch` messages and goes out when that many wait or
 * the oldest has waited `lingerMs` (and the lane's previous send has settled).
 *
 * Backpressure: when a lane has a full batch waiting behind its outstanding send, the sink is
 * `full` and push() returns false: the caller must stop producing until ready() resolves. Memory
 * is then bounded by two batches per lane plus whatever the caller pushed after being told to stop.
 *
 * A send that still fails after kafkajs's retries is counted in `failed` (those ticks are lost)
 * and reported to onError; the sink carries on.
 */
export type ValueFormat = 'msgpack' | 'json';

export interface KafkaSinkOptions {
  /** Anything with kafkajs's send/disconnect; close() disconnects it. */
  producer: Pick<Producer, 'send' | 'disconnect'>;
  /** Kafka topic every record goes to. */
  topic: string;
  /** Its number of partitions (the CLI reads it from the topic's metadata at startup). */
  partitions: number;
  format?: ValueFormat;
  /** -1 = all in-sync replicas (default), 1 = leader, 0 = none. */
  acks?: number;
  /** Largest number of messages in one send. Default 1000. */
  maxBatch?: number;
  /** How long a message may wait for its batch to fill, ms. Default 5. */
  lingerMs?: number;
  /** Most sends outstanding at once. Default 4. */
  maxInFlight?: number;
  /** Broker-side ack timeout for one send, ms (kafkajs default 30000). */
  timeoutMs?: number;
  onError?: (err: Error, ticks: number) => void;
}

export interface SinkStats {
  /** Ticks accepted by push(). */
  pushed: number;
  /** Ticks handed to producer.send (in flight or done). */
  sent: number;
  /** Ticks the broker acknowledged. */
  acked: number;
  /** Ticks whose send failed for good. */
  failed: number;
  /** Failed sends. */
  errors: number;
  /** Sends outstanding. */
  inFlight: number;
  /** Ticks waiting for a batch to go out. */
  pending: number;
  /** Completed sends (acked or failed). */
  batches: number;
  lastError: string | undefined;
}

export function encodeTick(tick: FeedValue, format: ValueFormat): Buffer | string {
  // msgpackr's module-level pack writes plain maps (useRecords: false): standard msgpack.
  return format === 'json' ? JSON.stringify(tick) : pack(tick);
}

/**
 * The partition of a key among `partitions`: kafkajs's DefaultPartitioner (the Java client's
 * murmur2), memoised, since the keys (tickwire topics) are few and repeat millions of times.
 */
export function keyPartitioner(partitions: number): (key: string) => number {
  const inner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
    offlineReplicas: [],
  }));
  const cache = new Map<string, number>();
  return (key) => {
    let p = cache.get(key);
    if (p === undefined) {
      p = inner({ topic: '', partitionMetadata, message: { key, value: null } });
      cache.set(key, p);
    }
    return p;
  };
}

/**
 * Producer partitioner for the sink's messages, which name their partition: use it as is (without
 * the default partitioner's per-message work); anything else goes to kafkajs's default.
 */
export const explicitPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => args.message.partition ?? fallback(args);
};

/** The partitions p with p % lanes === i: at most one send outstanding, so they stay in order. */
interface Lane {
  queue: Message[];
  busy: boolean;
  /** When the oldest queued message arrived (performance.now()). */
  since: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class KafkaSink {
  private readonly producer: KafkaSinkOptions['producer'];
  private readonly topic: string;
  private readonly format: ValueFormat;
  private readonly acks: number;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly timeoutMs: number | undefined;
  private readonly onError: ((err: Error, ticks: number) => void) | undefined;
  private readonly partitionOf: (key: string) => number;
  private readonly lanes: Lane[];

  private pendingTotal = 0;
  /** Lanes holding maxBatch or more queued messages (all of them busy: an idle one sends at once). */
  private fullLanes = 0;
  private inFlight = 0;
  private flushing = 0;
  private closed = false;
  private waiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private readonly counts = { pushed: 0, sent: 0, acked: 0, failed: 0, errors: 0, batches: 0 };
  private lastError: string | undefined;

  constructor(opts: KafkaSinkOptions) {
    this.producer = opts.producer;
    this.topic = opts.topic;
    const partitions = positiveInt('partitions', opts.partitions);
    this.format = opts.format ?? 'msgpack';
    this.acks = opts.acks ?? -1;
    this.maxBatch = positiveInt('maxBatch', opts.maxBatch ?? 1000);
    const maxInFlight = positiveInt('maxInFlight', opts.maxInFlight ?? 4);
    this.lingerMs = opts.lingerMs ?? 5;
    if (!(this.lingerMs >= 0 && Number.isFinite(this.lingerMs))) throw new Error(`lingerMs must be finite and >= 0, got ${this.lingerMs}`);
    this.timeoutMs = opts.timeoutMs;
    this.onError = opts.onError;
    this.partitionOf = keyPartitioner(partitions);
    // One send per lane at a time, so at most min(maxInFlight, partitions) sends in flight.
    this.lanes = Array.from({ length: Math.min(maxInFlight, partitions) }, () => ({ queue: [], busy: false, since: 0, timer: undefined }));
  }

  /** True while some lane has a full batch waiting behind its outstanding send: stop pushing until ready(). */
  get full(): boolean {
    return this.fullLanes > 0;
  }

  /** Queues one tick. Returns false when the sink is full (the tick is still taken). */
  push(topic: string, tick: FeedValue): boolean {
    if (this.closed) throw new Error('KafkaSink is closed');
    const partition = this.partitionOf(topic);
    const lane = this.lanes[partition % this.lanes.length]!;
    if (lane.queue.length === 0) lane.since = performance.now();
    lane.queue.push({ key: topic, value: encodeTick(tick, this.format), partition });
    this.pendingTotal++;
    this.counts.pushed++;
    if (lane.queue.length >= this.maxBatch) {
      if (!lane.busy) this.send(lane);
      else if (lane.queue.length === this.maxBatch) this.fullLanes++;
    } else if (!lane.busy) {
      this.arm(lane);
    }
    return this.fullLanes === 0;
  }

  /** Resolves once the sink can take more (immediately if it can now). */
  ready(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Sends everything pending now, without waiting for batches to fill, and waits for every ack. */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      for (const lane of this.lanes) if (!lane.busy && lane.queue.length > 0) this.send(lane);
      if (this.pendingTotal > 0 || this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    } finally {
      this.flushing--;
    }
  }

  /** Flushes, then disconnects the producer. push() throws afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
    } finally {
      for (const lane of this.lanes) clearTimeout(lane.timer);
      await this.producer.disconnect();
    }
  }

  stats(): SinkStats {
    return { ...this.counts, inFlight: this.inFlight, pending: this.pendingTotal, lastError: this.lastError };
  }

  /** Makes sure an idle lane's partial batch goes out once its oldest message has lingered. */
  private arm(lane: Lane): void {
    if (lane.timer !== undefined) return;
    // Timers run on whole milliseconds of the loop's clock, so they can fire a little early: re-arm until lingered.
    const wait = Math.max(0, Math.ceil(lane.since + this.lingerMs - performance.now()));
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      if (lane.busy || lane.queue.length === 0) return;
      if (performance.now() - lane.since < this.lingerMs) this.arm(lane);
      else this.send(lane);
    }, wait);
  }

  /** Sends up to maxBatch of an idle lane's messages; the lane is busy until the send settles. Only idle lanes send. */
  private send(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    let messages: Message[];
    if (lane.queue.length <= this.maxBatch) {
      messages = lane.queue;
      lane.queue = [];
    } else {
      messages = lane.queue.slice(0, this.maxBatch);
      lane.queue = lane.queue.slice(this.maxBatch);
      // The rest keeps lane.since, so it counts as lingered and goes out when this send settles.
    }
    lane.busy = true;
    this.pendingTotal -= messages.length;
    const n = messages.length;
    this.inFlight++;
    this.counts.sent += n;
    const record = { topic: this.topic, acks: this.acks, messages, ...(this.timeoutMs === undefined ? {} : { timeout: this.timeoutMs }) };
    let sent: Promise<unknown>;
    try {
      sent = this.producer.send(record);
    } catch (e) {
      sent = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    sent
      .then(
        () => {
          this.counts.acked += n;
        },
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          this.counts.failed += n;
          this.counts.errors++;
          this.lastError = err.message;
          this.onError?.(err, n);
        },
      )
      .finally(() => this.settled(lane));
  }

  private settled(lane: Lane): void {
    lane.busy = false;
    this.inFlight--;
    this.counts.batches++;
    const q = lane.queue.length;
    if (q >= this.maxBatch) this.fullLanes--;
    // Messages that queued up behind the send: a full batch (or a flush) goes now, else linger.
    if (q >= this.maxBatch || (q > 0 && (this.flushing > 0 || performance.now() - lane.since >= this.lingerMs))) this.send(lane);
    else if (q > 0) this.arm(lane);
    // A send that left a full batch behind keeps the lane full.
    if (lane.busy && lane.queue.length >= this.maxBatch) this.fullLanes++;
    this.wake();
  }

  private wake(): void {
    if (this.fullLanes === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
    if (this.pendingTotal === 0 && this.inFlight === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be an integer >= 1, got ${v}`);
  return v;
}
