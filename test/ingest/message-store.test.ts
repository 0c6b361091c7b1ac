import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { z } from 'zod';
import type { Site } from '../../src/entities/index.js';
import {
  encodeJobMessage,
  INGEST_JOB_NAME,
  type DecodedMessage,
} from '../../src/ingest/ingest-job.js';
import { openIngestQueue } from '../../src/ingest/ingest-queue.js';
import { startIngestWorkers } from '../../src/ingest/ingest.worker.js';
import { quarantineAsDatabaseError, storeMessages } from '../../src/ingest/message-store.js';
import { replayParsingLogs } from '../../src/ingest/parsing-log.replay.js';
import { autocommitRunner } from '../../src/ingest/sql-runner.js';
import { createPlainLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { Parser } from '../../src/parsers/parser.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from '../support/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createSite } from '../support/factories.js';
import { counterTotal } from '../support/ingest-harness.js';
import { waitFor } from '../support/mqtt-source.js';
import { nthSecond, temperatureMessage } from './telemetry-payloads.js';

/** A parser with no length limits, so a value can reach a column too narrow for it. */
const loosePayload = z.object({ device: z.string(), value: z.number() });
const looseParser: Parser<z.infer<typeof loosePayload>> = {
  parserName: 'loose',
  topicFilter: 'loose/#',
  description: 'Accepts any device serial, for tests.',
  schema: loosePayload,
  samples: [],
  process(payload, context, batch) {
    const seenAt = context.receivedAt;
    batch.upsertGateway({ serialNumber: 'LOOSE-GW', seenAt, isOnline: true });
    batch.upsertDatalogger({
      serialNumber: 'LOOSE-DL',
      gatewaySerialNumber: 'LOOSE-GW',
      status: '',
      seenAt,
    });
    batch.upsertDevice({
      serialNumber: payload.device,
      dataloggerSerialNumber: 'LOOSE-DL',
      deviceType: 'x',
      seenAt,
    });
    batch.upsertSensor({
      serialNumber: `${payload.device}-v`,
      deviceSerialNumber: payload.device,
      sensorType: 'v',
    });
    batch.addReading({
      sensorSerialNumber: `${payload.device}-v`,
      ts: seenAt,
      value: { value: payload.value },
    });
  },
};

const registry = createDefaultRegistry().register(looseParser);

/** A timestamptz column as ISO 8601 UTC with milliseconds, formatted by PostgreSQL. */
const iso = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

describe('storing a job of messages', () => {
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

  beforeAll(async () => {
    db = await createTestDatabase('message_store');
    site = await createSite(db.orm.em.fork());
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('stores 99 messages of a batch of 100 and quarantines the malformed one', async () => {
    const batch = Array.from({ length: 100 }, (_, i) =>
      telemetry('GW-S', i, i === 7 ? [1, 'x'] : i),
    );
    const result = await storeMessages(db.orm, registry, batch);

    expect(result.persisted).toHaveLength(99);
    expect(result.readingsInserted).toBe(99);
    expect(result.quarantined).toHaveLength(1);
    expect(result.quarantined[0]!.errorMessage).toContain('dataloggers.0.devices.0.data.0.value.1');
    const [log] = await rows(
      'select error_type, exception_type, payload_sample from mqtt_parsing_log',
    );
    expect(log).toMatchObject({
      error_type: 'VALIDATION_ERROR',
      exception_type: 'AppError:PAYLOAD_INVALID',
    });
  });

  it('keeps one reading per sensor and time, and the newest as the last reading', async () => {
    const batch = [telemetry('GW-D', 2, 20), telemetry('GW-D', 1, 10), telemetry('GW-D', 2, 20)];
    const first = await storeMessages(db.orm, registry, batch);
    const again = await storeMessages(db.orm, registry, [telemetry('GW-D', 1, 10)]);

    expect(first.readingsInserted).toBe(2);
    expect(again.readingsInserted).toBe(0);
    const [sensor] = await rows(
      `select last_reading, last_reading_at from sensor where serial_number = 'DEV-GW-D-temp'`,
    );
    expect(sensor?.last_reading).toEqual({ value: 20 });
  });

  it('keeps the first of two readings of a sensor at the same time in one batch', async () => {
    const batch = [11, 12, 13].map((value) => telemetry('GW-FIRST', 1, value));
    const result = await storeMessages(db.orm, registry, batch);

    expect(result.readingsInserted).toBe(1);
    const stored = await rows(
      `select r.value from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number = 'DEV-GW-FIRST-temp'`,
    );
    expect(stored.map((row) => row.value)).toEqual([{ value: 11 }]);
    const [sensor] = await rows(
      `select last_reading from sensor where serial_number = 'DEV-GW-FIRST-temp'`,
    );
    expect(sensor?.last_reading).toEqual({ value: 11 });
  });

  it('marks a topic processable again, without waiting on its row while it already is', async () => {
    const topic = 's/gateway/GW-TOPIC/dataloggers/telemetry';
    const processable = async () =>
      (
        await rows(
          `select is_processable, parser_name from discovered_topic where topic_path = ?`,
          [topic],
        )
      )[0];
    await storeMessages(db.orm, registry, [telemetry('GW-TOPIC', 1, 1)]);
    expect(await processable()).toEqual({ is_processable: true, parser_name: 'telemetry' });

    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from discovered_topic where topic_path = $1 for update', [
        topic,
      ]);
      const stored = await storeMessages(db.orm, registry, [telemetry('GW-TOPIC', 2, 2)]);
      expect(stored.readingsInserted).toBe(1);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }

    await rows(`update discovered_topic set is_processable = false, parser_name = ''`);
    await storeMessages(db.orm, registry, [telemetry('GW-TOPIC', 3, 3)]);
    expect(await processable()).toEqual({ is_processable: true, parser_name: 'telemetry' });
  });

  it('stores each reading with its own time to the millisecond, value and arrival', async () => {
    const times = [
      '2026-12-03T08:00:00.001Z',
      '2026-12-03T08:00:00.999Z',
      '1999-12-31T23:59:59.5Z',
    ];
    const batch = times.map((time, index) => ({
      ...message(`s/gateway/GW-MS/dataloggers/telemetry`, temperatureMessage('GW-MS', time, index)),
      receivedAt: new Date(Date.UTC(2026, 11, 3, 9, 0, 0, index * 7)),
    }));
    await storeMessages(db.orm, registry, batch);

    const stored = await rows(
      `select ${iso('r.ts')} as ts, r.value, ${iso('r.received_at')} as received_at
       from sensor_reading r
       join sensor s on s.id = r.sensor_id where s.serial_number = 'DEV-GW-MS-temp'
       order by r.received_at`,
    );
    expect(stored.map((row) => [row.ts, row.value, row.received_at])).toEqual([
      ['2026-12-03T08:00:00.001Z', { value: 0 }, '2026-12-03T09:00:00.000Z'],
      ['2026-12-03T08:00:00.999Z', { value: 1 }, '2026-12-03T09:00:00.007Z'],
      ['1999-12-31T23:59:59.500Z', { value: 2 }, '2026-12-03T09:00:00.014Z'],
    ]);
  });

  it('turns a gateway offline on its last will and online again on its next message', async () => {
    const will = message(
      's/gateway/GW-W/status',
      '{"serial_number_gateway":"GW-W","status":"offline"}',
      'gateway_status',
    );
    const online = await storeMessages(db.orm, registry, [telemetry('GW-W', 1, 1)]);
    const offline = await storeMessages(db.orm, registry, [
      { ...will, receivedAt: new Date(Date.now() + 1) },
    ]);
    const back = await storeMessages(db.orm, registry, [
      { ...telemetry('GW-W', 1, 1), receivedAt: new Date() },
      message(
        's/gateway/GW-W/status',
        '{"serial_number_gateway":"GW-W","status":"online","timestamp":"2099-01-01T00:00:00Z"}',
        'gateway_status',
      ),
    ]);

    expect(online.gatewayTransitions).toEqual([
      { serialNumber: 'GW-W', siteId: site.id, isOnline: true },
    ]);
    expect(offline.gatewayTransitions).toEqual([
      { serialNumber: 'GW-W', siteId: site.id, isOnline: false },
    ]);
    expect(back.gatewayTransitions).toEqual([
      { serialNumber: 'GW-W', siteId: site.id, isOnline: true },
    ]);
  });

  it('quarantines only the message the database refuses, as DB_ERROR', async () => {
    const tooLong = 'D'.repeat(150);
    const batch = [
      message('loose/a', JSON.stringify({ device: 'OK-1', value: 1 }), 'loose'),
      message('loose/b', JSON.stringify({ device: tooLong, value: 2 }), 'loose'),
      message('loose/c', JSON.stringify({ device: 'OK-2', value: 3 }), 'loose'),
    ];
    const result = await storeMessages(db.orm, registry, batch);

    expect(result.persisted.map((m) => m.topic)).toEqual(['loose/a', 'loose/c']);
    expect(result.quarantined).toMatchObject([{ topic: 'loose/b', errorType: 'DB_ERROR' }]);
  });

  it('gives a job up as DB_ERROR after its last attempt, then replays it', async () => {
    // A real PostgreSQL failure that a retry could fix (a serialisation failure), every time.
    await rows(`create function refuse_readings() returns trigger as $$
      begin raise exception 'refused for the test' using errcode = '40001'; end
      $$ language plpgsql`);
    await rows(`create trigger refuse_readings before insert on sensor_reading
      for each statement execute function refuse_readings()`);

    const prefix = uniqueName('store_worker');
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_PREFIX: prefix,
      INGEST_JOB_ATTEMPTS: '2',
      INGEST_BACKOFF_MS: '50',
    });
    const logger = createPlainLogger('silent');
    const metrics = createMetrics();
    const workers = startIngestWorkers({
      config,
      orm: db.orm,
      logging: { root: logger, parsing: logger },
      metrics,
      registry,
    });
    const connection = openRedis(config.REDIS_URL, 'test-producer');
    const queue = openIngestQueue(config, connection);
    try {
      const messages = [telemetry('GW-X', 1, 1), telemetry('GW-X', 2, 2)].map(encodeJobMessage);
      const job: Job = await queue.add(INGEST_JOB_NAME, { messages });
      await waitFor(
        async () =>
          (await counterTotal(metrics.messagesQuarantined, { error_type: 'DB_ERROR' })) === 2,
      );
      expect(await counterTotal(metrics.databaseErrors)).toBe(2);
      // The job's own record is written after the quarantine commits: wait for it too.
      await waitFor(async () => (await queue.getJob(job.id!))?.attemptsMade === 2);
    } finally {
      await workers.stop();
      await queue.close();
      connection.disconnect();
    }

    const logs = await rows(
      `select id, error_message from mqtt_parsing_log
       where error_type = 'DB_ERROR' and topic like '%GW-X%'`,
    );
    expect(logs).toHaveLength(2);
    expect(String(logs[0]!.error_message)).toContain('refused for the test');

    await rows('drop trigger refuse_readings on sensor_reading');
    const replayed = await replayParsingLogs(
      { orm: db.orm, registry },
      { errorType: 'DB_ERROR', siteId: site.id, topic: 's/gateway/GW-X/dataloggers/telemetry' },
    );
    expect(replayed).toMatchObject({ replayed: 2, stored: 2 });
    const [count] = await rows(
      `select count(*)::int as n from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number = 'DEV-GW-X-temp'`,
    );
    expect(count?.n).toBe(2);
  });

  it('says why a truncated raw payload cannot replay', async () => {
    const huge = message('s/gateway/GW-H/dataloggers/telemetry', ' '.repeat(300 * 1024));
    const [row] = await quarantineAsDatabaseError(db.orm, [huge], new Error('gone'));
    const result = await replayParsingLogs({ orm: db.orm, registry }, { ids: [row!.id] });
    expect(result.outcomes[0]!.outcome).toMatch(/^failed: raw payload was cut at 262144 bytes/);
  });
});
