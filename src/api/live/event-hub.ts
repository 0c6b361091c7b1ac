import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { WebSocket } from 'ws';
import { subscribeEvents } from '../../events/event-bus.js';
import type { EngineEvent } from '../../events/event-types.js';

/** Which sites a client follows: a set of ids, or every site. */
export type SiteSelection = ReadonlySet<number> | 'all';

/** Options of EventHub; milliseconds and bytes. */
export interface EventHubOptions {
  /** Milliseconds between pings; a client that did not answer the previous one is dropped. */
  pingIntervalMs: number;
  /** Bytes queued for one client before it is dropped as too slow. */
  maxBufferedBytes: number;
}

interface LiveClient {
  socket: WebSocket;
  sites: SiteSelection;
  alive: boolean;
}

/** WebSocket close code for a client dropped because it does not keep up (RFC 6455 1008). */
export const CLOSE_TOO_SLOW = 1008;

/**
 * Fans engine events out to this instance's WebSocket clients. One Redis subscriber
 * connection per app instance carries every instance's events; each client receives those of
 * the sites it follows. Dead clients are found by ping, slow ones are dropped once their
 * send buffer passes the bound, so one stuck browser cannot grow the server's memory.
 */
export class EventHub {
  readonly #clients = new Set<LiveClient>();
  readonly #log: Logger;
  readonly #options: EventHubOptions;
  readonly #subscriber: Redis;
  readonly #subscription: Subscription;
  readonly #pinger: NodeJS.Timeout;

  constructor(subscriber: Redis, prefix: string, log: Logger, options: EventHubOptions) {
    this.#log = log;
    this.#options = options;
    this.#subscriber = subscriber;
    this.#subscription = subscribeEvents(subscriber, prefix).subscribe({
      next: (event) => this.#broadcast(event),
      error: (error: unknown) => log.error({ err: error }, 'live event subscription failed'),
    });
    this.#pinger = setInterval(() => this.#pingAll(), options.pingIntervalMs);
    this.#pinger.unref();
  }

  /** Clients connected to this instance. */
  get size(): number {
    return this.#clients.size;
  }

  /** Starts serving a connected socket; returns a handle to change its site selection. */
  attach(socket: WebSocket, sites: SiteSelection): { select(sites: SiteSelection): void } {
    const client: LiveClient = { socket, sites, alive: true };
    this.#clients.add(client);
    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('close', () => this.#clients.delete(client));
    socket.on('error', () => this.#clients.delete(client));
    return {
      select: (next) => {
        client.sites = next;
      },
    };
  }

  /** Sends a message to one client, dropping it when its buffer is over the bound. */
  send(socket: WebSocket, message: unknown): void {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.#options.maxBufferedBytes) {
      this.#log.warn({ buffered: socket.bufferedAmount }, 'live client too slow, dropped');
      socket.close(CLOSE_TOO_SLOW, 'too slow');
      socket.terminate();
      return;
    }
    socket.send(JSON.stringify(message));
  }

  /** Stops the subscription, the pings and every client. */
  close(): void {
    clearInterval(this.#pinger);
    this.#subscription.unsubscribe();
    for (const client of this.#clients) client.socket.terminate();
    this.#clients.clear();
    // disconnect, not quit: quit waits for a reply that never comes while Redis is down.
    this.#subscriber.disconnect();
  }

  #broadcast(event: EngineEvent): void {
    const wire = toWire(event);
    for (const client of this.#clients) {
      if (client.sites === 'all' || client.sites.has(event.siteId)) this.send(client.socket, wire);
    }
  }

  #pingAll(): void {
    for (const client of this.#clients) {
      if (!client.alive) {
        this.#log.debug('live client missed a ping, dropped');
        client.socket.terminate();
        this.#clients.delete(client);
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }
}

/** An engine event with snake_case field names, as the live stream sends it. */
export function toWire(event: EngineEvent): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(event).map(([key, value]) => [
      key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
      value,
    ]),
  );
}
