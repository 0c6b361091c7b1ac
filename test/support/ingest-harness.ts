import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import type { Subscription } from 'rxjs';
import type { Config } from '../../src/config.js';
import type { MqttConnection, Site } from '../../src/entities/index.js';
import { EventPublisher, subscribeEvents } from '../../src/events/event-bus.js';
import type { EngineEvent } from '../../src/events/event-types.js';
import { startIngestWorkers, type IngestWorkers } from '../../src/ingest/ingest.worker.js';
import type { ParserLookup } from '../../src/ingest/parser-lookup.js';
import { INGEST_QUEUE } from '../../src/ingest/queue-names.js';
import { createPlainLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import { openRedis } from '../../src/redis.js';
import { startIngestPipeline, type IngestPipeline } from '../../pipelines/ingest.pipeline.js';
import { testConfig, uniqueName } from './config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createConnection, createSite, createTopic } from './factories.js';
import { connectMqttSource, connectPublisher, type MqttSource } from './mqtt-source.js';

/** A configured topic pattern, relative to the harness's unique topic prefix. */
export interface HarnessTopic {
  pattern: string;
  isActive?: boolean;
  parserName?: string;
}

/** Options of startIngestHarness. */
export interface IngestHarnessOptions {
  label: string;
  topics: HarnessTopic[];
  registry?: ParserLookup;
  env?: Record<string, string>;
}

/**
 * The ingest path of one test file, end to end on the real services: a private database and
 * Redis prefix, a topic prefix of its own on the shared broker, the pipeline fed by a
 * subscribed client, and the workers.
 */
export interface IngestHarness {
  db: TestDatabase;
  sql: pg.Pool;
  config: Config;
  site: Site;
  connection: MqttConnection;
  /** The unique first topic level of this harness. */
  prefix: string;
  metrics: Metrics;
  /** A Redis connection on the harness's server, for inspecting queues. */
  redis: Redis;
  events: EngineEvent[];
  source: MqttSource;
  publisher: MqttClient;
  pipeline: IngestPipeline;
  workers: IngestWorkers;
  /** Publishes under the prefix (`sub` is appended after `<prefix>/`). */
  publish(sub: string, payload: string | Buffer, qos?: 0 | 1): Promise<void>;
  rows<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** Starts everything; `stop` closes it all and drops the database. */
export async function startIngestHarness(options: IngestHarnessOptions): Promise<IngestHarness> {
  const prefix = uniqueName(options.label);
  const db = await createTestDatabase(options.label);
  const config = testConfig({
    DATABASE_URL: db.url,
    REDIS_PREFIX: prefix,
    BATCH_MAX_WAIT_MS: '20',
    CATALOGUE_FLUSH_MS: '100',
    DATA_UPDATE_THROTTLE_MS: '100',
    INGEST_BACKOFF_MS: '200',
    ...options.env,
  });

  const em = db.orm.em.fork();
  const site = await createSite(em);
  const connection = await createConnection(em, site);
  for (const topic of options.topics) {
    await createTopic(em, connection, { ...topic, topicPattern: `${prefix}/${topic.pattern}` });
  }

  // A pool, not a client: outage tests terminate every backend of the database.
  const sql = new pg.Pool({ connectionString: db.url, max: 2 });
  sql.on('error', () => undefined);
  const logger = createPlainLogger('silent');
  const logging = { root: logger, parsing: logger };
  const metrics = createMetrics();
  const registry = options.registry ?? createDefaultRegistry();

  const redis = openRedis(config.REDIS_URL, 'sitewire-test-events');
  const subscriber = openRedis(config.REDIS_URL, 'sitewire-test-subscriber');
  for (const connection of [redis, subscriber]) connection.on('error', () => undefined);
  const events: EngineEvent[] = [];
  const eventSubscription: Subscription = subscribeEvents(subscriber, prefix).subscribe((event) =>
    events.push(event),
  );
  const publisherOfEvents = new EventPublisher(redis, prefix);

  const source = await connectMqttSource({
    siteId: site.id,
    connectionId: connection.id,
    filter: `${prefix}/#`,
    clientId: `${prefix}-source`,
  });
  const pipeline = await startIngestPipeline({
    config,
    orm: db.orm,
    logging,
    metrics,
    registry,
    messages$: source.messages$,
  });
  // What a connection actor does on this signal: resume the session for redelivery.
  const redeliveries = pipeline.redeliveryNeeded$.subscribe(() => source.resume());
  const workers = startIngestWorkers({
    config,
    orm: db.orm,
    logging,
    metrics,
    registry,
    events: publisherOfEvents,
  });
  const publisher = await connectPublisher();

  return {
    db,
    sql,
    config,
    site,
    connection,
    prefix,
    metrics,
    redis,
    events,
    source,
    publisher,
    pipeline,
    workers,
    publish: async (sub, payload, qos = 1) => {
      await publisher.publishAsync(`${prefix}/${sub}`, payload, { qos });
    },
    rows: async <T>(query: string, params: unknown[] = []) =>
      (await sql.query(query, params)).rows as T[],
    stop: async () => {
      await publisher.endAsync(true);
      redeliveries.unsubscribe();
      await source.close();
      await pipeline.stop();
      await workers.stop();
      // The queue's keys live in the shared Redis under this file's prefix: leave none behind.
      const queue = new Queue(INGEST_QUEUE, { connection: redis, prefix });
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      eventSubscription.unsubscribe();
      subscriber.disconnect();
      redis.disconnect();
      await sql.end();
      await db.drop();
    },
  };
}

/** A counter's current total across all its label values. */
export async function counterTotal(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((entry) =>
      Object.entries(labels).every(
        ([key, value]) => (entry.labels as Record<string, unknown>)[key] === value,
      ),
    )
    .reduce((total, entry) => total + entry.value, 0);
}
