// Subscribe over msgpack with nothing but `ws` and a standard msgpack decoder.
// Usage: node client/examples/subscribe.mjs [topic ...]   (gateway on ws://127.0.0.1:9001/v1)
import WebSocket from 'ws';
import { decode, encode } from '@msgpack/msgpack';

const topics = process.argv.length > 2 ? process.argv.slice(2) : ['trade.BTC-USD', 'quote.ETH-USD'];
const ws = new WebSocket(process.env.TICKWIRE_URL ?? 'ws://127.0.0.1:9001/v1', 'tickwire.v1.msgpack');
ws.on('open', () => ws.send(encode({ op: 'sub', id: 1, topics })));
ws.on('message', (frame) => console.log(JSON.stringify(decode(frame))));
