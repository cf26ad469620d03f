// A bystander in its own process (so that the test process's own load cannot hide or cause a
// stall): subscribes to market topics over JSON and measures the largest gap between two data
// frames (snap/upd). Usage: node bystander.mjs <port> <topic>...
// Prints {"ready":true} after its first data frame; on "stop" (or stdin closing) prints
// {"maxGapMs":..,"maxGapAt":<epoch ms when it ended>,"frames":..,"closed":..} and exits. Exits by itself after 5 minutes.
import WebSocket from 'ws';

const [port, ...topics] = process.argv.slice(2);
const ws = new WebSocket(`ws://127.0.0.1:${port}/v1`, ['tickwire.v1.json'], { perMessageDeflate: false });
let last = 0;
let maxGapMs = 0;
let maxGapAt = 0;
let frames = 0;
let closed = null;
const report = () => {
  process.stdout.write(`${JSON.stringify({ maxGapMs, maxGapAt, frames, closed, sinceLastMs: last ? Date.now() - last : null })}\n`);
  process.exit(0);
};
ws.on('open', () => ws.send(JSON.stringify({ op: 'sub', id: 1, topics })));
ws.on('message', (data) => {
  if (!Buffer.isBuffer(data)) return; // ws hands over each frame as one Buffer (binaryType 'nodebuffer', the default)
  const m = JSON.parse(data.toString('utf8'));
  if (m.op !== 'snap' && m.op !== 'upd') return;
  const now = Date.now();
  if (last === 0) process.stdout.write('{"ready":true}\n');
  else if (now - last > maxGapMs) {
    maxGapMs = now - last;
    maxGapAt = now;
  }
  last = now;
  frames++;
});
ws.on('close', (code) => (closed = code));
ws.on('error', (e) => process.stderr.write(`bystander: ${e.message}\n`));
process.stdin.on('data', (d) => d.toString().includes('stop') && report());
process.stdin.on('end', report);
setTimeout(report, 300_000).unref();
