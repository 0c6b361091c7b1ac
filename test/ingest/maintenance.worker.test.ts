import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Site } from '../../src/entities/index.js';
import { EventPublisher, subscribeEvents } from '../../src/events/event-bus.js';
import type { EngineEvent } from '../../src/events/event-types.js';
import {
  GATEWAY_SWEEP_JOB,
  LOG_RETENTION_JOB,
  pruneLogs,
  startMaintenance,
  sweepOfflineGateways,
} from '../../src/ingest/maintenance.worker.js';
import { autocommitRunner } from '../../src/ingest/sql-runner.js';
import { createPlainLogger } from '../../src/logger.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from '../support/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createConnection, createSite } from '../support/factories.js';
import { waitFor } from '../support/mqtt-source.js';

describe('maintenance jobs', () => {
  let db: TestDatabase;
  let site: Site;
  const sql = (query: string, params: unknown[] = []) => autocommitRunner(db.orm)(query, params);

  const addGateway = (serial: string, silentForSeconds: number, interval = 60) =>
    sql(
      `insert into gateway (serial_number, site_id, is_online, expected_heartbeat_interval,
         last_seen_at) values (?, ?, true, ?, now() - make_interval(secs => ?))`,
      [serial, site.id, interval, silentForSeconds],
    );

  beforeAll(async () => {
    db = await createTestDatabase('maintenance');
    site = await createSite(db.orm.em.fork());
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('marks offline the gateways silent for more than the factor times their interval', async () => {
    await addGateway('GW-SILENT', 200);
    await addGateway('GW-SLOW', 200, 120);
    await addGateway('GW-FRESH', 10);

    const offline = await sweepOfflineGateways(db.orm, 3);
    expect(offline).toEqual([{ serialNumber: 'GW-SILENT', siteId: site.id, isOnline: false }]);
    expect(await sweepOfflineGateways(db.orm, 3)).toEqual([]);
  });

  it('prunes connection and parsing logs older than the retention', async () => {
    const connection = await createConnection(db.orm.em.fork(), site);
    for (const age of [40, 1]) {
      await sql(
        `insert into mqtt_connection_log (connection_id, "timestamp", level, message)
         values (?, now() - make_interval(days => ?), 'INFO', 'x')`,
        [connection.id, age],
      );
      await sql(
        `insert into mqtt_parsing_log (site_id, "timestamp", topic, error_type, error_message)
         values (?, now() - make_interval(days => ?), 't', 'VALIDATION_ERROR', 'x')`,
        [site.id, age],
      );
    }

    expect(await pruneLogs(db.orm, 30)).toEqual({ connectionLogs: 1, parsingLogs: 1 });
    const [left] = await sql('select count(*)::int as n from mqtt_parsing_log');
    expect(left?.n).toBe(1);
  });

  it('runs the sweep on a job scheduler and announces gateways going offline', async () => {
    const prefix = uniqueName('maintenance');
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_PREFIX: prefix,
      GATEWAY_SWEEP_INTERVAL_MS: '200',
    });
    const redis = openRedis(config.REDIS_URL, 'test-events');
    const subscriber = openRedis(config.REDIS_URL, 'test-subscriber');
    const events: EngineEvent[] = [];
    const subscription = subscribeEvents(subscriber, prefix).subscribe((e) => events.push(e));
    const maintenance = await startMaintenance({
      config,
      orm: db.orm,
      logging: { root: createPlainLogger('silent') },
      events: new EventPublisher(redis, prefix),
    });
    try {
      const schedulers = await maintenance.queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual([GATEWAY_SWEEP_JOB, LOG_RETENTION_JOB]);

      await addGateway('GW-LATER', 1_000);
      const event = await waitFor(() =>
        events.find((e) => e.type === 'gateway.offline' && e.serialNumber === 'GW-LATER'),
      );
      expect(event).toMatchObject({ siteId: site.id, type: 'gateway.offline' });
    } finally {
      await maintenance.stop();
      subscription.unsubscribe();
      subscriber.disconnect();
      redis.disconnect();
    }
  });
});
