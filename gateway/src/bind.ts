import { createServer } from 'node:net';
import { ConfigError } from './config/load.js';

/**
 * Refuses a port another process already listens on (issue 13, point 8).
 *
 * uSockets sets SO_REUSEPORT on every listener with an explicit port, which is how the worker
 * threads of one gateway share it; but it also lets a second gateway bind the same port, and the
 * kernel then spreads connections over both (two epochs). Before uWS listens, this binds the
 * port once *without* SO_REUSEPORT (a plain net.Server): the kernel refuses that while any other
 * socket listens there, with or without SO_REUSEPORT. The claim is released at once, so that the
 * gateway's own listeners can share the port; two gateways started in the same instant could
 * both pass, which is a far smaller window than "always".
 */
export async function claimPort(host: string, port: number): Promise<void> {
  if (port === 0) return; // the kernel picks a free port: nobody else has it
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      reject(
        new ConfigError(
          `Invalid configuration:\n  TICKWIRE_PORT (--port) = ${port}: port ${port} on ${host} is already in use by another process ` +
            '(another gateway?); stop it or choose another port (TICKWIRE_PORT)',
        ),
      );
    });
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** All interfaces: a wildcard address. */
function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '::0';
}

const bracket = (h: string) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);

/** The host:port a client on this machine dials: loopback for a wildcard bind, else the address bound. */
export function localAuthority(host: string, port: number): string {
  if (isWildcard(host)) return `${host === '0.0.0.0' ? '127.0.0.1' : '[::1]'}:${port}`;
  return `${bracket(host)}:${port}`;
}

/**
 * The listen line operators read: the address actually bound, and a URL that works from this
 * host ("ws://127.0.0.1" was printed while binding every interface, hiding the exposure).
 */
export function listenDescription(host: string, port: number, tls: boolean): string {
  const url = `${tls ? 'wss' : 'ws'}://${localAuthority(host, port)}/v1`;
  if (isWildcard(host)) return `listening on ${bracket(host)}:${port} (all interfaces); local clients: ${url}`;
  return `listening on ${bracket(host)}:${port} (this address only); clients: ${url}`;
}
