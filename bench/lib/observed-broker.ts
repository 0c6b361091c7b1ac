import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

/**
 * An in-process broker (aedes) that says when a given client id connects (CONNACK sent) or
 * goes away: the control phase times the engine's effect where it happens, at the broker.
 */
export interface ObservedBroker {
  port: number;
  /** Resolves at the next connect (`up`) or disconnect of a client whose id starts so. */
  next(clientIdPrefix: string, up: boolean, timeoutMs: number): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Starts the observed broker on a free loopback port. */
export async function startObservedBroker(): Promise<ObservedBroker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  type Waiter = { prefix: string; up: boolean; resolve: (at: number) => void };
  const waiters = new Set<Waiter>();
  const notify = (clientId: string, up: boolean) => {
    const at = performance.now();
    for (const waiter of waiters) {
      if (waiter.up !== up || !clientId.startsWith(waiter.prefix)) continue;
      waiters.delete(waiter);
      waiter.resolve(at);
    }
  };
  aedes.on('clientReady', (client) => notify(client.id, true));
  aedes.on('clientDisconnect', (client) => notify(client.id, false));

  return {
    port,
    next: (prefix, up, timeoutMs) =>
      new Promise((resolve) => {
        const waiter: Waiter = { prefix, up, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (waiters.delete(waiter)) resolve(undefined);
        }, timeoutMs);
      }),
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
