/**
 * The AsyncAPI 3.0 description of protocol v1 (docs/asyncapi.yaml), built from the protocol's own
 * tables — codecs and their subprotocols, topic grammar, throttle intervals, error and close
 * codes — so it cannot drift from them; a test validates it with the AsyncAPI parser and checks
 * every wire fixture against its message schema. docs/protocol.md stays the normative prose.
 *
 * Written as plain data (no dependencies): `npm run docs:asyncapi` turns it into YAML.
 */
import { ACCEPTED_SUBPROTOCOLS } from './subprotocols.js';
import { CLOSE_CODES, ERROR_CODES } from './errors.js';
import { ANNOUNCE_TOPIC, MAX_TOPIC_LENGTH, THROTTLE_INTERVALS, TOPIC_PATTERN, USER_TOPIC_PATTERN } from './topics.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const int = (description: string, extra: Schema = {}): Schema => ({ type: 'integer', description, ...extra });
const num = (description: string, extra: Schema = {}): Schema => ({ type: 'number', format: 'double', description, ...extra });
const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const obj = (required: string[], properties: Record<string, Schema>, description?: string): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  required,
  properties,
});
const op = (name: string): Schema => ({ type: 'string', const: name });

/** The subscribable names: a topic, or a throttled view of a market topic. */
function topicSchemas(): Record<string, Schema> {
  const market = TOPIC_PATTERN.source;
  const views = Object.keys(THROTTLE_INTERVALS).join('|');
  return {
    Topic: {
      type: 'string',
      maxLength: MAX_TOPIC_LENGTH,
      description: `A topic: market data (trade.<SYMBOL>, quote.<SYMBOL>), a private channel (user.<sub>.<stream>) or ${ANNOUNCE_TOPIC}.`,
      anyOf: [{ pattern: market }, { pattern: USER_TOPIC_PATTERN.source }, { const: ANNOUNCE_TOPIC }],
    },
    Subscription: {
      type: 'string',
      description:
        `What a client may subscribe to: a topic, or a throttled view of a market topic ` +
        `(@${Object.keys(THROTTLE_INTERVALS).join(', @')}).`,
      anyOf: [ref('Topic'), { pattern: `${market.slice(0, -1)}@(${views})$` }],
    },
  };
}

function tickSchemas(): Record<string, Schema> {
  return {
    TradeTick: obj(
      ['ts', 'px', 'qty', 'side'],
      {
        ts: num('Exchange/ingest time, epoch milliseconds.'),
        px: num('Trade price.', { exclusiveMinimum: 0 }),
        qty: num('Trade size (base units).', { exclusiveMinimum: 0 }),
        side: { type: 'string', enum: ['b', 's'], description: 'Aggressor side: b buyer-initiated, s seller-initiated.' },
      },
      'One trade (topic kind trade). Every number is a float64 on the wire.',
    ),
    QuoteTick: obj(
      ['ts', 'bid', 'bsz', 'ask', 'asz'],
      {
        ts: num('Exchange/ingest time, epoch milliseconds.'),
        bid: num('Best bid price.', { exclusiveMinimum: 0 }),
        bsz: num('Size at the bid.', { minimum: 0 }),
        ask: num('Best ask price.', { exclusiveMinimum: 0 }),
        asz: num('Size at the ask.', { minimum: 0 }),
      },
      'Top of book (topic kind quote). Every number is a float64 on the wire.',
    ),
    EventPayload: {
      type: 'object',
      description: `The payload of a private channel or of ${ANNOUNCE_TOPIC}: the producer's map, passed through.`,
    },
    Tick: { description: "The topic's kind says which.", anyOf: [ref('TradeTick'), ref('QuoteTick'), ref('EventPayload')] },
  };
}

function codeSchemas(): Record<string, Schema> {
  const errs = Object.entries(ERROR_CODES);
  const closes = Object.entries(CLOSE_CODES);
  return {
    ErrorCode: {
      type: 'string',
      enum: errs.map(([code]) => code),
      description: 'Codes of err messages; the connection stays open. x-reconnect: whether retrying the same request can succeed.',
      'x-codes': Object.fromEntries(errs.map(([code, s]) => [code, { reconnect: s.reconnect, description: s.description }])),
    },
    CloseCode: {
      type: 'integer',
      enum: closes.map(([, c]) => c.code),
      description: 'WebSocket close codes the gateway sends (also the code of the SSE close event). x-reconnect: whether to reconnect.',
      'x-codes': Object.fromEntries(closes.map(([name, c]) => [c.code, { name, reconnect: c.reconnect, description: c.description }])),
    },
  };
}

function messageSchemas(): Record<string, Schema> {
  const id = int('Chosen by the client, echoed in the reply.');
  const topics = { type: 'array', minItems: 1, items: ref('Subscription') };
  const since = obj(['epoch', 'seq'], {
    epoch: str('The epoch of the last tick the client processed.'),
    seq: int('Its sequence number.', { minimum: 0 }),
    src: str('Its upstream stream, when the gateway gave one (resume on another instance).', { maxLength: 512 }),
    off: int('Its upstream offset; comes with src.', { minimum: 0 }),
  });
  return {
    Sub: obj(['op', 'id', 'topics'], {
      op: op('sub'),
      id,
      topics,
      since: { type: 'object', description: 'Resume: topic → the position the client stopped at.', additionalProperties: since },
    }),
    Unsub: obj(['op', 'id', 'topics'], { op: op('unsub'), id, topics }),
    Ping: obj(['op', 'id'], { op: op('ping'), id }),
    Ack: obj(['op', 'id', 'topics'], { op: op('ack'), id, topics: { type: 'array', items: ref('Subscription') } }),
    Err: obj(['op', 'code', 'msg'], {
      op: op('err'),
      id,
      code: ref('ErrorCode'),
      msg: str('For humans.'),
      topics: { type: 'array', items: { type: 'string' }, description: 'The offending names, when the error is about topics.' },
    }),
    Snap: obj(['op', 'topic', 'seq', 'epoch', 'data'], {
      op: op('snap'),
      topic: ref('Subscription'),
      seq: int('Sequence number of data.', { minimum: 1 }),
      epoch: str('The stream run seq counts in.'),
      data: ref('Tick'),
      resync: {
        type: 'boolean',
        const: true,
        description: 'Continuity is broken: ticks between what the client had and this one were skipped.',
      },
      src: str('Upstream stream of the tick.'),
      off: int('Upstream offset of the tick.', { minimum: 0 }),
    }),
    Upd: obj(['op', 'topic', 'seq', 'data'], {
      op: op('upd'),
      topic: ref('Subscription'),
      seq: int('Sequence number of data[0]; the rest follow consecutively.', { minimum: 1 }),
      data: { type: 'array', minItems: 1, items: ref('Tick') },
      off: int('Upstream offset of the last tick of data.', { minimum: 0 }),
    }),
    Hb: obj(['op', 'ts'], { op: op('hb'), ts: num('Server time, epoch milliseconds.') }),
    Pong: obj(['op', 'id'], { op: op('pong'), id }),
    Shutdown: obj(['op', 'ts', 'msg'], { op: op('shutdown'), ts: num('Server time, epoch milliseconds.'), msg: str('For humans.') }),
    SseClose: obj(['op', 'code', 'name', 'reason'], {
      op: op('close'),
      code: ref('CloseCode'),
      name: str("The close code's name."),
      reason: str('For humans.'),
    }),
  };
}

/** Message name → [schema name, title, summary]. The order is the protocol's. */
const CLIENT_MESSAGES = [
  ['sub', 'Sub', 'Subscribe to topics (optionally resuming with since).'],
  ['unsub', 'Unsub', 'Unsubscribe.'],
  ['ping', 'Ping', 'Application-level ping; answered with pong.'],
] as const;
const SERVER_MESSAGES = [
  ['ack', 'Ack', 'The request succeeded for these topics.'],
  ['err', 'Err', 'The request failed (the connection stays open).'],
  ['snap', 'Snap', "The topic's last value: the first message of a topic on a connection, unless resumed."],
  ['upd', 'Upd', 'New ticks, oldest first, consecutive.'],
  ['hb', 'Hb', 'Heartbeat, every heartbeatIntervalMs.'],
  ['pong', 'Pong', 'Answer to ping.'],
  ['shutdown', 'Shutdown', 'The gateway drains: reconnect elsewhere now.'],
] as const;

export function asyncApiDocument(): Schema {
  const messages: Record<string, Schema> = {};
  for (const [name, schema, summary] of [...CLIENT_MESSAGES, ...SERVER_MESSAGES]) {
    messages[name] = { name, title: schema, summary, payload: ref(schema) };
  }
  messages.close = {
    name: 'close',
    title: 'SseClose',
    summary: 'SSE only: the last event, with the close code a WebSocket would get.',
    payload: ref('SseClose'),
  };
  const msgRefs = (names: readonly string[]): Schema => Object.fromEntries(names.map((n) => [n, { $ref: `#/components/messages/${n}` }]));
  const clientNames = CLIENT_MESSAGES.map(([n]) => n);
  const serverNames = SERVER_MESSAGES.map(([n]) => n);
  const subprotocols = [...ACCEPTED_SUBPROTOCOLS];
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'tickwire market-data gateway',
      version: '1.0.0',
      description:
        'Protocol v1 of tickwire: subscribe to topics over one WebSocket and receive sequenced snapshots and updates. ' +
        'Generated from the protocol tables (npm run docs:asyncapi); docs/protocol.md is the normative prose. ' +
        `Every subprotocol carries the same messages: ${subprotocols.join(', ')} (msgpack maps with float64 numbers, ` +
        'JSON text, or msgpack behind a flag byte with shared raw DEFLATE).',
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/msgpack',
    servers: {
      local: { host: '127.0.0.1:9001', protocol: 'ws', pathname: '/v1', description: 'npm start: the gateway with its embedded feed.' },
      localSse: {
        host: '127.0.0.1:9001',
        protocol: 'http',
        pathname: '/v1',
        description: 'The Server-Sent Events fallback on the same port.',
      },
    },
    channels: {
      stream: {
        address: '/v1',
        title: 'The WebSocket stream',
        description:
          'One connection carries every subscription; topics are named inside the messages (see components.schemas.Subscription).',
        servers: [{ $ref: '#/servers/local' }],
        messages: msgRefs([...clientNames, ...serverNames]),
        bindings: {
          ws: {
            method: 'GET',
            headers: {
              type: 'object',
              properties: {
                'Sec-WebSocket-Protocol': {
                  type: 'string',
                  enum: subprotocols,
                  description: 'The encoding; the first one offered that the gateway knows wins; none offered means JSON.',
                },
                Authorization: { type: 'string', description: 'Bearer <JWT>, when the gateway runs with authMode=jwt.' },
              },
            },
            query: {
              type: 'object',
              properties: { access_token: { type: 'string', description: 'The JWT, for browsers (no headers on WebSocket).' } },
            },
          },
        },
      },
      sse: {
        address: '/v1/sse',
        title: 'Server-Sent Events fallback',
        description: 'The same server messages as JSON text, one event per message (event name = op), for networks that block WebSocket.',
        servers: [{ $ref: '#/servers/localSse' }],
        messages: msgRefs([...serverNames, 'close']),
        bindings: {
          http: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                topics: { type: 'string', description: 'Comma-separated topics or throttled views.' },
                since: { type: 'string', description: "JSON of a sub's since, URL-encoded." },
                lastEventId: { type: 'string', description: 'The Last-Event-ID, for clients that cannot send the header.' },
                access_token: { type: 'string', description: 'The JWT.' },
              },
            },
          },
        },
      },
    },
    operations: {
      sendRequest: {
        action: 'send',
        channel: { $ref: '#/channels/stream' },
        title: 'Requests',
        summary: 'What a client sends.',
        messages: clientNames.map((n) => ({ $ref: `#/channels/stream/messages/${n}` })),
      },
      receiveStream: {
        action: 'receive',
        channel: { $ref: '#/channels/stream' },
        title: 'Replies and data',
        summary: 'What a client receives on the WebSocket.',
        messages: serverNames.map((n) => ({ $ref: `#/channels/stream/messages/${n}` })),
      },
      receiveSse: {
        action: 'receive',
        channel: { $ref: '#/channels/sse' },
        title: 'SSE events',
        summary: 'What an SSE client receives.',
        messages: [...serverNames, 'close'].map((n) => ({ $ref: `#/channels/sse/messages/${n}` })),
      },
    },
    components: {
      schemas: { ...topicSchemas(), ...tickSchemas(), ...codeSchemas(), ...messageSchemas() },
      messages,
    },
  };
}

/** The schema name of each message op, for checking decoded frames against the document. */
export const MESSAGE_SCHEMAS: Readonly<Record<string, string>> = Object.fromEntries(
  [...CLIENT_MESSAGES, ...SERVER_MESSAGES, ['close', 'SseClose', '']].map(([n, s]) => [n, s]),
);
