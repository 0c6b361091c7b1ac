import { Queue } from 'bullmq';
import { Subject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestPipeline } from '../../pipelines/ingest.pipeline.js';
import type { MqttConnection, Site } from '../../src/entities/index.js';
import { decodeJobMessage, type IngestJobData } from '../../src/ingest/ingest-job.js';
import { INGEST_QUEUE } from '../../src/ingest/queue-names.js';
import { autocommitRunner } from '../../src/ingest/sql-runner.js';
import { createPlainLogger } from '../../src/logger.js';
import type { ReceivedMessage } from '../../src/mqtt/received-message.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from '../support/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createConnection, createSite, createTopic } from '../support/factories.js';
import { freePort } from '../support/private-redis.js';

describe('startIngestPipeline', () => {
  let db: TestDatabase;
  let site: Site;
  let connection: MqttConnection;

  beforeAll(async () => {
    db = await createTestDatabase('pipeline_stop');
    const em = db.orm.em.fork();
    site = await createSite(em);
    connection = await createConnection(em, site);
    await createTopic(em, connection, { topicPattern: 'plant/gateway/+/dataloggers/telemetry' });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('on stop, puts held messages into Redis, acknowledges them and writes the catalogue', async () => {
    const prefix = uniqueName('pipeline_stop');
    // Batches and catalogue flushes would wait a minute: only stopping sends them.
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_PREFIX: prefix,
      BATCH_MAX_WAIT_MS: '60000',
      CATALOGUE_FLUSH_MS: '60000',
    });
    const source = new Subject<ReceivedMessage>();
    const pipeline = await startIngestPipeline({
      config,
      orm: db.orm,
      logging: { root: createPlainLogger('silent') },
      metrics: createMetrics(),
      registry: createDefaultRegistry(),
      messages$: source,
    });

    const acknowledged: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      source.next({
        siteId: site.id,
        connectionId: connection.id,
        topic: i < 4 ? 'plant/gateway/GW-1/dataloggers/telemetry' : 'plant/elsewhere',
        payload: Buffer.from(`{"n":${i}}`),
        qos: 1,
        retain: false,
        receivedAt: new Date(),
        acknowledge: () => acknowledged.push(i),
      });
    }
    // The catalogue-only message is acknowledged at once; routed ones wait for Redis.
    expect(acknowledged).toEqual([4]);
    expect(pipeline.pending.count).toBe(4);

    await pipeline.stop();
    expect(acknowledged.sort()).toEqual([0, 1, 2, 3, 4]);

    const redis = openRedis(config.REDIS_URL, 'test-inspect');
    const queue = new Queue<IngestJobData>(INGEST_QUEUE, { connection: redis, prefix });
    try {
      const jobs = await queue.getJobs(['waiting']);
      const messages = jobs.flatMap((job) => job.data.messages.map(decodeJobMessage));
      expect(messages.map((m) => m?.payload.toString())).toEqual(
        [0, 1, 2, 3].map((n) => `{"n":${n}}`),
      );
      expect(messages[0]).toMatchObject({ parserName: 'telemetry', qos: 1, siteId: site.id });
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    }

    const rows = await autocommitRunner(db.orm)(
      'select topic_path, message_count::int as n from discovered_topic order by topic_path',
    );
    expect(rows).toEqual([
      { topic_path: 'plant/elsewhere', n: 1 },
      { topic_path: 'plant/gateway/GW-1/dataloggers/telemetry', n: 4 },
    ]);
  });

  it('never acknowledges while Redis is unreachable, and gives up held messages on stop', async () => {
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_PREFIX: uniqueName('pipeline_no_redis'),
      PIPELINE_STOP_TIMEOUT_MS: '1000',
    });
    const metrics = createMetrics();
    const source = new Subject<ReceivedMessage>();
    const pipeline = await startIngestPipeline({
      config,
      orm: db.orm,
      logging: { root: createPlainLogger('silent') },
      metrics,
      registry: createDefaultRegistry(),
      messages$: source,
    });

    let acknowledged = false;
    source.next({
      siteId: site.id,
      connectionId: connection.id,
      topic: 'plant/gateway/GW-2/dataloggers/telemetry',
      payload: Buffer.from('{}'),
      qos: 1,
      retain: false,
      receivedAt: new Date(),
      acknowledge: () => (acknowledged = true),
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(pipeline.pending.count).toBe(1);
    const started = Date.now();
    await pipeline.stop();

    expect(acknowledged).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
