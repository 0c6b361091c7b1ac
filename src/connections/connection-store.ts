import type { MikroORM } from '@mikro-orm/postgresql';
import type { ConnectionStatus, LogLevel } from '../entities/index.js';
import { subscriptionsOf, type ConnectionSettings } from '../mqtt/mqtt-session.js';
import type { QoS } from '../mqtt/received-message.js';

/** A gateway-less site is expected to speak at least once a minute. */
export const DEFAULT_EXPECTED_INTERVAL_MS = 60_000;

/** What the database says should run: settings per connection and each site's cadence. */
export interface DesiredState {
  connections: ConnectionSettings[];
  /** Expected interval between messages per connection id, in milliseconds. */
  expectedIntervalsMs: Map<number, number>;
}

/** The engine-owned status columns of one connection. */
export interface StatusColumns {
  status: ConnectionStatus;
  retryCount: number;
  nextRetryAt: string | null;
  lastConnectedAt: string | null;
  lastError: string | null;
}

/** One MqttConnectionLog row. */
export interface ConnectionLogRow {
  connectionId: number;
  level: LogLevel;
  message: string;
  exceptionType?: string;
  traceback?: string;
  brokerHost: string;
  retryAttempt: number | null;
}

interface ConnectionRow {
  id: number;
  site_id: number;
  broker_host: string;
  broker_port: number;
  use_tls: boolean;
  ca_cert: string | null;
  username: string;
  password_encrypted: string | null;
  client_id_prefix: string;
  discovery_pattern: string;
}

interface TopicRow {
  mqtt_connection_id: number;
  topic_pattern: string;
  qos_level: number;
}

interface IntervalRow {
  site_id: number;
  seconds: number | string;
}

/**
 * The supervisor's SQL. Writes are plain targeted updates of engine-owned columns only, so
 * the config-change trigger (operator columns) never fires for them and no NOTIFY storm
 * follows a flapping connection.
 */
export class ConnectionStore {
  readonly #orm: MikroORM;

  constructor(orm: MikroORM) {
    this.#orm = orm;
  }

  /**
   * Every connection that should run: its own and its site's is_active are both true. The
   * supervisor reads all of them on every change: a few indexed reads are cheap next to a
   * broker connection, and changes arriving during a read coalesce into one more read.
   */
  async loadDesired(): Promise<DesiredState> {
    const connections = await this.#sql<ConnectionRow>(
      `select c.id, c.site_id, c.broker_host, c.broker_port, c.use_tls, c.ca_cert, c.username,
         c.password_encrypted, c.client_id_prefix, c.discovery_pattern
       from mqtt_connection c join site s on s.id = c.site_id
       where c.is_active and s.is_active
       order by c.id`,
    );
    const ids = connections.map((row) => row.id);
    const siteIds = connections.map((row) => row.site_id);
    const [topics, intervals] = await Promise.all([this.#topics(ids), this.#intervals(siteIds)]);

    return {
      connections: connections.map((row) => settingsOf(row, topics.get(row.id) ?? [])),
      expectedIntervalsMs: new Map(
        connections.map((row) => [
          row.id,
          intervals.get(row.site_id) ?? DEFAULT_EXPECTED_INTERVAL_MS,
        ]),
      ),
    };
  }

  /**
   * Marks `disconnected` every connection left in another status that is not to run, such as
   * one switched off while the engine was down: nobody else would ever correct it.
   */
  async resetUndesired(desiredIds: number[]): Promise<void> {
    await this.#sql(
      `update mqtt_connection set status = 'disconnected', mqtt_retry_count = 0,
         mqtt_next_retry = null
       where (status <> 'disconnected' or mqtt_next_retry is not null)
         and not (id = any(?::int[]))`,
      [pgArray(desiredIds)],
    );
  }

  /**
   * Writes the status columns of one connection. With a lease token the write only lands
   * while that token is still the connection's latest (fencing): a stale owner finishing
   * late cannot overwrite the status its successor wrote.
   */
  async writeStatus(
    connectionId: number,
    columns: StatusColumns,
    leaseToken?: number,
  ): Promise<void> {
    await this.#sql(
      `update mqtt_connection set status = ?, mqtt_retry_count = ?, mqtt_next_retry = ?,
         last_connected_at = coalesce(?, last_connected_at), last_error = ?
       where id = ? and (?::bigint is null or lease_token = ?::bigint)`,
      [
        columns.status,
        columns.retryCount,
        columns.nextRetryAt,
        columns.lastConnectedAt,
        columns.lastError,
        connectionId,
        leaseToken ?? null,
        leaseToken ?? null,
      ],
    );
  }

  /**
   * Records the new owner of a connection's lease. Only a larger token wins, so a slow write
   * of an older owner arriving last does not undo the newer one.
   */
  async writeOwner(connectionId: number, instanceId: string, leaseToken: number): Promise<void> {
    await this.#sql(
      `update mqtt_connection set owner_instance = ?, lease_token = ?
       where id = ? and (lease_token is null or lease_token < ?)`,
      [instanceId, leaseToken, connectionId, leaseToken],
    );
  }

  /** Clears the owner after a hand-over, unless a newer owner has already written itself. */
  async clearOwner(connectionId: number, leaseToken: number): Promise<void> {
    await this.#sql(
      `update mqtt_connection set owner_instance = null where id = ? and lease_token = ?`,
      [connectionId, leaseToken],
    );
  }

  /** Appends one row to the connection's log; a deleted connection's row is skipped. */
  async writeLog(row: ConnectionLogRow): Promise<void> {
    await this.#sql(
      `insert into mqtt_connection_log
         (connection_id, level, message, exception_type, exception_traceback, broker_host,
          retry_attempt)
       select ?, ?, ?, ?, ?, ?, ? where exists (select 1 from mqtt_connection where id = ?)`,
      [
        row.connectionId,
        row.level,
        row.message,
        (row.exceptionType ?? '').slice(0, 255),
        row.traceback ?? '',
        row.brokerHost.slice(0, 255),
        row.retryAttempt,
        row.connectionId,
      ],
    );
  }

  /** Counts a granted subscription on the configured topics with these patterns. */
  async recordSubscribed(connectionId: number, patterns: string[]): Promise<void> {
    await this.#sql(
      `update mqtt_topic set subscription_count = subscription_count + 1,
         last_subscribed_at = now()
       where mqtt_connection_id = ? and topic_pattern = any(?::text[])`,
      [connectionId, pgArray(patterns)],
    );
  }

  /** Writes last_heartbeat_at for several connections in one statement. */
  async writeHeartbeats(beats: Map<number, Date>): Promise<void> {
    if (!beats.size) return;

    await this.#sql(
      `update mqtt_connection c set last_heartbeat_at = b.at
       from (select unnest(?::int[]) as id, unnest(?::timestamptz[]) as at) b
       where c.id = b.id and (c.last_heartbeat_at is null or c.last_heartbeat_at < b.at)`,
      [pgArray([...beats.keys()]), pgArray([...beats.values()].map((at) => at.toISOString()))],
    );
  }

  async #topics(connectionIds: number[]): Promise<Map<number, TopicRow[]>> {
    const rows = connectionIds.length
      ? await this.#sql<TopicRow>(
          `select mqtt_connection_id, topic_pattern, qos_level from mqtt_topic
           where is_active and mqtt_connection_id = any(?::int[])`,
          [pgArray(connectionIds)],
        )
      : [];
    return groupBy(rows, (row) => row.mqtt_connection_id);
  }

  async #intervals(siteIds: number[]): Promise<Map<number, number>> {
    const rows = siteIds.length
      ? await this.#sql<IntervalRow>(
          `select site_id, max(expected_heartbeat_interval) as seconds from gateway
           where site_id = any(?::int[]) group by site_id`,
          [pgArray(siteIds)],
        )
      : [];
    return new Map(rows.map((row) => [row.site_id, Number(row.seconds) * 1000]));
  }

  #sql<T>(query: string, params: unknown[] = []): Promise<T[]> {
    return this.#orm.em.getConnection().execute<T[]>(query, params);
  }
}

function settingsOf(row: ConnectionRow, topics: TopicRow[]): ConnectionSettings {
  return {
    connectionId: row.id,
    siteId: row.site_id,
    broker: {
      host: row.broker_host,
      port: row.broker_port,
      useTls: row.use_tls,
      caCert: row.ca_cert,
      username: row.username,
      passwordEncrypted: row.password_encrypted,
      clientIdPrefix: row.client_id_prefix,
    },
    subscriptions: subscriptionsOf(
      topics.map((topic) => ({ pattern: topic.topic_pattern, qos: topic.qos_level as QoS })),
      row.discovery_pattern,
    ),
  };
}

// The query builder expands an array binding into a list, so arrays travel as literals.
function pgArray(values: Array<number | string>): string {
  return `{${values.map((value) => JSON.stringify(String(value))).join(',')}}`;
}

function groupBy<T>(rows: T[], key: (row: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const row of rows) {
    const group = groups.get(key(row)) ?? [];
    group.push(row);
    groups.set(key(row), group);
  }
  return groups;
}
