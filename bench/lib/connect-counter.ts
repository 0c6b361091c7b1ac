import net from 'node:net';
import { freePort } from './net.js';

/**
 * A TCP relay in front of the bench broker that notes when each connection arrives: the
 * engine's connection attempts, timed to the millisecond. The broker's own client count is
 * reported once a second, too coarse to tell 50 connects per second from 55.
 */
export interface ConnectCounter {
  port: number;
  /** Arrival times (ms, performance.now) of every connection so far. */
  arrivals: number[];
  /** The most arrivals within any one second from `since` on. */
  highestRate(since: number): number;
  close(): Promise<void>;
}

/** Relays 127.0.0.1:<free port> to the broker on `brokerPort`. */
export async function startConnectCounter(brokerPort: number): Promise<ConnectCounter> {
  const arrivals: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    arrivals.push(performance.now());
    relay(client, brokerPort, sockets);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    port,
    arrivals,
    highestRate: (since) => highestInOneSecond(arrivals.filter((at) => at >= since)),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// While the broker is down the relay closes each arrival, as a refused connection would be.
function relay(client: net.Socket, brokerPort: number, sockets: Set<net.Socket>): void {
  const broker = net.connect({ host: '127.0.0.1', port: brokerPort });
  for (const socket of [client, broker]) {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      client.destroy();
      broker.destroy();
    });
  }
  client.pipe(broker).pipe(client);
}

function highestInOneSecond(times: number[]): number {
  let highest = 0;
  let first = 0;
  for (let last = 0; last < times.length; last += 1) {
    while (times[last]! - times[first]! >= 1_000) first += 1;
    highest = Math.max(highest, last - first + 1);
  }
  return highest;
}
