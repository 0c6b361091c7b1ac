import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { MqttConnectionSchema } from '../../src/entities/index.js';
import { startEngine, type Engine } from '../../src/engine.js';
import { createLogging, type Logging } from '../../src/logger.js';
import { createErrorReporter, type ErrorReporter } from '../../src/observability/error-reporter.js';
import { testConfig, uniqueName } from '../support/config.js';
import { waitUntil } from '../support/connection-harness.js';
import { waitForSubscribedConnection } from '../support/connection-ready.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createConnection, createSite, createTopic } from '../support/factories.js';
import { startSentrySink, type SentrySink } from '../support/sentry-sink.js';

// The whole engine in one process, as `npm start` runs it: connection actors on the shared
// Mosquitto, the ingest pipeline, BullMQ workers on Redis and the API, against a database
// of this file's own.
describe('engine end to end', { timeout: 90_000 }, () => {
  const code = uniqueName('e2e');
  let database: TestDatabase;
  let logDir: string;
  let sink: SentrySink;
  let reporter: ErrorReporter;
  let logging: Logging;
  let engine: Engine;
  let config: Config;
  let publisher: MqttClient;
  let siteId: number;

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) =>
    database.orm.em.getConnection().execute<T[]>(query, params);

  beforeAll(async () => {
    database = await createTestDatabase('engine');
    logDir = await mkdtemp(join(tmpdir(), 'sitewire-e2e-logs-'));
    sink = await startSentrySink();
    config = testConfig({
      DATABASE_URL: database.url,
      REDIS_PREFIX: `sitewire-test-${code}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_DIR: logDir,
      SENTRY_DSN: sink.dsn,
      BATCH_MAX_WAIT_MS: '20',
      INGEST_JOB_ATTEMPTS: '2',
      INGEST_BACKOFF_MS: '50',
      CATALOGUE_FLUSH_MS: '100',
      LOG_LEVEL: process.env.E2E_LOG ?? 'silent',
    });
    reporter = createErrorReporter(config);
    logging = await createLogging(config, { reporter });
    engine = await startEngine(config, logging);
    publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `pub-${code}` });

    const em = database.orm.em.fork();
    const site = await createSite(em);
    siteId = site.id;
    const connection = await createConnection(em, site, {
      clientIdPrefix: `e2e-${process.pid}`,
      discoveryPattern: `${code}/#`,
    });
    await createTopic(em, connection, {
      topicPattern: `${code}/gateway/+/dataloggers/telemetry`,
      parserName: 'telemetry',
      qosLevel: 1,
    });
    await createTopic(em, connection, {
      topicPattern: `${code}/gateway/+/status`,
      parserName: 'gateway_status',
      qosLevel: 1,
    });
    await waitForSubscribedConnection(database.orm, 2);
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await engine?.stop();
    await reporter?.flush(2_000);
    await logging?.close();
    await sink?.close();
    await database?.drop();
    await rm(logDir, { recursive: true, force: true });
  });

  const publish = (topic: string, payload: unknown, qos: 0 | 1 = 1) =>
    publisher.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), {
      qos,
    });

  const telemetry = (gateway: string, timestamp: string) => ({
    serial_number_gateway: gateway,
    timestamp,
    message_interval_seconds: 60,
    mqtt_api_version: '1.0.0',
    dataloggers: [
      {
        serial_number_datalogger: `${gateway}-DL`,
        status_datalogger: 'ok',
        devices: [
          {
            type: 'TLT-01',
            'serial number device': `${gateway}-DEV`,
            data: [
              { type: 'accelerometer', value: [0.01, -0.02, 9.81] },
              { type: 'inclinometer', value: [1.2, -0.4] },
              { type: 'temperature', value: 21.5 },
            ],
          },
        ],
      },
    ],
  });

  const telemetryTopic = (gateway: string) => `${code}/gateway/${gateway}/dataloggers/telemetry`;

  it('stores the whole telemetry tree through the connection actors, once per message', async () => {
    const gateway = `${code}-GW-1`;
    const message = telemetry(gateway, '2026-12-03T15:00:00Z');

    await publish(telemetryTopic(gateway), message);
    await publish(telemetryTopic(gateway), message);
    await waitUntil(
      async () => (await sql('select count(*)::int as n from sensor_reading'))[0]!.n === 3,
      30_000,
      'three readings',
    );

    const rows = await sql<{ sensor: string; value: unknown; datalogger: string }>(
      `select s.serial_number as sensor, r.value, dl.serial_number as datalogger
       from sensor_reading r join sensor s on s.id = r.sensor_id
       join device d on d.id = s.device_id join datalogger dl on dl.id = d.datalogger_id
       join gateway g on g.id = dl.gateway_id
       where g.serial_number = ? order by s.serial_number`,
      [gateway],
    );
    expect(rows).toEqual([
      {
        sensor: `${gateway}-DEV-accelerometer`,
        value: { x: 0.01, y: -0.02, z: 9.81 },
        datalogger: `${gateway}-DL`,
      },
      {
        sensor: `${gateway}-DEV-inclinometer`,
        value: { pitch: 1.2, roll: -0.4 },
        datalogger: `${gateway}-DL`,
      },
      { sensor: `${gateway}-DEV-temperature`, value: { value: 21.5 }, datalogger: `${gateway}-DL` },
    ]);
    const [stored] = await sql('select count(*)::int as n from sensor_reading');
    expect(stored!.n).toBe(3);
  });

  it('parses the first message of a topic configured while running', async () => {
    const em = database.orm.em.fork();
    const connection = await em.findOneOrFail(MqttConnectionSchema, { site: siteId });
    for (let round = 0; round < 5; round += 1) {
      const area = `${code}-late-${round}`;
      const gateway = `${area}-GW`;
      await createTopic(em, connection, {
        topicPattern: `${area}/gateway/+/dataloggers/telemetry`,
        parserName: 'telemetry',
        qosLevel: 1,
      });
      await waitForSubscribedConnection(database.orm, 3 + round);

      await publish(
        `${area}/gateway/${gateway}/dataloggers/telemetry`,
        telemetry(gateway, '2026-12-03T15:30:00Z'),
      );
      await waitUntil(
        async () =>
          (
            await sql<{ n: number }>(
              `select count(*)::int as n from gateway where serial_number = ?`,
              [gateway],
            )
          )[0]!.n === 1,
        30_000,
        `the first message of ${area} to be parsed`,
      );
    }
  });

  it('keeps the message counters adding up for known traffic', async () => {
    const before = await scrape(engine.address);
    const gateway = `${code}-GW-2`;
    for (let index = 0; index < 20; index += 1) {
      const ts = new Date(Date.UTC(2026, 11, 3, 16, 0, index)).toISOString();
      await publish(telemetryTopic(gateway), telemetry(gateway, ts));
    }
    await publish(telemetryTopic(gateway), '{"serial_number_gateway": ');
    await publish(telemetryTopic(gateway), { serial_number_gateway: gateway, timestamp: 'soon' });
    for (let index = 0; index < 3; index += 1) {
      await publish(`${code}/weather/station-${index}`, { wind: index });
    }

    let seen = '';
    const settled = async () => {
      const now = await scrape(engine.address);
      const done = delta(now, before, 'sitewire_messages_persisted_total');
      const failed = delta(now, before, 'sitewire_messages_quarantined_total');
      const skipped = delta(now, before, 'sitewire_messages_skipped_total');
      seen = `persisted ${done}, quarantined ${failed}, skipped ${skipped}`;
      return done + failed === 22 && skipped === 3;
    };
    await waitUntil(settled, 45_000, 'the traffic to settle').catch((error: Error) => {
      throw new Error(`${error.message} (${seen})`);
    });

    const after = await scrape(engine.address);
    const change = (name: string) => delta(after, before, `sitewire_messages_${name}_total`);
    expect(change('received')).toBe(25);
    expect(change('received')).toBe(change('routed') + change('skipped') + change('dropped'));
    expect(change('enqueued')).toBe(change('persisted') + change('quarantined'));
    expect(change('persisted')).toBe(20);
    expect(change('quarantined')).toBe(2);
    expect(change('dropped')).toBe(0);
    expect(delta(after, before, 'sitewire_readings_persisted_total')).toBe(60);
    expect(after.get('sitewire_ingest_lag_seconds_count')).toBeGreaterThan(0);
  });

  it('reports a connection fault to Sentry with its site and connection, not quarantines', async () => {
    const em = database.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      clientIdPrefix: `e2e-broken-${process.pid}`,
      discoveryPattern: '',
      username: 'someone',
    });
    // A password encrypted under another key: SECRET_KEY changed since it was stored.
    await sql(`update mqtt_connection set password_encrypted = ? where id = ?`, [
      'v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:AAAA',
      connection.id,
    ]);

    await waitUntil(() => reportedWith('CREDENTIAL_DECRYPT_FAILED'), 30_000, 'a Sentry event');

    const event = sink.events.find(
      (candidate) => candidate.tags?.error_code === 'CREDENTIAL_DECRYPT_FAILED',
    );
    expect(event!.tags).toMatchObject({ site_id: site.id, connection_id: connection.id });
    const [row] = await sql('select status, last_error from mqtt_connection where id = ?', [
      connection.id,
    ]);
    expect(row!.status).toBe('error');
    expect(
      sink.events.some((candidate) => /payload/i.test(JSON.stringify(candidate.exception))),
    ).toBe(false);
  });

  it('reports a batch the database refused to the end to Sentry, and keeps its messages', async () => {
    const gateway = `${code}-GW-3`;
    // A failure a retry could fix (serialisation failure), on every attempt: the worker
    // retries, then gives the batch up and keeps its messages for replay.
    await sql(`create function refuse_reading() returns trigger language plpgsql as $$
      begin raise exception 'readings refused' using errcode = '40001'; end $$`);
    await sql(`create trigger refuse_reading before insert on sensor_reading
      for each row execute function refuse_reading()`);
    try {
      await publish(telemetryTopic(gateway), telemetry(gateway, '2026-12-03T17:00:00Z'));
      await waitUntil(() => reportedWith(undefined, 'ingest-worker'), 30_000, 'a Sentry event');
    } finally {
      await sql('drop trigger refuse_reading on sensor_reading');
      await sql('drop function refuse_reading()');
    }

    const event = sink.events.find((candidate) => candidate.tags?.component === 'ingest-worker');
    expect(event!.tags.job_id).toBeDefined();
    const kept = await sql(
      `select count(*)::int as n from mqtt_parsing_log
       where error_type = 'DB_ERROR' and raw_payload is not null and site_id = ?`,
      [siteId],
    );
    expect(kept[0]!.n).toBe(1);
  });

  function reportedWith(errorCode?: string, component?: string): boolean {
    return sink.events.some(
      (event) =>
        (errorCode === undefined || event.tags?.error_code === errorCode) &&
        (component === undefined || event.tags?.component === component),
    );
  }
});

async function scrape(address: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${address}/metrics`)).text();
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!match) continue;
    totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + Number(match[3]));
  }
  return totals;
}

function delta(after: Map<string, number>, before: Map<string, number>, name: string): number {
  return (after.get(name) ?? 0) - (before.get(name) ?? 0);
}
