import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SERVER_URL } from '../support/database.js';
import { counterTotal, startIngestHarness, type IngestHarness } from '../support/ingest-harness.js';
import { waitFor } from '../support/mqtt-source.js';
import { nthSecond, telemetryTopic, temperatureMessage } from './telemetry-payloads.js';

describe('ingest across a PostgreSQL outage', () => {
  let h: IngestHarness;
  let admin: pg.Client;

  const readingsOf = async (gateway: string) => {
    const [row] = await h.rows<{ n: number }>(
      `select count(*)::int as n from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number = $1`,
      [`DEV-${gateway}-temp`],
    );
    return row?.n ?? 0;
  };

  /** Refuses new sessions to the test database and ends every open one, the ORM's included. */
  const cutDatabase = async (name: string) => {
    await admin.query(`alter database "${name}" allow_connections false`);
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [
      name,
    ]);
  };

  beforeAll(async () => {
    h = await startIngestHarness({
      label: 'pg_outage',
      topics: [{ pattern: 'gateway/+/dataloggers/telemetry' }],
      env: { INGEST_BACKOFF_MS: '250', INGEST_JOB_ATTEMPTS: '8' },
    });
    admin = new pg.Client({ connectionString: `${TEST_SERVER_URL}/postgres` });
    await admin.connect();
  });

  afterAll(async () => {
    if (h) await admin?.query(`alter database "${h.db.name}" allow_connections true`);
    await admin?.end();
    await h?.stop();
  });

  it('stores every message that arrived while the database was unavailable, once', async () => {
    for (let i = 0; i < 10; i += 1) {
      await h.publish(telemetryTopic('GW-P'), temperatureMessage('GW-P', nthSecond(i), i));
    }
    await waitFor(async () => (await readingsOf('GW-P')) === 10);

    await cutDatabase(h.db.name);
    for (let i = 10; i < 40; i += 1) {
      await h.publish(telemetryTopic('GW-P'), temperatureMessage('GW-P', nthSecond(i), i));
    }
    await waitFor(async () => (await counterTotal(h.metrics.databaseErrors)) > 0);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // The broker's messages are safe in Redis, so the pipeline acknowledged them meanwhile.
    expect(await counterTotal(h.metrics.messagesEnqueued)).toBe(40);

    await admin.query(`alter database "${h.db.name}" allow_connections true`);
    await waitFor(async () => (await readingsOf('GW-P')) === 40, 40_000, 250);

    await waitFor(async () => {
      const [row] = await h.rows<{ message_count: string }>(
        'select message_count from discovered_topic where topic_path = $1',
        [`${h.prefix}/${telemetryTopic('GW-P')}`],
      );
      return Number(row?.message_count) === 40;
    });
    const quarantined = await h.rows('select id from mqtt_parsing_log');
    expect(quarantined).toHaveLength(0);
    expect(await counterTotal(h.metrics.messagesPersisted)).toBe(40);
  }, 90_000);
});
