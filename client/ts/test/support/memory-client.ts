import { TickwireClient, type TickwireClientOptions } from '../../src/client.js';
import type { Status } from '../../src/types.js';
import { fakeWebSocket } from './fake-socket.js';
import { ManualTimers } from './manual-timers.js';

/** A client over in-memory sockets with manual timers: the test plays the server on `sock()`. */
export function memoryClient(over: Partial<TickwireClientOptions> = {}) {
  const timers = new ManualTimers();
  const { WebSocket, sockets } = fakeWebSocket();
  const client = new TickwireClient({
    url: 'ws://gw/v1',
    WebSocket,
    timers,
    random: () => 0.5,
    reconnect: { initialDelayMs: 100 },
    transport: 'websocket',
    ...over,
  });
  const statuses: Status[] = [];
  client.onStatus((s) => statuses.push(s));
  const sock = () => sockets.at(-1)!;
  /** Opens the current socket (connecting it first if needed) and returns it. */
  const open = () => {
    if (client.status.current.state === 'idle') void client.connect();
    if (client.status.current.state === 'reconnecting') timers.advance(1000);
    sock().serverOpen();
    return sock();
  };
  /** Client messages sent on the current socket. */
  const sent = () => sock().sentMessages;
  /** Lets `n` rounds of microtasks run. */
  const tick = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };
  return { client, timers, sockets, sock, open, sent, statuses, tick };
}
