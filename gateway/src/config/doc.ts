import { envName, flagName } from './load.js';
import { configSchema } from './schema.js';

/** docs/configuration.md, generated from the schema so the two cannot drift. */
export function configMarkdown(): string {
  const defaults = configSchema.parse({});
  const rows = Object.entries(configSchema.shape).map(([key, field]) => {
    const def = JSON.stringify(defaults[key as keyof typeof defaults]);
    return `| \`${envName(key)}\` | \`${flagName(key)}\` | \`${def}\` | ${(field.description ?? '').replace(/\|/g, '\\|')} |`;
  });
  return [
    '# Configuration',
    '',
    '<!-- Generated from gateway/src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Every setting has a default. Set it with an environment variable or a command-line flag',
    '(`npm start -- --port 9002`); the flag wins. A bad value stops startup with exit code 2 and a',
    'message naming the setting; an unknown `TICKWIRE_*` variable or flag is an error too (typos',
    'do not pass silently). `npm start -- --help` prints this table.',
    '',
    '| env var | flag | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(configMarkdown());
