import type { MikroORM } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import type { Subscription } from 'rxjs';
import type { Config } from '../../src/config.js';
import {
  startConnectionSupervisor,
  type ConnectionSupervisor,
} from '../../src/connections/connection-supervisor.js';
import { EventPublisher, subscribeEvents } from '../../src/events/event-bus.js';
import type { EngineEvent } from '../../src/events/event-types.js';
import { createPlainLogger } from '../../src/logger.js';
import type { ReceivedMessage } from '../../src/mqtt/received-message.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from './config.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** A supervisor under test with what it received and published. */
export interface RunningSupervisor {
  supervisor: ConnectionSupervisor;
  config: Config;
  metrics: Metrics;
  messages: ReceivedMessage[];
  stop(): Promise<void>;
}

/** A test database, Redis event bus and event recorder for connection supervisor tests. */
export interface ConnectionHarness {
  database: TestDatabase;
  orm: MikroORM;
  events: EngineEvent[];
  /** Starts a supervisor; `acknowledge` false leaves QoS 1/2 messages unacknowledged. */
  start(overrides?: Record<string, string>, acknowledge?: boolean): Promise<RunningSupervisor>;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  /** Stops every supervisor still running, closes Redis and drops the database. */
  close(): Promise<void>;
}

/** Short retries and a long sweep, so a test sees LISTEN/NOTIFY rather than the sweep. */
export const FAST_CONNECTION_SETTINGS = {
  RETRY_BASE_MS: '100',
  RETRY_CAP_MS: '1000',
  CONNECT_TIMEOUT_MS: '3000',
  RECONCILE_INTERVAL_MS: String(3600_000),
  HEARTBEAT_WRITE_INTERVAL_MS: '200',
  ADMISSION_RATE_PER_SECOND: '50',
};

/** Sets up the services a supervisor test needs. */
export async function createConnectionHarness(label: string): Promise<ConnectionHarness> {
  const database = await createTestDatabase(label);
  const prefix = uniqueName(label);
  const publisherRedis = openRedis('redis://127.0.0.1:6379');
  const subscriberRedis = openRedis('redis://127.0.0.1:6379');
  const events: EngineEvent[] = [];
  const eventSubscription = subscribeEvents(subscriberRedis, prefix).subscribe((event) =>
    events.push(event),
  );
  const running = new Set<RunningSupervisor>();

  const start = async (overrides: Record<string, string> = {}, acknowledge = true) => {
    const started = await startSupervisor({
      database,
      redis: publisherRedis,
      prefix,
      overrides,
      acknowledge,
    });
    running.add(started);
    const stop = started.stop;
    started.stop = async () => {
      running.delete(started);
      await stop();
    };
    return started;
  };

  return {
    database,
    orm: database.orm,
    events,
    start,
    sql: (query, params = []) => database.orm.em.getConnection().execute(query, params),
    close: async () => {
      for (const started of [...running]) await started.stop();
      eventSubscription.unsubscribe();
      await closeRedis(publisherRedis, subscriberRedis);
      await database.drop();
    },
  };
}

async function startSupervisor(options: {
  database: TestDatabase;
  redis: Redis;
  prefix: string;
  overrides: Record<string, string>;
  acknowledge: boolean;
}): Promise<RunningSupervisor> {
  const config = testConfig({
    DATABASE_URL: options.database.url,
    ...FAST_CONNECTION_SETTINGS,
    ...options.overrides,
  });
  const logger = createPlainLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent');
  const metrics = createMetrics();
  const supervisor = await startConnectionSupervisor({
    config,
    orm: options.database.orm,
    logging: { root: logger, connection: logger },
    events: new EventPublisher(options.redis, options.prefix),
    metrics,
  });

  const messages: ReceivedMessage[] = [];
  const subscription: Subscription = supervisor.messages$.subscribe((message) => {
    messages.push(message);
    if (options.acknowledge) message.acknowledge();
  });
  return {
    supervisor,
    config,
    metrics,
    messages,
    stop: async () => {
      await supervisor.stop();
      subscription.unsubscribe();
    },
  };
}

async function closeRedis(...connections: Redis[]): Promise<void> {
  for (const connection of connections) connection.disconnect();
  await Promise.resolve();
}

/** Polls until the check passes, failing after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
