import { describe, expect, it } from 'vitest';
import { ConfigError, envName, flagName, helpText, loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';

describe('config', () => {
  it('has defaults for every field, and a doc line for each', () => {
    const cfg = loadConfig();
    expect(cfg.port).toBe(9001);
    expect(cfg.source).toBe('embedded');
    for (const [key, field] of Object.entries(configSchema.shape)) {
      expect(field.description, key).toMatch(/\w{3,}/);
      expect(cfg[key as keyof typeof cfg], key).not.toBeUndefined();
    }
  });

  it('maps TICKWIRE_* env vars and --flags onto fields, flags winning', () => {
    const cfg = loadConfig({
      env: { TICKWIRE_PORT: '9100', TICKWIRE_FEED_RATE: '250', TICKWIRE_EXPOSE_METRICS: 'off' },
      argv: ['--port', '9200', '--flush-interval-ms=5'],
    });
    expect(cfg).toMatchObject({ port: 9200, feedRate: 250, flushIntervalMs: 5, exposeMetrics: false });
    expect(envName('heartbeatIntervalMs')).toBe('TICKWIRE_HEARTBEAT_INTERVAL_MS');
    expect(flagName('heartbeatIntervalMs')).toBe('--heartbeat-interval-ms');
  });

  it('stops on a bad value with a message naming the setting, its env var and flag', () => {
    expect(() => loadConfig({ env: { TICKWIRE_PORT: 'eighty' } })).toThrow(/TICKWIRE_PORT \(--port\) = "eighty"/);
    expect(() => loadConfig({ env: { TICKWIRE_PORT: '70000' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { TICKWIRE_SOURCE: 'redis' } })).toThrow(/TICKWIRE_SOURCE/);
    expect(() => loadConfig({ argv: ['--feed-rate', '-5'] })).toThrow(/TICKWIRE_FEED_RATE \(--feed-rate\)/);
  });

  it('rejects the idle timeouts that crash uWebSockets.js (1–7 s) and accepts 0 and 8', () => {
    for (const v of ['1', '4', '7'])
      expect(() => loadConfig({ env: { TICKWIRE_IDLE_TIMEOUT_SEC: v } })).toThrow(/TICKWIRE_IDLE_TIMEOUT_SEC.*1–7/);
    expect(loadConfig({ env: { TICKWIRE_IDLE_TIMEOUT_SEC: '0' } }).idleTimeoutSec).toBe(0);
    expect(loadConfig({ env: { TICKWIRE_IDLE_TIMEOUT_SEC: '8' } }).idleTimeoutSec).toBe(8);
  });

  it('checks settings that depend on each other, naming the one to fix', () => {
    expect(() => loadConfig({ env: { TICKWIRE_METRICS_PUBLIC: 'false' } })).toThrow(/TICKWIRE_METRICS_PUBLIC .*adminToken/);
    expect(() => loadConfig({ env: { TICKWIRE_AUTH_MODE: 'jwt' } })).toThrow(/TICKWIRE_AUTH_MODE .*exactly one key source/);
    expect(() => loadConfig({ env: { TICKWIRE_SLOW_SOFT_BYTES: '8388608' } })).toThrow(/TICKWIRE_SLOW_SOFT_BYTES .*maxBackpressureBytes/);
    expect(() => loadConfig({ env: { TICKWIRE_TLS_CERT_FILE: '/nonexistent.pem' } })).toThrow(/TICKWIRE_TLS_CERT_FILE .*not found/);
    expect(() => loadConfig({ env: { TICKWIRE_JWT_SECRET: 'short' } })).toThrow(/TICKWIRE_JWT_SECRET .*32 bytes/);
  });

  it('rejects unknown TICKWIRE_ variables and unknown flags (typos)', () => {
    expect(() => loadConfig({ env: { TICKWIRE_PROT: '1' } })).toThrow(/Unknown setting TICKWIRE_PROT/);
    expect(() => loadConfig({ argv: ['--prot', '1'] })).toThrow(/Unknown option --prot/);
  });

  it('--help lists every setting', () => {
    const help = helpText();
    for (const key of Object.keys(configSchema.shape)) expect(help).toContain(envName(key));
  });
});
