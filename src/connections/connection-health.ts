import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ConnectionStatus } from '../entities/index.js';
import type { EventPublisher } from '../events/event-bus.js';
import { DEFAULT_EXPECTED_INTERVAL_MS, type ConnectionStore } from './connection-store.js';

/** A connection's health as the API shows it; silence is distinct from connected. */
export interface ConnectionHealth {
  connectionId: number;
  siteId: number | null;
  status: ConnectionStatus;
  /** Connected and nothing received for longer than SILENCE_FACTOR x the expected interval. */
  silent: boolean;
  /** Connected and not silent. */
  receiving: boolean;
  silentForMs: number;
  expectedIntervalMs: number;
  lastMessageAt: string | null;
  lastHeartbeatAt: string | null;
  lastConnectedAt: string | null;
  /** Sessions established since the engine started; a resubscription does not add one. */
  sessions: number;
}

interface Entry {
  siteId: number | null;
  status: ConnectionStatus;
  connectedAt: number | null;
  lastConnectedAt: string | null;
  lastMessageAt: number | null;
  lastHeartbeatAt: number | null;
  expectedIntervalMs: number;
  silent: boolean;
  sessions: number;
}

/** What the health tracker needs. */
export interface HealthDependencies {
  config: Pick<
    Config,
    'SILENCE_FACTOR' | 'SILENCE_CHECK_INTERVAL_MS' | 'HEARTBEAT_WRITE_INTERVAL_MS'
  >;
  store: ConnectionStore;
  events: EventPublisher;
  logger: Logger;
}

/**
 * Signs of life per connection. Messages and keepalive answers move last_heartbeat_at, written
 * in one batched statement every HEARTBEAT_WRITE_INTERVAL_MS rather than per message; only
 * messages count against silence, since a broker answering pings says nothing about the
 * gateways behind it.
 */
export class HealthTracker {
  readonly #deps: HealthDependencies;
  readonly #entries = new Map<number, Entry>();
  readonly #dirty = new Map<number, Date>();
  readonly #timers: NodeJS.Timeout[];

  constructor(deps: HealthDependencies) {
    this.#deps = deps;
    this.#timers = [
      setInterval(() => void this.flush(), deps.config.HEARTBEAT_WRITE_INTERVAL_MS),
      setInterval(() => this.checkSilence(), deps.config.SILENCE_CHECK_INTERVAL_MS),
    ];
  }

  /** A message or keepalive answer arrived; called on the network path, so it only records. */
  activity(connectionId: number, kind: 'message' | 'keepalive'): void {
    const entry = this.#entry(connectionId);
    const now = Date.now();
    entry.lastHeartbeatAt = now;
    this.#dirty.set(connectionId, new Date(now));
    if (kind !== 'message') return;

    const silentForMs = this.#silentFor(entry, now);
    entry.lastMessageAt = now;
    if (entry.silent) this.#setSilent(connectionId, entry, false, silentForMs);
  }

  /** Follows the connection's status; silence is measured from the moment it connects. */
  status(connectionId: number, siteId: number, status: ConnectionStatus, sessions: number): void {
    const entry = this.#entry(connectionId);
    entry.siteId = siteId;
    entry.sessions = sessions;
    if (status === 'connected' && entry.status !== 'connected') {
      entry.connectedAt = Date.now();
      entry.lastConnectedAt = new Date().toISOString();
    }
    if (status !== 'connected') {
      entry.connectedAt = null;
      entry.silent = false;
    }
    entry.status = status;
  }

  /** Sets the cadence the site's gateways announce. */
  expectInterval(connectionId: number, intervalMs: number): void {
    this.#entry(connectionId).expectedIntervalMs = intervalMs;
  }

  /** Forgets a connection that no longer runs. */
  forget(connectionId: number): void {
    this.#entries.delete(connectionId);
  }

  /** The health of one connection; `disconnected` for one the engine does not run. */
  health(connectionId: number): ConnectionHealth {
    const entry = this.#entries.get(connectionId) ?? blankEntry();
    const silentForMs = this.#silentFor(entry, Date.now());
    return {
      connectionId,
      siteId: entry.siteId,
      status: entry.status,
      silent: entry.silent,
      receiving: entry.status === 'connected' && !entry.silent,
      silentForMs,
      expectedIntervalMs: entry.expectedIntervalMs,
      lastMessageAt: iso(entry.lastMessageAt),
      lastHeartbeatAt: iso(entry.lastHeartbeatAt),
      lastConnectedAt: entry.lastConnectedAt,
      sessions: entry.sessions,
    };
  }

  /** Marks connected connections silent once they pass SILENCE_FACTOR x their interval. */
  checkSilence(): void {
    const now = Date.now();
    for (const [connectionId, entry] of this.#entries) {
      if (entry.status !== 'connected' || entry.silent) continue;

      const limit = this.#deps.config.SILENCE_FACTOR * entry.expectedIntervalMs;
      const silentForMs = this.#silentFor(entry, now);
      if (silentForMs > limit) this.#setSilent(connectionId, entry, true, silentForMs);
    }
  }

  /** Writes the pending heartbeats. */
  async flush(): Promise<void> {
    const beats = new Map(this.#dirty);
    this.#dirty.clear();
    try {
      await this.#deps.store.writeHeartbeats(beats);
    } catch (error) {
      this.#deps.logger.warn({ err: error, connections: beats.size }, 'heartbeat write failed');
    }
  }

  /** Stops the timers and writes what is pending. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await this.flush();
  }

  #setSilent(connectionId: number, entry: Entry, silent: boolean, silentForMs: number): void {
    entry.silent = silent;
    const fields = { connectionId, siteId: entry.siteId, silentForMs };
    this.#deps.logger.info(fields, silent ? 'connection silent' : 'connection receiving again');
    void this.#deps.events.publish({
      type: silent ? 'connection.silent' : 'connection.receiving',
      siteId: entry.siteId ?? 0,
      connectionId,
      silentForMs,
      at: new Date().toISOString(),
    });
  }

  #silentFor(entry: Entry, now: number): number {
    if (entry.status !== 'connected' || entry.connectedAt === null) return 0;
    return now - Math.max(entry.connectedAt, entry.lastMessageAt ?? 0);
  }

  #entry(connectionId: number): Entry {
    let entry = this.#entries.get(connectionId);
    if (!entry) {
      entry = blankEntry();
      this.#entries.set(connectionId, entry);
    }
    return entry;
  }
}

function blankEntry(): Entry {
  return {
    siteId: null,
    status: 'disconnected',
    connectedAt: null,
    lastConnectedAt: null,
    lastMessageAt: null,
    lastHeartbeatAt: null,
    expectedIntervalMs: DEFAULT_EXPECTED_INTERVAL_MS,
    silent: false,
    sessions: 0,
  };
}

function iso(time: number | null): string | null {
  return time === null ? null : new Date(time).toISOString();
}
