/**
 * Worker thread: ONE `ws` client of the bare Kafka relay (kafkajs-bare.ts relay). Every frame is one
 * raw Kafka record value (a msgpack tick); it is decoded with msgpackr like the load generator
 * decodes tickwire frames, and `Date.now() - tick.ts` (ms, rounded, negatives clamped to 0) goes
 * into the load generator's latency histogram.
 *
 * Parent → worker: {type:"measure"} (reset the window), {type:"stop"} (post `final`, close).
 * Worker → parent: {type:"open"} once connected, {type:"final", ...}.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { newLatencyHistogram } from '../../loadgen/histogram.js';

const port = parentPort!;
const { url } = workerData as { url: string };
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
let hist = newLatencyHistogram();
let frames = 0;
let bytes = 0;
let bad = 0;
let sawFirst = false;
let windowStart = { at: Date.now(), frames: 0, bytes: 0, elu: performance.eventLoopUtilization() };

const ws = new WebSocket(url, { perMessageDeflate: false });
ws.on('open', () => port.postMessage({ type: 'open' }));
ws.on('error', (e: Error) => port.postMessage({ type: 'error', message: e.message }));
ws.on('message', (data: Buffer) => {
  const now = Date.now();
  if (!sawFirst) {
    sawFirst = true;
    port.postMessage({ type: 'first' });
  }
  frames++;
  bytes += data.length;
  let ts: unknown;
  try {
    ts = (unpackr.unpack(data) as { ts?: unknown }).ts;
  } catch {
    bad++;
    return;
  }
  let lat = Math.round(now - (ts as number));
  if (!(lat > 0)) lat = 0;
  hist.recordValue(lat);
});

port.on('message', (m: { type: string }) => {
  if (m.type === 'measure') {
    hist = newLatencyHistogram();
    windowStart = { at: Date.now(), frames, bytes, elu: performance.eventLoopUtilization() };
  } else if (m.type === 'stop') {
    port.postMessage({
      type: 'final',
      windowMs: Date.now() - windowStart.at,
      frames: frames - windowStart.frames,
      bytes: bytes - windowStart.bytes,
      bad,
      histogram: encodeIntoCompressedBase64(hist),
      elu: performance.eventLoopUtilization(windowStart.elu).utilization,
    });
    ws.terminate();
    port.close();
  }
});
