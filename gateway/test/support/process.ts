import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const MAIN = `${ROOT}dist/gateway/src/main.js`;

export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  epoch: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs the built gateway (`npm test` builds first) as a child process on an ephemeral port and
 * resolves once it logs that it listens. It runs one worker unless `env.TICKWIRE_WORKERS` is given. The caller must kill it (or `stopAll`
 * in afterAll).
 */
const running = new Set<ChildProcess>();

export function spawnGateway(args: string[] = [], env: Record<string, string> = {}): Promise<GatewayProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" (npm test does it)`);
  const child = spawn(process.execPath, [MAIN, '--host', '127.0.0.1', '--port', '0', ...args], {
    // One worker unless the test says otherwise: the tests written for one process read one app's view.
    env: { PATH: process.env.PATH ?? '', TICKWIRE_WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 30 s:\n${out}\n${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+),"epoch":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), epoch: m[2] as string, stdout: () => out, stderr: () => err, exited });
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`gateway exited with ${code} before listening:\n${err}`), { code, stderr: err }));
    }, reject);
  });
}

export function stopAll(): void {
  for (const c of running) c.kill('SIGKILL');
}
