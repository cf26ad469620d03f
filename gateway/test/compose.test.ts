import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI_FLAGS, FEED_ENV_VARS, parseCli } from '../../feeds/src/cli.js';
import { envName, loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';

/**
 * docker-compose.yml and the Dockerfile can't be run here (no Docker engine), so this checks
 * them against the code they configure: env var names and values, ports, commands and options.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (f: string) => readFileSync(ROOT + f, 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number; published?: number | string })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const services = compose.services;

/** A service's environment as strings, whichever of the two compose syntaxes it uses. */
function envOf(s: Service): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(
      e.map((kv) => {
        const i = kv.indexOf('=');
        return i === -1 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** [published, target] ports of a service. */
function portsOf(s: Service): [number | undefined, number][] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return [p.published === undefined ? undefined : Number(p.published), p.target];
    const parts = String(p).split('/')[0]!.split(':');
    const target = Number(parts.at(-1));
    return [parts.length > 1 ? Number(parts.at(-2)) : undefined, target];
  });
}

/** The exec-form command as an argv; a string command is split on whitespace (no quoting in ours). */
const argvOf = (c: string | string[] | undefined): string[] => (Array.isArray(c) ? c : (c ?? '').trim().split(/\s+/).filter(Boolean));

const defaults = configSchema.parse({});

describe('docker-compose.yml', () => {
  it('has the kafka, gateway and feed services', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['kafka', 'gateway', 'feed']));
  });

  it("publishes the gateway's default port", () => {
    const gw = services.gateway!;
    expect(envOf(gw).TICKWIRE_PORT ?? String(defaults.port)).toBe(String(defaults.port));
    expect(portsOf(gw)).toContainEqual([defaults.port, defaults.port]);
  });

  it('uses only TICKWIRE_* variables that the gateway or tickwire-feed read', () => {
    const known = new Set<string>([...Object.keys(configSchema.shape).map(envName), ...FEED_ENV_VARS]);
    for (const [name, s] of Object.entries(services)) {
      for (const k of Object.keys(envOf(s)).filter((k) => k.startsWith('TICKWIRE_'))) {
        expect(known.has(k), `${name}: ${k} is not a setting`).toBe(true);
      }
    }
  });

  it("the gateway's environment is a valid configuration for the Kafka source", () => {
    const cfg = loadConfig({ env: envOf(services.gateway!) });
    expect(cfg.source).toBe('kafka');
    expect(cfg.host).toBe('0.0.0.0'); // reachable through the published port
  });

  it('the gateway and the feed use the broker and topic Kafka advertises to containers', () => {
    const kafkaEnv = envOf(services.kafka!);
    const advertised = kafkaEnv.KAFKA_ADVERTISED_LISTENERS!.split(',').map((l) => l.trim());
    const interBroker = kafkaEnv.KAFKA_INTER_BROKER_LISTENER_NAME ?? 'PLAINTEXT';
    const internal = advertised.find((l) => l.startsWith(`${interBroker}://`))!.replace(/^[A-Z_]+:\/\//, '');
    expect(internal).toBe('kafka:9092');
    const gw = loadConfig({ env: envOf(services.gateway!) });
    expect(gw.kafkaBrokers).toBe(internal);

    const feed = parseCli(argvOf(services.feed!.command).slice(2), envOf(services.feed!));
    if (feed.help) throw new Error('the feed command asks for --help');
    expect(feed.config.brokers).toEqual([internal]);
    expect(feed.config.topic).toBe(gw.kafkaTopics.split(',')[0]);
    // Every listener named in KAFKA_LISTENERS has a security protocol.
    const protocols = new Set(kafkaEnv.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP!.split(',').map((p) => p.split(':')[0]));
    for (const l of kafkaEnv.KAFKA_LISTENERS!.split(',')) expect(protocols).toContain(l.split('://')[0]);
    expect(protocols).toContain(kafkaEnv.KAFKA_CONTROLLER_LISTENER_NAMES);
    expect(kafkaEnv.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('the feed runs tickwire-feed with options it accepts', () => {
    const argv = argvOf(services.feed!.command);
    expect(argv.slice(0, 3)).toEqual(['node', 'dist/feeds/src/cli.js', 'sim']);
    for (const a of argv.filter((a) => a.startsWith('--'))) expect(CLI_FLAGS).toContain(a.split('=')[0]);
    const r = parseCli(argv.slice(2), envOf(services.feed!));
    expect(r.help).toBe(false);
    expect(r.help === false && r.config.rate).toBeGreaterThan(0);
  });

  it('starts the gateway and the feed once Kafka is healthy', () => {
    const test = argvOf(services.kafka!.healthcheck?.test);
    expect(test.join(' ')).toMatch(/kafka-broker-api-versions\.sh --bootstrap-server localhost:9092/);
    for (const name of ['gateway', 'feed']) {
      const deps = services[name]!.depends_on as Record<string, { condition?: string }>;
      expect(deps.kafka?.condition, name).toBe('service_healthy');
    }
    // The image's HEALTHCHECK probes the gateway's HTTP port; the feed has none.
    expect(services.feed!.healthcheck?.disable).toBe(true);
  });

  it('builds the gateway and the feed from this repository', () => {
    for (const name of ['gateway', 'feed']) expect(services[name]!.build, name).toBe('.');
  });
});

describe('Dockerfile', () => {
  const dockerfile = existsSync(ROOT + 'Dockerfile') ? read('Dockerfile') : '';
  /** Instructions with their continuation lines joined, comments dropped. */
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const last = (op: string) => instructions.filter((l) => l.toUpperCase().startsWith(op + ' ')).at(-1);

  it('exists and runs the compiled gateway by default', () => {
    expect(dockerfile).not.toBe('');
    const cmd = last('CMD')!;
    expect(JSON.parse(cmd.slice(4))).toEqual(['node', 'dist/gateway/src/main.js']);
  });

  it('exposes the default port, runs as node, and health-checks /healthz without curl', () => {
    expect(last('EXPOSE')).toBe(`EXPOSE ${defaults.port}`);
    expect(last('USER')).toBe('USER node');
    const hc = last('HEALTHCHECK')!;
    expect(hc).toMatch(/CMD \["node", "-e", .*\/healthz/);
    expect(hc).not.toMatch(/curl|wget/);
  });

  it('is multi-stage on node:20-bookworm-slim with production dependencies only at runtime', () => {
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:20-bookworm-slim/);
    expect(instructions.filter((l) => /^FROM /i.test(l))).toHaveLength(2);
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist\/gateway/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist\/feeds/);
  });

  it('.dockerignore keeps dependencies, build output, caches and git out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.cache', '.git']) expect(ignored).toContain(p);
  });

  it('everything the gateway and tickwire-feed import at runtime is a production dependency', () => {
    // The runtime stage has `npm ci --omit=dev`: a devDependency imported by main.ts or cli.ts
    // (directly or not) would crash the container at startup.
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const bare = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      // Value imports/exports only: `import type` and `export type` are erased by tsc.
      const re = /^\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
      for (const m of src.matchAll(re)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        else if (!spec.startsWith('node:')) bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    };
    visit(ROOT + 'gateway/src/main.ts');
    visit(ROOT + 'feeds/src/cli.ts');
    expect(seen.size).toBeGreaterThan(10);
    expect(bare.size).toBeGreaterThan(3);
    for (const dep of bare) expect(Object.keys(pkg.dependencies), `${dep} is imported at runtime`).toContain(dep);
  });
});
