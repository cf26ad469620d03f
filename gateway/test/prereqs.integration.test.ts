import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './support/process.js';

// scripts/prereqs.sh run against a PATH of shims: a temp dir holding links to the real tools it
// needs, minus the ones a test hides, so "missing" is simulated without touching the machine.
const SCRIPT = `${ROOT}scripts/prereqs.sh`;
const BASE_TOOLS = ['sed', 'head', 'cut', 'id', 'cat'];
const PREREQ_TOOLS = ['java', 'mvn', 'python3'];

function which(tool: string): string {
  const r = spawnSync('bash', ['-c', `PATH="$PATH:/usr/sbin" command -v ${tool}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} not found: run bash scripts/prereqs.sh (npm test's pretest does)`);
  return r.stdout.trim();
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Shims {
  dir: string;
  /** Adds an executable shell script `name` to the shim dir. */
  script(name: string, body: string): void;
  /** Adds `name` running the real tool. */
  real(name: string): void;
}

function shims(hide: string[]): Shims {
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-prereqs-'));
  dirs.push(dir);
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!${which('bash')}\n${body}\n`);
    chmodSync(p, 0o755);
  };
  // A wrapper, not a link: the real command may itself be a shim (pyenv) that needs the full PATH.
  const real = (t: string) => script(t, `PATH=${JSON.stringify(process.env.PATH ?? '')} exec ${which(t)} "$@"`);
  for (const t of [...BASE_TOOLS, ...PREREQ_TOOLS]) if (!hide.includes(t)) real(t);
  return { dir, script, real };
}

function run(s: Shims, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(which('bash'), [SCRIPT, ...args], {
    env: { PATH: s.dir, TICKWIRE_CHROMIUM: which('chromium'), TICKWIRE_HAPROXY: which('haproxy'), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('scripts/prereqs.sh', () => {
  it('--check passes when every prerequisite is there', () => {
    const r = run(shims([]), ['--check']);
    expect(r.out).toContain('prereqs: ok');
    expect(r.status).toBe(0);
  });

  it('--check names the package of each missing tool and the command, and exits 1', () => {
    const cases: { hide?: string[]; env?: Record<string, string>; pkg: string }[] = [
      { hide: ['java'], pkg: 'openjdk-17-jre-headless' },
      { hide: ['mvn'], pkg: 'maven' },
      { env: { TICKWIRE_HAPROXY: '/nonexistent/haproxy' }, pkg: 'haproxy' },
      { env: { TICKWIRE_CHROMIUM: '/nonexistent/chromium' }, pkg: 'chromium' },
      { hide: ['python3'], pkg: 'python3-venv' },
    ];
    for (const c of cases) {
      const r = run(shims(c.hide ?? []), ['--check'], c.env);
      expect(r.status, `${c.pkg}: ${r.out}`).toBe(1);
      expect(r.out).toMatch(new RegExp(`packages: ${c.pkg}$`, 'm'));
      expect(r.out).toContain(`apt-get install -y ${c.pkg}`);
    }
  });

  it('treats a Java older than 17 and a python3 without venv as missing', () => {
    const s = shims(['java', 'python3']);
    s.script('java', `echo 'openjdk version "11.0.20" 2023-07-18' >&2`);
    s.script('python3', 'exit 1');
    const r = run(s, ['--check']);
    expect(r.status).toBe(1);
    expect(r.out).toContain('packages: openjdk-17-jre-headless python3-venv');
  });

  it('--check never installs, even as root', () => {
    const s = shims(['mvn']);
    s.script('apt-get', `echo "$*" >> ${s.dir}/apt.log`);
    s.script('id', 'echo 0');
    expect(run(s, ['--check']).status).toBe(1);
    expect(() => readFileSync(join(s.dir, 'apt.log'))).toThrow();
  });

  it('as root: apt-get update, then a noninteractive install of exactly the missing packages', () => {
    const s = shims(['mvn']);
    // The fake apt-get "installs" a maven: any executable named mvn on PATH will do.
    s.script(
      'apt-get',
      [
        `echo "DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-} $*" >> ${s.dir}/apt.log`,
        `if [ "$1" = install ]; then ${which('cp')} ${s.dir}/sed ${s.dir}/mvn; fi`,
      ].join('\n'),
    );
    s.script('id', 'echo 0');
    const r = run(s, []);
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(join(s.dir, 'apt.log'), 'utf8').trim().split('\n')).toEqual([
      'DEBIAN_FRONTEND= update -qq',
      'DEBIAN_FRONTEND=noninteractive install -y -qq maven',
    ]);
    expect(r.out).toContain('prereqs: ok');
  });

  it('as root: fails when the install did not provide the tool', () => {
    const s = shims(['mvn']);
    s.script('apt-get', 'exit 0');
    s.script('id', 'echo 0');
    const r = run(s, []);
    expect(r.status).toBe(1);
    expect(r.out).toContain('still missing');
  });

  it('not root: installs nothing, says which command to run as root', () => {
    const s = shims(['java']);
    s.script('apt-get', `echo "$*" >> ${s.dir}/apt.log`);
    s.script('id', 'echo 1000');
    const r = run(s, []);
    expect(r.status).toBe(1);
    expect(r.out).toContain("sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-17-jre-headless'");
    expect(() => readFileSync(join(s.dir, 'apt.log'))).toThrow();
  });
});

describe('the test command and CI call it', () => {
  it("npm test's pretest ensures the prerequisites, then the Kafka jars", () => {
    const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    const pre = scripts.pretest ?? '';
    expect(pre).toMatch(/^bash scripts\/prereqs\.sh && /);
    expect(pre).toContain('bash scripts/kafka.sh fetch');
  });

  it('.ci/run uses the script instead of its own apt-get list', () => {
    const ci = readFileSync(`${ROOT}.ci/run`, 'utf8');
    expect(ci).toMatch(/^bash scripts\/prereqs\.sh$/m);
    expect(ci).not.toContain('apt-get install');
  });
});
