import { z } from 'zod';
import { configRules, configSchema, type Config, type ConfigKey } from './schema.js';

/** A configuration that failed validation; `message` names every bad setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const keys = Object.keys(configSchema.shape) as ConfigKey[];

export function envName(key: string): string {
  return 'TICKWIRE_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

const byFlag = new Map(keys.map((k) => [flagName(k), k]));

/** `--foo-bar=1` or `--foo-bar 1`; a bare boolean flag `--foo-bar` means true. */
function parseArgv(argv: readonly string[]): Partial<Record<ConfigKey, string>> {
  const out: Partial<Record<ConfigKey, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const key = byFlag.get(flag);
    if (!key) throw new ConfigError(`Unknown option ${flag}. Run with --help for the list of settings.`);
    if (eq !== -1) out[key] = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) out[key] = 'true';
      else {
        out[key] = next;
        i++;
      }
    }
  }
  return out;
}

/**
 * Builds the configuration from (lowest to highest precedence) schema defaults, `TICKWIRE_*`
 * env vars, CLI flags and `overrides` (what tests and embedders pass). Throws ConfigError.
 */
export function loadConfig(opts: { env?: NodeJS.ProcessEnv; argv?: readonly string[]; overrides?: Partial<Config> } = {}): Config {
  const env = opts.env ?? {};
  const raw: Record<string, unknown> = {};
  for (const k of keys) {
    const v = env[envName(k)];
    if (v !== undefined && v !== '') raw[k] = v;
  }
  Object.assign(raw, parseArgv(opts.argv ?? []), opts.overrides);
  // An env var that names no setting is almost always a typo of one that does.
  const known = new Set(keys.map(envName));
  const unknown = Object.keys(env).filter((k) => k.startsWith('TICKWIRE_') && !known.has(k) && !EXTRA_ENV.has(k));
  if (unknown.length) throw new ConfigError(`Unknown setting ${unknown.join(', ')}. Run with --help for the list of settings.`);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, raw));
  const broken = configRules.filter((r) => !r.check(parsed.data));
  if (broken.length) {
    const line = (r: (typeof broken)[number]) =>
      `  ${envName(r.path)} (${flagName(r.path)}) = ${shown(r.path, parsed.data[r.path])}: ${r.message}`;
    throw new ConfigError(`Invalid configuration:\n${broken.map(line).join('\n')}`);
  }
  return parsed.data;
}

/** TICKWIRE_* variables read by tools around the gateway (bench, tests), not by the gateway. */
const EXTRA_ENV = new Set<string>(['TICKWIRE_BENCH_CENTRIFUGO', 'TICKWIRE_TEST_KAFKA_PORT', 'TICKWIRE_TEST_LOG_LEVEL']);

/** Settings whose values are credentials: an error names them but never prints them (logs keep errors). */
const SECRETS = new Set<string>(['jwtSecret', 'adminToken']);

function shown(key: string, value: unknown): string {
  if (!SECRETS.has(key)) return JSON.stringify(value);
  return `(secret, ${typeof value === 'string' ? Buffer.byteLength(value) : '?'} bytes, not shown)`;
}

function formatIssues(error: z.ZodError, raw: Record<string, unknown>): string {
  const lines = error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const value = raw[key];
    const display = value === undefined ? '' : ` = ${shown(key, value)}`;
    return `  ${envName(key)} (${flagName(key)})${display}: ${issue.message}`;
  });
  return `Invalid configuration:\n${lines.join('\n')}`;
}

/** The `--help` text: every setting with its env var, flag, default and doc line. */
export function helpText(): string {
  const rows = keys.map((k) => {
    const field = configSchema.shape[k];
    const def = configSchema.parse({})[k];
    return `  ${flagName(k)}  (${envName(k)}, default ${JSON.stringify(def)})\n      ${field.description ?? ''}`;
  });
  return `tickwire gateway\n\nUsage: npm start -- [--setting value ...]\n\nSettings:\n${rows.join('\n')}\n`;
}
