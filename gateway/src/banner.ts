import { localAuthority } from './bind.js';
import { workerCount, type Config } from './config/schema.js';

/**
 * The start-up banner printed on a terminal (pretty logs): where to point a client, a browser
 * and a scraper, and the settings that decide what a newcomer sees (source, workers, auth).
 * With JSON logs it is never printed — the "listening" line carries the same facts for machines.
 */
export function banner(cfg: Config, port: number, version: string): string {
  const tls = cfg.tlsCertFile !== '';
  const at = localAuthority(cfg.host, port);
  const http = `${tls ? 'https' : 'http'}://${at}`;
  const where = cfg.host === '0.0.0.0' || cfg.host === '::' ? 'all interfaces' : `${cfg.host} only`;
  const rows: [string, string][] = [
    ['WebSocket', `${tls ? 'wss' : 'ws'}://${at}/v1`],
    ['Live board', `${http}/`],
    ['Ops page', `${http}/ops`],
    ['Metrics', `${http}/metrics`],
    ['Source', source(cfg)],
    ['Workers', `${workerCount(cfg)}${cfg.workers === 'auto' ? ' (one per core)' : ''}`],
    ['Auth', auth(cfg)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    '',
    `  tickwire ${version} — listening on port ${port} (${where})`,
    '',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    '',
    '  Ctrl-C stops it gracefully. For JSON logs: TICKWIRE_LOG_FORMAT=json.',
    '',
    '',
  ].join('\n');
}

function source(cfg: Config): string {
  if (cfg.source === 'kafka') return `Kafka ${cfg.kafkaBrokers}, topics ${cfg.kafkaTopics}`;
  const symbols = cfg.feedSymbols.split(',').filter((s) => s.trim() !== '').length;
  return `embedded market simulator, ${symbols} symbols, ${cfg.feedRate > 0 ? `${cfg.feedRate} ticks/s` : 'paused (feedRate 0)'}`;
}

function auth(cfg: Config): string {
  if (cfg.authMode === 'none') return 'none — anyone may connect (TICKWIRE_AUTH_MODE=jwt to require tokens)';
  const anon = cfg.anonymousTopics === '' ? 'no anonymous access' : `anonymous: ${cfg.anonymousTopics}`;
  return `JWT required (${anon})`;
}
