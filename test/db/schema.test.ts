import type { MikroORM } from '@mikro-orm/postgresql';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialCipher } from '../../src/crypto.js';
import {
  DiscoveredTopicSchema,
  GatewaySchema,
  MqttConnectionLogSchema,
  MqttParsingLogSchema,
} from '../../src/entities/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createConnection, createSite, createTopic } from '../support/factories.js';

const SECRET = 'schema-test-secret-key';

describe('data model', () => {
  let database: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    database = await createTestDatabase('schema');
    orm = database.orm;
  });

  afterAll(async () => {
    await database.drop();
  });

  const sql = (query: string, params: unknown[] = []) =>
    orm.em.getConnection().execute<Record<string, unknown>[]>(query, params);

  it('matches the entities once every migration is applied', async () => {
    const pending = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });

    expect(pending.trim()).toBe('');
  });

  it('refuses a second site with the same name', async () => {
    const em = orm.em.fork();
    await createSite(em, { name: 'unique-site' });

    await expect(sql(`insert into site (name) values ('unique-site')`)).rejects.toThrow(
      /site_name_unique/,
    );
  });

  it('refuses a second connection for one site and a repeated topic pattern', async () => {
    const em = orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site);
    await createTopic(em, connection, { topicPattern: 'a/+/b' });

    await expect(
      sql(
        `insert into mqtt_connection (site_id, broker_host, client_id_prefix) values (?, 'h', 'p')`,
        [site.id],
      ),
    ).rejects.toThrow(/mqtt_connection_site_id_unique/);
    await expect(
      sql(`insert into mqtt_topic (mqtt_connection_id, topic_pattern) values (?, 'a/+/b')`, [
        connection.id,
      ]),
    ).rejects.toThrow(/mqtt_topic_mqtt_connection_id_topic_pattern_unique/);
  });

  it('refuses a repeated discovered topic per site and a repeated reading per sensor and time', async () => {
    const em = orm.em.fork();
    const site = await createSite(em);
    const now = new Date();
    const topic = { site, topicPath: 'x/y', firstSeenAt: now, lastSeenAt: now };
    em.create(DiscoveredTopicSchema, topic);
    await em.flush();

    await expect(
      sql(
        `insert into discovered_topic (site_id, topic_path, first_seen_at, last_seen_at)
         values (?, 'x/y', now(), now())`,
        [site.id],
      ),
    ).rejects.toThrow(/discovered_topic_site_id_topic_path_unique/);

    const [sensor] = await insertSensorTree(site.id, 'DUP');
    const reading = `insert into sensor_reading (sensor_id, ts, value) values (?, '2026-12-03T15:00:00Z', '{}')`;
    await sql(reading, [sensor!.id]);
    await expect(sql(reading, [sensor!.id])).rejects.toThrow(/sensor_reading_pkey/);
  });

  it('refuses repeated gateway, datalogger, device and sensor serial numbers', async () => {
    const em = orm.em.fork();
    const site = await createSite(em);
    await insertSensorTree(site.id, 'SER');

    await expect(insertSensorTree(site.id, 'SER')).rejects.toThrow(/gateway_serial_number_unique/);
    await expect(
      sql(`insert into sensor (serial_number, device_id, sensor_type)
           select 'SER-DEV-temperature', id, 'temperature' from device where serial_number = 'SER-DEV'`),
    ).rejects.toThrow(/sensor_serial_number_unique/);
  });

  it('deletes a site together with its connection, topics, logs and telemetry', async () => {
    const em = orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site);
    await createTopic(em, connection);
    em.create(MqttConnectionLogSchema, { connection, level: 'INFO', message: 'connected' });
    em.create(MqttParsingLogSchema, {
      site,
      topic: 't',
      errorType: 'VALIDATION_ERROR',
      errorMessage: 'bad',
    });
    await em.flush();
    const [sensor] = await insertSensorTree(site.id, 'CASCADE');

    await sql('delete from site where id = ?', [site.id]);

    const counts = await sql(
      `select
        (select count(*) from mqtt_connection where site_id = ?) as connections,
        (select count(*) from mqtt_topic where mqtt_connection_id = ?) as topics,
        (select count(*) from mqtt_connection_log where connection_id = ?) as connection_logs,
        (select count(*) from mqtt_parsing_log where site_id = ?) as parsing_logs,
        (select count(*) from gateway where site_id = ?) as gateways,
        (select count(*) from sensor where serial_number like 'CASCADE%') as sensors,
        (select count(*) from sensor_reading where sensor_id = ?) as readings`,
      [site.id, connection.id, connection.id, site.id, site.id, sensor!.id],
    );
    expect(Object.values(counts[0]!).map(Number)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('makes a sensor delete wait for ingest in flight, then delete what it stored', async () => {
    const site = await createSite(orm.em.fork());
    const [sensor] = await insertSensorTree(site.id, 'INFLIGHT');
    const ingest = new pg.Client({ connectionString: database.url });
    const deleter = new pg.Client({ connectionString: database.url });
    await ingest.connect();
    await deleter.connect();
    try {
      await ingest.query('begin');
      const [before] = (await ingest.query('select sitewire_lock_tree_shared() as n')).rows;
      await ingest.query(
        `insert into sensor_reading (sensor_id, ts, value) values ($1, now() - interval '1 hour', '{}')`,
        [sensor!.id],
      );
      const deleting = deleter.query('delete from sensor where id = $1', [sensor!.id]);
      const waited = await Promise.race([
        deleting.then(() => 'deleted'),
        sleep(300).then(() => 'waiting'),
      ]);
      await ingest.query('commit');
      await deleting;

      expect(waited).toBe('waiting');
      const [after] = (await deleter.query('select sitewire_lock_tree_shared() as n')).rows;
      expect(Number(after.n)).toBeGreaterThan(Number(before.n));
      const [left] = await sql(
        'select count(*)::int as n from sensor_reading where sensor_id = ?',
        [sensor!.id],
      );
      expect(left?.n).toBe(0);
    } finally {
      await ingest.end();
      await deleter.end();
    }
  });

  it('stores a broker password only as ciphertext that decrypts to the original', async () => {
    const em = orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      password: 'hunter2-broker',
      secretKey: SECRET,
    });

    const [row] = await sql('select * from mqtt_connection where id = ?', [connection.id]);

    expect(JSON.stringify(row)).not.toContain('hunter2-broker');
    const stored = row!.password_encrypted as string;
    expect(new CredentialCipher(SECRET).decrypt(stored)).toBe('hunter2-broker');
  });

  async function insertSensorTree(siteId: number, prefix: string) {
    const em = orm.em.fork();
    const gateway = em.create(GatewaySchema, { serialNumber: `${prefix}-GW`, site: siteId });
    await em.flush();
    await sql(`insert into datalogger (serial_number, gateway_id, site_id) values (?, ?, ?);`, [
      `${prefix}-DL`,
      gateway.id,
      siteId,
    ]);
    await sql(
      `insert into device (serial_number, datalogger_id, device_type, device_type_normalized)
       select ?, id, 'TLT-01', 'tlt-01' from datalogger where serial_number = ?`,
      [`${prefix}-DEV`, `${prefix}-DL`],
    );
    const sensors = await sql(
      `insert into sensor (serial_number, device_id, sensor_type)
       select ?, id, 'temperature' from device where serial_number = ? returning id`,
      [`${prefix}-DEV-temperature`, `${prefix}-DEV`],
    );
    await sql(
      `insert into sensor_reading (sensor_id, ts, value) values (?, now(), '{"value": 1}')`,
      [sensors[0]!.id],
    );
    return sensors as Array<{ id: number }>;
  }
});
