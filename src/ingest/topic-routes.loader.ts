import pg from 'pg';
import type { Logger } from 'pino';
import type { TopicRoute, TopicRoutes } from './topic-routes.js';

/** The PostgreSQL NOTIFY channel on which configuration changes are announced. */
export const CONFIG_CHANNEL = 'sitewire_config';

/** Tables whose changes can change routing. */
const ROUTING_TABLES = new Set(['mqtt_topic', 'mqtt_connection', 'site']);

/** Several notifications in a burst (a bulk edit) cause one reload. */
const RELOAD_DEBOUNCE_MS = 100;

/** Wait before listening again after the LISTEN connection was lost. */
const RELISTEN_DELAY_MS = 1_000;

const SELECT_ROUTES = `
select id, mqtt_connection_id, topic_pattern, is_active, parser_name from mqtt_topic`;

/** Options of startRouteRefresh; durations in milliseconds. */
export interface RouteRefreshOptions {
  databaseUrl: string;
  routes: TopicRoutes;
  logger: Logger;
  /** Full reload period, the safety net when a notification is missed. */
  refreshIntervalMs: number;
}

/** Keeps TopicRoutes current; `stop` ends its PostgreSQL connections and timers. */
export interface RouteRefresh {
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Loads the configured topics into `routes`, then reloads them whenever a `sitewire_config`
 * notification names a routing table (within about 100 ms of the change), and every
 * `refreshIntervalMs` in case a notification was lost while the LISTEN connection was down.
 * Resolves once the first load is done, so no message is routed against an empty table.
 */
export async function startRouteRefresh(options: RouteRefreshOptions): Promise<RouteRefresh> {
  const refresher = new RouteRefresher(options);
  try {
    await refresher.reload();
  } catch (error) {
    await refresher.stop();
    throw error;
  }
  await refresher.listen();
  return refresher;
}

class RouteRefresher implements RouteRefresh {
  #stopped = false;
  #listener: pg.Client | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #relisten: NodeJS.Timeout | undefined;
  readonly #periodic: NodeJS.Timeout;

  constructor(private readonly options: RouteRefreshOptions) {
    this.#periodic = setInterval(() => this.#reloadSoon(), options.refreshIntervalMs);
  }

  async reload(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    try {
      await client.connect();
      const result = await client.query(SELECT_ROUTES);
      this.options.routes.replace(result.rows.map(toRoute));
    } finally {
      await client.end().catch(() => undefined);
    }

    const rejected = this.options.routes.rejectedPatterns;
    if (rejected.length) {
      this.options.logger.warn({ patterns: rejected }, 'invalid topic patterns ignored');
    }
  }

  /** LISTENs on a connection of its own; when it is lost, listens again and catches up. */
  async listen(): Promise<void> {
    if (this.#stopped) return;
    try {
      this.#listener = await this.#openListener();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'topic change listener down');
      this.#relisten = setTimeout(() => void this.#listenAndCatchUp(), RELISTEN_DELAY_MS);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#periodic);
    clearTimeout(this.#debounce);
    clearTimeout(this.#relisten);
    const client = this.#listener;
    this.#listener = undefined;
    await client?.end().catch(() => undefined);
  }

  async #openListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    client.on('notification', (message) => {
      if (isRoutingChange(message.payload)) this.#reloadSoon();
    });
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.#stopped || this.#listener !== client) return;
      this.#listener = undefined;
      this.#relisten = setTimeout(() => void this.#listenAndCatchUp(), RELISTEN_DELAY_MS);
    });

    await client.connect();
    await client.query(`listen ${CONFIG_CHANNEL}`);
    return client;
  }

  async #listenAndCatchUp(): Promise<void> {
    await this.listen();
    // Changes made while nobody listened are only visible to a full reload.
    if (this.#listener) this.#reloadSoon();
  }

  #reloadSoon(): void {
    if (this.#stopped || this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.reload().catch((error: unknown) =>
        this.options.logger.warn({ err: error }, 'topic reload failed'),
      );
    }, RELOAD_DEBOUNCE_MS);
  }
}

function isRoutingChange(payload: string | undefined): boolean {
  try {
    const change = JSON.parse(payload ?? '') as { table?: unknown };
    return typeof change.table === 'string' && ROUTING_TABLES.has(change.table);
  } catch {
    return true;
  }
}

function toRoute(row: Record<string, unknown>): TopicRoute {
  return {
    topicId: Number(row.id),
    connectionId: Number(row.mqtt_connection_id),
    pattern: String(row.topic_pattern),
    isActive: row.is_active === true,
    parserName: typeof row.parser_name === 'string' ? row.parser_name : '',
  };
}
