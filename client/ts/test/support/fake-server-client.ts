import { WebSocket } from 'ws';
import { afterEach } from 'vitest';
import { TickwireClient, type TickwireClientOptions } from '../../src/client.js';
import type { Status } from '../../src/types.js';
import { FakeServer } from './fake-server.js';

/**
 * For a test file run against a FakeServer: returns `start`, which opens a server (options as
 * FakeServer.start's) and a client of it at `server.url + query` (WebSocket only, fast
 * reconnects, `opts` on top), recording the client's statuses. Registers an afterEach that
 * closes every client and the server.
 */
export function useFakeServer(query = '') {
  let server: FakeServer | undefined;
  const clients: TickwireClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
  });

  return async function start(opts: Partial<TickwireClientOptions> = {}, serverOpts: Parameters<typeof FakeServer.start>[0] = {}) {
    server = await FakeServer.start(serverOpts);
    const client = new TickwireClient({
      url: `${server.url}${query}`,
      WebSocket,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
      heartbeatTimeoutMs: 10_000,
      transport: 'websocket',
      ...opts,
    });
    clients.push(client);
    const statuses: Status[] = [];
    client.onStatus((s) => statuses.push(s));
    return { server, client, statuses };
  };
}
