import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Site } from '../../src/entities/index.js';
import {
  encodeJobMessage,
  INGEST_JOB_NAME,
  type DecodedMessage,
} from '../../src/ingest/ingest-job.js';
import { openIngestQueue } from '../../src/ingest/ingest-queue.js';
import { startIngestWorkers } from '../../src/ingest/ingest.worker.js';
import { storeMessages, writeOwed } from '../../src/ingest/message-store.js';
import { autocommitRunner } from '../../src/ingest/sql-runner.js';
import { TelemetryCache } from '../../src/ingest/telemetry.cache.js';
import { createPlainLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from '../support/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createSite } from '../support/factories.js';
import { waitFor } from '../support/mqtt-source.js';
import { nthSecond, temperatureMessage } from './telemetry-payloads.js';

const registry = createDefaultRegistry();

describe('the worker cache of the telemetry tree', () => {
  let db: TestDatabase;
  let site: Site;

  const message = (topic: string, payload: string, parserName = 'telemetry'): DecodedMessage => ({
    siteId: site.id,
    connectionId: 1,
    topic,
    qos: 1,
    retain: false,
    receivedAt: new Date(),
    parserName,
    payload: Buffer.from(payload),
  });
  const telemetry = (gateway: string, second: number, value: unknown) =>
    message(
      `s/gateway/${gateway}/dataloggers/telemetry`,
      temperatureMessage(gateway, nthSecond(second), value),
    );
  const rows = (sql: string, params: unknown[] = []) => autocommitRunner(db.orm)(sql, params);
  const lastReading = async (gateway: string) => {
    const [sensor] = await rows(
      `select last_reading, last_reading_at from sensor where serial_number = ?`,
      [`DEV-${gateway}-temp`],
    );
    return sensor;
  };
  const readingCount = async (gateway: string) => {
    const [count] = await rows(
      `select count(*)::int as n from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number = ?`,
      [`DEV-${gateway}-temp`],
    );
    return count?.n;
  };

  beforeAll(async () => {
    db = await createTestDatabase('telemetry_cache');
    site = await createSite(db.orm.em.fork());
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('writes a known sensor last reading once the interval passed, never backwards', async () => {
    const cache = new TelemetryCache(60_000);
    await storeMessages(db.orm, registry, [telemetry('GW-L', 1, 1)], cache);
    await storeMessages(db.orm, registry, [telemetry('GW-L', 3, 3)], cache);
    await storeMessages(db.orm, registry, [telemetry('GW-L', 2, 2)], cache);

    expect(await readingCount('GW-L')).toBe(3);
    expect((await lastReading('GW-L'))?.last_reading).toEqual({ value: 1 });
    expect(cache.hasPending).toBe(true);

    const due = new TelemetryCache(0);
    for (const second of [0, 5, 4, 4]) {
      await storeMessages(db.orm, registry, [telemetry('GW-L', second, second)], due);
      await writeOwed(db.orm, due);
    }
    expect((await lastReading('GW-L'))?.last_reading).toEqual({ value: 5 });
    expect(due.hasPending).toBe(false);
  });

  it('writes at once a known row whose identifying fields changed', async () => {
    const cache = new TelemetryCache(60_000);
    const withStatus = (second: number, status: string, deviceType: string) =>
      message(
        's/gateway/GW-I/dataloggers/telemetry',
        temperatureMessage('GW-I', nthSecond(second), second)
          .replace('"status_datalogger":"ok"', `"status_datalogger":"${status}"`)
          .replace('"type":"T"', `"type":"${deviceType}"`),
      );
    const stored = async () =>
      (
        await rows(
          `select d.status, v.device_type from datalogger d
           join device v on v.datalogger_id = d.id where d.serial_number = 'DL-GW-I'`,
        )
      )[0];
    await storeMessages(db.orm, registry, [withStatus(1, 'ok', 'T')], cache);
    await storeMessages(db.orm, registry, [withStatus(2, 'alarm', 'T')], cache);
    expect(await stored()).toEqual({ status: 'alarm', device_type: 'T' });

    await storeMessages(db.orm, registry, [withStatus(3, 'alarm', 'T2')], cache);
    expect(await stored()).toEqual({ status: 'alarm', device_type: 'T2' });
  });

  it('lets a known online gateway wait, then writes its newest fields', async () => {
    const cache = new TelemetryCache(60_000);
    const gateway = async () => {
      const [row] = await rows(
        `select last_seen_at, raw_metadata->>'timestamp' as stamp from gateway
         where serial_number = 'GW-G'`,
      );
      return row;
    };
    await storeMessages(db.orm, registry, [telemetry('GW-G', 1, 1)], cache);
    await storeMessages(
      db.orm,
      registry,
      [telemetry('GW-G', 3, 3), telemetry('GW-G', 2, 2)],
      cache,
    );
    expect((await gateway())?.stamp).toBe(nthSecond(1));

    expect(await writeOwed(db.orm, cache)).toEqual([]);
    expect((await gateway())?.stamp).toBe(nthSecond(3));
    expect(new Date(String((await gateway())?.last_seen_at)).toISOString()).toBe(nthSecond(3));
  });

  it('brings back online, with its transition, a gateway marked offline behind the cache', async () => {
    const cache = new TelemetryCache(60_000);
    await storeMessages(db.orm, registry, [telemetry('GW-O', 1, 1)], cache);
    await rows(`update gateway set is_online = false where serial_number = 'GW-O'`);

    const waiting = await storeMessages(db.orm, registry, [telemetry('GW-O', 2, 2)], cache);
    expect(waiting.gatewayTransitions).toEqual([]);
    expect(await writeOwed(db.orm, cache)).toEqual([
      { serialNumber: 'GW-O', siteId: site.id, isOnline: true },
    ]);
    const [row] = await rows(`select is_online from gateway where serial_number = 'GW-O'`);
    expect(row?.is_online).toBe(true);
  });

  it('stores every reading again after the rows it knew were deleted by a cascade', async () => {
    const cache = new TelemetryCache(0);
    await storeMessages(db.orm, registry, [telemetry('GW-C', 1, 1)], cache);
    await storeMessages(db.orm, registry, [telemetry('GW-C', 2, 2)], cache);
    await rows(`delete from gateway where serial_number = 'GW-C'`);

    const result = await storeMessages(db.orm, registry, [telemetry('GW-C', 3, 3)], cache);
    expect(result.quarantined).toEqual([]);
    expect(result.readingsInserted).toBe(1);
    expect(await readingCount('GW-C')).toBe(1);

    await rows(`delete from device where serial_number = 'DEV-GW-C'`);
    const again = await storeMessages(db.orm, registry, [telemetry('GW-C', 4, 4)], cache);
    expect(again.readingsInserted).toBe(1);
    expect(await readingCount('GW-C')).toBe(1);
    expect((await lastReading('GW-C'))?.last_reading).toEqual({ value: 4 });
    const [logs] = await rows(`select count(*)::int as n from mqtt_parsing_log`);
    expect(logs?.n).toBe(0);
  });

  it('reports gateway online and offline transitions as without the cache', async () => {
    const cache = new TelemetryCache(60_000);
    const status = (state: string, at: Date) => ({
      ...message(
        's/gateway/GW-W/status',
        `{"serial_number_gateway":"GW-W","status":"${state}"}`,
        'gateway_status',
      ),
      receivedAt: at,
    });
    const online = await storeMessages(db.orm, registry, [telemetry('GW-W', 1, 1)], cache);
    const still = await storeMessages(db.orm, registry, [telemetry('GW-W', 2, 2)], cache);
    const offline = await storeMessages(
      db.orm,
      registry,
      [status('offline', new Date(Date.now() + 1))],
      cache,
    );
    const back = await storeMessages(
      db.orm,
      registry,
      [
        message(
          's/gateway/GW-W/dataloggers/telemetry',
          temperatureMessage('GW-W', new Date(Date.now() + 5_000).toISOString(), 3),
        ),
      ],
      cache,
    );

    const gateway = { serialNumber: 'GW-W', siteId: site.id };
    expect(online.gatewayTransitions).toEqual([{ ...gateway, isOnline: true }]);
    expect(still.gatewayTransitions).toEqual([]);
    expect(offline.gatewayTransitions).toEqual([{ ...gateway, isOnline: false }]);
    expect(back.gatewayTransitions).toEqual([{ ...gateway, isOnline: true }]);
    const [row] = await rows(`select is_online from gateway where serial_number = 'GW-W'`);
    expect(row?.is_online).toBe(true);
  });

  it('writes the exact last reading shortly after traffic stops', async () => {
    const prefix = uniqueName('cache_worker');
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_PREFIX: prefix,
      LAST_SEEN_WRITE_INTERVAL_MS: '300',
    });
    const logger = createPlainLogger('silent');
    const workers = startIngestWorkers({
      config,
      orm: db.orm,
      logging: { root: logger, parsing: logger },
      metrics: createMetrics(),
      registry,
    });
    const connection = openRedis(config.REDIS_URL, 'test-producer');
    const queue = openIngestQueue(config, connection);
    try {
      for (let second = 1; second <= 20; second += 1) {
        const messages = [telemetry('GW-F', second, second)].map(encodeJobMessage);
        const job: Job = await queue.add(INGEST_JOB_NAME, { messages });
        expect(job.id).toBeDefined();
      }
      await waitFor(async () => (await readingCount('GW-F')) === 20);
      const stoppedAt = Date.now();
      await waitFor(
        async () => ((await lastReading('GW-F'))?.last_reading as { value?: number })?.value === 20,
        5_000,
        20,
      );
      expect(Date.now() - stoppedAt).toBeLessThan(1_500);
      const last = await lastReading('GW-F');
      expect(new Date(String(last?.last_reading_at)).toISOString()).toBe(nthSecond(20));
    } finally {
      await workers.stop();
      await queue.close();
      connection.disconnect();
    }
  });
});
