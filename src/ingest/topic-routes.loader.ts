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
  const { logger } = options;
  let stopped = false;
  let listener: pg.Client | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let relisten: NodeJS.Timeout | undefined;

  const reload = async () => {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    try {
      await client.connect();
      const result = await client.query(SELECT_ROUTES);
      options.routes.replace(result.rows.map(toRoute));
      const rejected = options.routes.rejectedPatterns;
      if (rejected.length) logger.warn({ patterns: rejected }, 'invalid topic patterns ignored');
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  const reloadSoon = () => {
    if (stopped || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      reload().catch((error: unknown) => logger.warn({ err: error }, 'topic reload failed'));
    }, RELOAD_DEBOUNCE_MS);
  };

  const listen = async () => {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    client.on('notification', (message) => {
      if (isRoutingChange(message.payload)) reloadSoon();
    });
    client.on('error', () => undefined);
    client.on('end', () => {
      if (stopped || listener !== client) return;
      listener = undefined;
      relisten = setTimeout(() => void listenAndCatchUp(), RELISTEN_DELAY_MS);
    });
    await client.connect();
    await client.query(`listen ${CONFIG_CHANNEL}`);
    listener = client;
  };

  const listenAndCatchUp = async () => {
    if (stopped) return;
    try {
      await listen();
      reloadSoon();
    } catch (error) {
      logger.warn({ err: error }, 'topic change listener down');
      relisten = setTimeout(() => void listenAndCatchUp(), RELISTEN_DELAY_MS);
    }
  };

  await reload();
  await listenAndCatchUp();
  const periodic = setInterval(reloadSoon, options.refreshIntervalMs);

  return {
    reload,
    stop: async () => {
      stopped = true;
      clearInterval(periodic);
      clearTimeout(debounce);
      clearTimeout(relisten);
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => undefined);
    },
  };
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
