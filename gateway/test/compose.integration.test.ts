import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI_FLAGS, FEED_ENV_VARS, parseCli } from '../../feeds/src/cli.js';
import { envName, loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import type { Gateway } from '../src/gateway.js';
import { httpGet, startTestGateway } from './support/gateway.js';

/**
 * docker-compose.yml and the Dockerfile can't be run here (no Docker engine), so this checks
 * them against the code they configure: env var names and values, ports, commands and options.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (f: string) => readFileSync(ROOT + f, 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number; published?: number | string })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target: string })[];
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
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
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

/** [host path relative to the repository, container path] of a service's bind mounts. */
function mountsOf(s: Service): [string, string][] {
  return (s.volumes ?? []).flatMap((v): [string, string][] => {
    if (typeof v === 'object') return v.source?.startsWith('./') ? [[v.source.slice(2), v.target]] : [];
    const [src, target] = v.split(':');
    return src!.startsWith('./') ? [[src!.slice(2), target!]] : [];
  });
}

/** The repository file mounted at (or under a directory mounted at) a container path. */
function hostPath(s: Service, containerPath: string): string {
  for (const [host, target] of mountsOf(s)) {
    if (containerPath === target) return host;
    if (containerPath.startsWith(target + '/')) return host.replace(/\/$/, '') + containerPath.slice(target.length);
  }
  throw new Error(`nothing is mounted at ${containerPath}`);
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { type: string; uid: string } }[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; current?: { value: unknown }; datasource?: { uid: string } }[] };
}

describe('docker-compose.yml: Prometheus and Grafana', () => {
  const prom = services.prometheus;
  const grafana = services.grafana;
  const promConfigPath =
    argvOf(prom?.command)
      .find((a) => a.startsWith('--config.file='))
      ?.split('=')[1] ?? '/etc/prometheus/prometheus.yml';
  const promConfig = parse(read(hostPath(prom!, promConfigPath))) as {
    scrape_configs: { job_name: string; metrics_path?: string; scrape_interval?: string; static_configs: { targets: string[] }[] }[];
  };
  const provisioning = (kind: string, file: string) => parse(read(hostPath(grafana!, `/etc/grafana/provisioning/${kind}/${file}`)));
  const datasources = provisioning('datasources', 'prometheus.yml') as {
    datasources: { name: string; uid: string; type: string; url: string; isDefault?: boolean }[];
  };
  const providers = provisioning('dashboards', 'tickwire.yml') as { providers: { type: string; options: { path: string } }[] };
  const dashboardPath = `${providers.providers[0]!.options.path}/tickwire.json`;
  const dashboard = JSON.parse(read(hostPath(grafana!, dashboardPath))) as Dashboard;
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => JSON.stringify(v.query)),
  ];

  it('runs pinned prom/prometheus and grafana/grafana images on their usual ports', () => {
    expect(prom?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(portsOf(prom!)).toContainEqual([9090, 9090]);
    expect(portsOf(grafana!)).toContainEqual([3000, 3000]);
    expect(prom!.depends_on).toContain('gateway');
    expect(grafana!.depends_on).toContain('prometheus');
  });

  it('every file or directory mounted from the repository exists', () => {
    const all = Object.entries(services).flatMap(([name, s]) => mountsOf(s).map(([host]) => [name, host] as const));
    expect(all.length).toBeGreaterThanOrEqual(3);
    for (const [name, host] of all) expect(existsSync(ROOT + host), `${name}: ./${host}`).toBe(true);
  });

  it('Prometheus scrapes the gateway service on its port at /metrics every 5 s, which the gateway serves without a token', () => {
    const job = promConfig.scrape_configs.find((j) => j.job_name === 'tickwire')!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job.scrape_interval).toBe('5s');
    const gw = loadConfig({ env: envOf(services.gateway!) });
    expect(job.static_configs.flatMap((c) => c.targets)).toEqual([`gateway:${gw.port}`]);
    expect(gw.exposeMetrics).toBe(true);
    expect(gw.metricsPublic).toBe(true);
  });

  it('Grafana: anonymous viewers, the Prometheus service as default datasource, the dashboard provisioned from the mounted dir', () => {
    const env = envOf(grafana!);
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    expect(existsSync(ROOT + hostPath(grafana!, env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!))).toBe(true);
    const ds = datasources.datasources.find((d) => d.type === 'prometheus')!;
    expect(ds.isDefault).toBe(true);
    expect(ds.url).toBe(`http://prometheus:${portsOf(prom!)[0]![1]}`);
    expect(providers.providers[0]!.type).toBe('file');
    expect(dashboard.uid).toBe('tickwire');
    // Panels use the datasource variable, whose default is the provisioned datasource.
    const dsVar = dashboard.templating.list.find((v) => v.type === 'datasource')!;
    expect(dsVar.query).toBe('prometheus');
    expect(dsVar.current?.value).toBe(ds.uid);
    for (const p of dashboard.panels) {
      expect(p.datasource?.uid, p.title).toBe(`\${${dsVar.name}}`);
      for (const t of p.targets ?? []) expect(t.datasource?.uid ?? p.datasource?.uid, p.title).toBe(`\${${dsVar.name}}`);
    }
  });

  it('the dashboard has unique panel ids, panels inside 24 columns that do not overlap, and a query in every panel', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = dashboard.panels.map((p) => p.gridPos);
    for (const [i, a] of boxes.entries()) {
      expect(a.x + a.w, dashboard.panels[i]!.title).toBeLessThanOrEqual(24);
      for (const b of boxes.slice(i + 1))
        expect(
          a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h,
          `${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`,
        ).toBe(false);
    }
    for (const p of dashboard.panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    // What the issue asks the dashboard to show.
    const used = new Set(exprs.flatMap((e) => e.match(/\btickwire_[a-z0-9_]+/g) ?? []));
    for (const m of [
      'tickwire_connections',
      'tickwire_subscriptions',
      'tickwire_ticks_in_total',
      'tickwire_frames_out_total',
      'tickwire_bytes_out_total',
      'tickwire_slow_consumers',
      'tickwire_resyncs_total',
      'tickwire_ingest_lag_records',
      'tickwire_ingest_rejected_total',
      'tickwire_upgrades_refused_total',
      'tickwire_process_resident_memory_bytes',
      'tickwire_process_cpu_seconds_total',
    ]) {
      expect(used, m).toContain(m);
    }
  });

  describe('against a running gateway', () => {
    let gw: Gateway | undefined;
    let exposed: Set<string>;
    beforeAll(async () => {
      gw = await startTestGateway();
      const { body } = await httpGet(gw.port, '/metrics');
      exposed = new Set(
        [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
          type === 'histogram' || type === 'summary' ? [name!, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
        ),
      );
    });
    afterAll(() => gw?.stop());

    it("every metric the dashboard queries is in the gateway's /metrics", () => {
      const used = [...new Set(exprs.flatMap((e) => e.match(/\btickwire_[a-z0-9_]+/g) ?? []))];
      expect(used.length).toBeGreaterThan(20);
      expect(exposed.size).toBeGreaterThan(30);
      expect(used.filter((m) => !exposed.has(m))).toEqual([]);
    });

    it("every metric the /ops page reads is in the gateway's /metrics", () => {
      const used = [...new Set(read('web/ops.ts').match(/\btickwire_[a-z0-9_]+/g) ?? [])];
      expect(used.length).toBeGreaterThan(20);
      expect(used.filter((m) => !exposed.has(m))).toEqual([]);
    });
  });
});
