import pg from 'pg';
import type { Logger } from 'pino';
import { fromCallback, type CallbackActorLogic, type EventObject } from 'xstate';
import { fullJitterDelay } from '../../machines/connection.machine.js';

/** The channel the config-change trigger notifies on. */
export const CONFIG_CHANNEL = 'sitewire_config';

/** The payload of a config-change notification. */
export interface ConfigChange {
  table: string;
  op: string;
  id: number | null;
  connection_id: number | null;
  site_id: number | null;
}

/** Events the listener reports to the supervisor. */
export type ConfigListenerReport =
  | { type: 'supervisor.config.changed'; change: ConfigChange | null }
  | { type: 'supervisor.listener.up'; reconnected: boolean }
  | { type: 'supervisor.listener.down'; error: string };

/** What the listener needs. Durations in milliseconds. */
export interface ConfigListenerOptions {
  databaseUrl: string;
  retryBaseMs: number;
  retryCapMs: number;
  logger: Logger;
}

/** The logic of the config listener actor. */
export type ConfigListenerLogic = CallbackActorLogic<EventObject, void, EventObject>;

/**
 * PostgreSQL LISTEN on `sitewire_config` as an actor. It holds its own pg Client (LISTEN needs
 * one dedicated session, not a pooled one), reconnects with backoff when the session drops,
 * and reports `supervisor.listener.up` with `reconnected: true` afterwards, since
 * notifications sent while it was away are lost and only a full reconcile catches up.
 */
export function createConfigListener(options: ConfigListenerOptions): ConfigListenerLogic {
  return fromCallback(({ sendBack }) => {
    const listener = new ConfigListener(options, (report) => sendBack(report));
    listener.start();
    return () => listener.stop();
  });
}

class ConfigListener {
  readonly #options: ConfigListenerOptions;
  readonly #report: (report: ConfigListenerReport) => void;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #everUp = false;
  #stopped = false;

  constructor(options: ConfigListenerOptions, report: (report: ConfigListenerReport) => void) {
    this.#options = options;
    this.#report = report;
  }

  start(): void {
    void this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#drop();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.databaseUrl });
    this.#client = client;
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('listener session ended')));
    client.on('notification', (message) => this.#notify(message.payload));

    try {
      await client.connect();
      await client.query(`listen ${CONFIG_CHANNEL}`);
    } catch (error) {
      this.#lost(client, error);
      return;
    }
    if (this.#stopped || this.#client !== client) return;

    this.#report({ type: 'supervisor.listener.up', reconnected: this.#everUp });
    this.#everUp = true;
    this.#failures = 0;
  }

  #notify(payload: string | undefined): void {
    let change: ConfigChange | null = null;
    try {
      change = payload ? (JSON.parse(payload) as ConfigChange) : null;
    } catch {
      // An unreadable payload still says something changed: reconcile everything.
    }
    this.#report({ type: 'supervisor.config.changed', change });
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#stopped || this.#client !== client) return;

    this.#drop();
    const delay = fullJitterDelay(
      this.#failures,
      this.#options.retryBaseMs,
      this.#options.retryCapMs,
    );
    this.#failures += 1;
    const message = error instanceof Error ? error.message : String(error);
    this.#options.logger.warn({ err: error, retryInMs: delay }, 'config listener lost');
    this.#report({ type: 'supervisor.listener.down', error: message });
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;

    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
  }
}
