import { describe, expect, it } from 'vitest';
import { configSchema } from '../../gateway/src/config/schema.js';
import { envName } from '../../gateway/src/config/load.js';
import { CLI_FLAGS, CLI_OPTIONS, FEED_ENV_VARS, parseCli, producerConfig, usage, UsageError, type FeedConfig } from '../src/cli.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): FeedConfig {
  const r = parseCli(argv, env);
  if (r.help) throw new Error('unexpected --help');
  return r.config;
}

describe('parseCli', () => {
  it('has the documented defaults', () => {
    const c = config(['sim']);
    expect(c).toMatchObject({
      mode: 'sim',
      rate: 5000,
      seed: 1,
      burstiness: 0.5,
      books: true,
      brokers: ['127.0.0.1:9092'],
      topic: 'ticks',
      format: 'msgpack',
      acks: -1,
      createTopic: true,
      partitions: 8,
      batch: 1000,
      lingerMs: 5,
      inFlight: 4,
      flushTimeoutMs: 5000,
      quiet: false,
      count: undefined,
      durationMs: undefined,
    });
    expect(c.symbols.map((s) => s.symbol)).toEqual(configSchema.parse({}).feedSymbols.split(','));
    expect(config(['replay', 'x.csv'])).toMatchObject({ mode: 'replay', file: 'x.csv', speed: 1, loop: false, keepTs: false });
  });

  it('reads the gateway env vars for brokers and topic; flags win', () => {
    const env = { TICKWIRE_KAFKA_BROKERS: 'k1:9092, k2:9093', TICKWIRE_KAFKA_TOPICS: ' md ,other' };
    expect(config(['sim'], env)).toMatchObject({ brokers: ['k1:9092', 'k2:9093'], topic: 'md' });
    expect(config(['sim', '--brokers', 'b:1', '--topic=t2'], env)).toMatchObject({ brokers: ['b:1'], topic: 't2' });
    // The variables are the gateway's own settings, not new names.
    const schemaEnv = Object.keys(configSchema.shape).map(envName);
    for (const v of FEED_ENV_VARS) expect(schemaEnv).toContain(v);
  });

  it('parses every option', () => {
    const c = config(
      [
        'sim --max --seed 7 --symbols BTC-USD,TSLA --burstiness 0 --duration 1.5 --count 10 --format json --acks=1 --no-create-topic',
        '--partitions 3 --client-id me --batch 10 --linger 0 --in-flight 2 --flush-timeout 0.5 --quiet --no-books',
      ]
        .join(' ')
        .split(' '),
    );
    expect(c).toMatchObject({ rate: 0, seed: 7, burstiness: 0, durationMs: 1500, count: 10, format: 'json', acks: 1, createTopic: false });
    expect(c).toMatchObject({ partitions: 3, clientId: 'me', batch: 10, lingerMs: 0, inFlight: 2, flushTimeoutMs: 500, quiet: true });
    expect(c.books).toBe(false);
    expect(c.symbols.map((s) => s.symbol)).toEqual(['BTC-USD', 'TSLA']);
    expect(config(['sim', '--rate', '0']).rate).toBe(0);
    expect(config(['sim', '--acks', 'all']).acks).toBe(-1);
    expect(config(['sim', '--acks=-1']).acks).toBe(-1);
    expect(config(['replay', 'f.jsonl', '--speed', '0', '--loop', '--keep-ts'])).toMatchObject({ speed: 0, loop: true, keepTs: true });
    expect(parseCli(['--help'])).toEqual({ help: true });
    expect(parseCli(['sim', '-h'])).toEqual({ help: true });
  });

  it.each([
    [[], /missing command/],
    [['stream'], /unknown command "stream"/],
    [['replay'], /needs a FILE/],
    [['replay', 'ticks.json'], /\.ndjson, \.jsonl or \.csv/],
    [['sim', 'extra'], /unexpected argument "extra"/],
    [['sim', '--bogus'], /Unknown option '--bogus'/],
    [['sim', '--rate', 'fast'], /--rate must be a number >= 0/],
    [['sim', '--rate', '-5'], /--rate/],
    [['sim', '--max', '--rate', '10'], /contradict/],
    [['sim', '--seed', '1.5'], /--seed must be an integer/],
    [['sim', '--burstiness', '2'], /--burstiness must be a number >= 0 and <= 1/],
    [['sim', '--count', '0'], /--count/],
    [['sim', '--duration', '0'], /--duration must be a number > 0/],
    [['sim', '--flush-timeout', 'soon'], /--flush-timeout must be a number >= 0/],
    [['sim', '--symbols', 'btc'], /--symbols: invalid symbol name "btc"/],
    [['sim', '--format', 'avro'], /--format must be msgpack or json/],
    [['sim', '--acks', '2'], /--acks/],
    [['sim', '--brokers', 'nohost'], /not host:port/],
    [['sim', '--topic', 'a b'], /not a valid Kafka topic name/],
    [['sim', '--create-topic', '--no-create-topic'], /contradict/],
    [['sim', '--in-flight', '0'], /--in-flight/],
    [['sim', '--speed', '2'], /--speed applies to replay only, not sim/],
    [['replay', 'f.csv', '--rate', '2'], /--rate applies to sim only, not replay/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(message);
  });

  it('produces idempotently when acks are all, so a retried send is not written twice', () => {
    expect(producerConfig(config(['sim']))).toMatchObject({ idempotent: true, allowAutoTopicCreation: false });
    expect(producerConfig(config(['sim', '--acks', '1'])).idempotent).toBe(false);
    expect(producerConfig(config(['sim', '--acks', '0'])).idempotent).toBe(false);
  });

  it('usage lists every option', () => {
    const text = usage();
    for (const f of CLI_FLAGS) expect(text).toContain(f);
    expect(CLI_FLAGS).toEqual(Object.keys(CLI_OPTIONS).map((k) => `--${k}`));
  });
});
