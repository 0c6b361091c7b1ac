import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayFunction, ReplaySelection } from '../../src/api/app.js';
import { replayParsingLogs } from '../../src/ingest/parsing-log.replay.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import {
  DataloggerSchema,
  DeviceSchema,
  DiscoveredTopicSchema,
  GatewaySchema,
  MqttConnectionLogSchema,
  MqttConnectionSchema,
  MqttParsingLogSchema,
  SensorSchema,
} from '../../src/entities/index.js';
import { createApiHarness, type ApiHarness } from '../support/api-harness.js';
import { createConnection, createSite } from '../support/factories.js';

const PASSWORD = 'broker-pass-Zq9!';
const OTHER_PASSWORD = 'second-pass-Yx8?';

const parsers = [
  { parserName: 'telemetry', topicFilter: '+/gateway/+/dataloggers/telemetry' },
  { parserName: 'gateway_status', topicFilter: '+/gateway/+/status', description: 'status' },
];

/** The ingest replay on the real parser registry, recording what the API asked for. */
function recordingReplay(harness: () => ApiHarness, calls: ReplaySelection[]): ReplayFunction {
  const registry = createDefaultRegistry();
  return (selection) => {
    calls.push(selection);
    return replayParsingLogs({ orm: harness().database.orm, registry }, selection);
  };
}

describe('control API', () => {
  let harness: ApiHarness;
  let app: FastifyInstance;
  const replayCalls: ReplaySelection[] = [];

  beforeAll(async () => {
    harness = await createApiHarness('control');
    harness.secrets.add(PASSWORD);
    harness.secrets.add(OTHER_PASSWORD);
    app = await harness.build({
      registry: { list: () => parsers },
      replay: recordingReplay(() => harness, replayCalls),
      connectionHealth: (id) => ({ silent: id % 2 === 0 }),
    });
  });

  afterAll(async () => {
    await harness.close();
  });

  const admin = () => harness.auth(harness.keys.admin);
  const viewer = () => harness.auth(harness.keys.viewer);
  const call = (method: string, url: string, payload?: unknown, headers = admin()) =>
    harness.inject(app, {
      method: method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  describe('sites', () => {
    it('creates, lists, reads, renames and deletes a site', async () => {
      const created = await call('POST', '/api/sites', { name: 'North quarry' });
      expect(created.statusCode).toBe(201);
      const site = created.json();
      expect(site).toMatchObject({ name: 'North quarry', is_active: true });
      expect(site.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);

      const listed = await call('GET', '/api/sites?search=north&limit=10', undefined, viewer());
      expect(listed.json()).toMatchObject({ total: 1, limit: 10, offset: 0 });
      expect(listed.json().items[0].id).toBe(site.id);

      const read = await call('GET', `/api/sites/${site.id}`, undefined, viewer());
      expect(read.json()).toEqual(site);

      const renamed = await call('PATCH', `/api/sites/${site.id}`, {
        name: 'North pit',
        is_active: false,
      });
      expect(renamed.json()).toMatchObject({ name: 'North pit', is_active: false });

      const deleted = await call('DELETE', `/api/sites/${site.id}`);
      expect(deleted.statusCode).toBe(204);
      expect(deleted.body).toBe('');
      expect((await call('GET', `/api/sites/${site.id}`)).statusCode).toBe(404);
    });

    it('refuses a duplicate site name with 409', async () => {
      await call('POST', '/api/sites', { name: 'Twin' });
      const again = await call('POST', '/api/sites', { name: 'Twin' });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ code: 'CONFLICT' });
    });

    it('pages the site list with limit and offset', async () => {
      for (const name of ['Page A', 'Page B', 'Page C']) await call('POST', '/api/sites', { name });
      const page = await call('GET', '/api/sites?search=page&limit=2&offset=1');
      expect(page.json().total).toBe(3);
      expect(page.json().items.map((site: { name: string }) => site.name)).toEqual([
        'Page B',
        'Page C',
      ]);
    });
  });

  describe('connections', () => {
    it('creates a connection with PUT, never returns the password, and updates it', async () => {
      const site = (await call('POST', '/api/sites', { name: 'Conn site' })).json();
      const url = `/api/sites/${site.id}/connection`;
      expect((await call('GET', url)).statusCode).toBe(404);

      const created = await call('PUT', url, {
        broker_host: 'broker.example',
        broker_port: 8883,
        use_tls: true,
        username: 'gw',
        password: PASSWORD,
        client_id_prefix: 'north',
        discovery_pattern: 'site/#',
      });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({
        site_id: site.id,
        broker_host: 'broker.example',
        broker_port: 8883,
        has_password: true,
        status: 'disconnected',
        is_active: true,
        mqtt_retry_count: 0,
        mqtt_next_retry: null,
        last_connected_at: null,
        last_heartbeat_at: null,
        last_error: null,
      });
      expect(created.json()).not.toHaveProperty('password');
      expect(created.json()).not.toHaveProperty('password_encrypted');
      expect(typeof created.json().silent).toBe('boolean');

      const stored = await harness.database.orm.em
        .fork()
        .findOneOrFail(MqttConnectionSchema, { site: site.id });
      expect(stored.passwordEncrypted).toBeTruthy();
      expect(stored.passwordEncrypted).not.toContain(PASSWORD);
      harness.secrets.add(stored.passwordEncrypted!);

      const updated = await call('PUT', url, { broker_port: 1884, password: OTHER_PASSWORD });
      expect(updated.statusCode).toBe(200);
      expect(updated.json()).toMatchObject({ broker_host: 'broker.example', broker_port: 1884 });
      const restored = await harness.database.orm.em
        .fork()
        .findOneOrFail(MqttConnectionSchema, { site: site.id });
      harness.secrets.add(restored.passwordEncrypted!);

      const cleared = await call('PUT', url, { password: null });
      expect(cleared.json().has_password).toBe(false);
      expect((await call('GET', url, undefined, viewer())).json().has_password).toBe(false);
    });

    it('needs broker_host to create a connection', async () => {
      const site = (await call('POST', '/api/sites', { name: 'No host' })).json();
      const response = await call('PUT', `/api/sites/${site.id}/connection`, { broker_port: 1 });
      expect(response.statusCode).toBe(400);
      expect(response.json().issues).toEqual([
        expect.objectContaining({ in: 'body', path: 'broker_host' }),
      ]);
    });

    it('starts and stops by flipping is_active only, with the reference contract', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const connection = await createConnection(em, site, {
        isActive: false,
        status: 'error',
        lastError: 'refused',
      });

      const started = await call('POST', `/api/sites/${site.id}/connection/start`);
      expect(started.statusCode).toBe(200);
      expect(started.json()).toEqual({
        success: true,
        message: expect.any(String),
        status: 'error',
        is_active: true,
      });

      const stopped = await call('POST', `/api/sites/${site.id}/connection/stop`);
      expect(stopped.json()).toMatchObject({ success: true, is_active: false, status: 'error' });
      const row = await harness.database.orm.em
        .fork()
        .findOneOrFail(MqttConnectionSchema, { id: connection.id });
      expect(row).toMatchObject({ isActive: false, status: 'error', lastError: 'refused' });
    });

    it('answers 404 Connection not found to start and stop without a connection', async () => {
      const site = await createSite(harness.database.orm.em.fork());
      for (const action of ['start', 'stop']) {
        const response = await call('POST', `/api/sites/${site.id}/connection/${action}`);
        expect(response.statusCode).toBe(404);
        expect(response.json()).toEqual({ error: 'Connection not found' });
      }
    });

    it('reports the health fields and silence from the injected provider', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const heartbeat = new Date('2026-12-03T15:00:00Z');
      const connection = await createConnection(em, site, {
        status: 'connected',
        lastHeartbeatAt: heartbeat,
        mqttRetryCount: 2,
      });
      const body = (await call('GET', `/api/sites/${site.id}/connection`)).json();
      expect(body).toMatchObject({
        status: 'connected',
        last_heartbeat_at: heartbeat.toISOString(),
        mqtt_retry_count: 2,
        silent: connection.id % 2 === 0,
      });
    });
  });

  describe('topics', () => {
    async function siteWithConnection() {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const connection = await createConnection(em, site);
      return { site, connection };
    }

    it('creates, lists, changes and removes configured patterns', async () => {
      const { site, connection } = await siteWithConnection();
      const url = `/api/sites/${site.id}/connection/topics`;
      const created = await call('POST', url, {
        topic_pattern: 'site_001/gateway/+/status',
        qos_level: 1,
        parser_name: 'gateway_status',
      });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({
        connection_id: connection.id,
        topic_pattern: 'site_001/gateway/+/status',
        qos_level: 1,
        is_active: true,
        parser_name: 'gateway_status',
      });

      const listed = await call('GET', url, undefined, viewer());
      expect(listed.json()).toMatchObject({ total: 1, items: [{ id: created.json().id }] });

      const changed = await call('PATCH', `/api/topics/${created.json().id}`, {
        is_active: false,
        qos_level: 2,
      });
      expect(changed.json()).toMatchObject({ is_active: false, qos_level: 2 });

      expect((await call('DELETE', `/api/topics/${created.json().id}`)).statusCode).toBe(204);
      expect((await call('DELETE', `/api/topics/${created.json().id}`)).statusCode).toBe(404);
    });

    it('refuses invalid MQTT filters, QoS and unknown parsers, naming each problem', async () => {
      const { site } = await siteWithConnection();
      const response = await call('POST', `/api/sites/${site.id}/connection/topics`, {
        topic_pattern: 'a/#/b',
        qos_level: 3,
      });
      expect(response.statusCode).toBe(400);
      const paths = response.json().issues.map((issue: { path: string }) => issue.path);
      expect(paths).toEqual(expect.arrayContaining(['topic_pattern', 'qos_level']));

      for (const bad of ['a/b+', '', 'a/+x/c', '#/a']) {
        const refused = await call('POST', `/api/sites/${site.id}/connection/topics`, {
          topic_pattern: bad,
        });
        expect(refused.statusCode, bad).toBe(400);
      }

      const unknown = await call('POST', `/api/sites/${site.id}/connection/topics`, {
        topic_pattern: 'x/y',
        parser_name: 'nope',
      });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().issues[0].path).toBe('parser_name');
    });

    it('refuses a duplicate pattern on the same connection with 409', async () => {
      const { site } = await siteWithConnection();
      const url = `/api/sites/${site.id}/connection/topics`;
      await call('POST', url, { topic_pattern: 'dup/#' });
      expect((await call('POST', url, { topic_pattern: 'dup/#' })).statusCode).toBe(409);
    });
  });

  describe('topic catalogue', () => {
    it('filters by processable, prefix and configured, newest first, and promotes', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      await createConnection(em, site);
      const seen = (minutes: number) => new Date(Date.UTC(2026, 11, 3, 15, minutes));
      const topics = [
        ['s1/gateway/GW1/status', true, 1],
        ['s1/gateway/GW1/dataloggers/telemetry', true, 3],
        ['other/thing', false, 2],
        ['$SYS/broker/load', false, 4],
      ] as const;
      for (const [topicPath, isProcessable, minutes] of topics) {
        em.create(DiscoveredTopicSchema, {
          site,
          topicPath,
          isProcessable,
          firstSeenAt: seen(0),
          lastSeenAt: seen(minutes),
          messageCount: 5,
          samplePayload: { a: 1 },
          parserName: isProcessable ? 'telemetry' : '',
        });
      }
      await em.flush();
      await call('POST', `/api/sites/${site.id}/connection/topics`, {
        topic_pattern: '+/gateway/#',
      });
      const list = async (query: string) =>
        (await call('GET', `/api/sites/${site.id}/discovered-topics${query}`, undefined, viewer()))
          .json()
          .items.map((item: { topic_path: string }) => item.topic_path);

      expect(await list('')).toEqual([
        '$SYS/broker/load',
        's1/gateway/GW1/dataloggers/telemetry',
        'other/thing',
        's1/gateway/GW1/status',
      ]);
      expect(await list('?processable=false')).toEqual(['$SYS/broker/load', 'other/thing']);
      expect(await list('?search=s1/gateway/GW1/d')).toEqual([
        's1/gateway/GW1/dataloggers/telemetry',
      ]);
      expect(await list('?configured=true')).toEqual([
        's1/gateway/GW1/dataloggers/telemetry',
        's1/gateway/GW1/status',
      ]);
      expect(await list('?configured=false')).toEqual(['$SYS/broker/load', 'other/thing']);

      const other = await em.findOneOrFail(DiscoveredTopicSchema, { topicPath: 'other/thing' });
      const promoted = await call('POST', `/api/discovered-topics/${other.id}/promote`, {
        qos_level: 1,
      });
      expect(promoted.statusCode).toBe(201);
      expect(promoted.json()).toMatchObject({ topic_pattern: 'other/thing', qos_level: 1 });
      expect(await list('?configured=false')).toEqual(['$SYS/broker/load']);
      const again = await call('POST', `/api/discovered-topics/${other.id}/promote`);

      expect(again.statusCode).toBe(409);
    });

    it('matches catalogue topics with non-wildcard characters taken literally', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      await createConnection(em, site);
      for (const topicPath of ['a.b/c', 'axb/c', 'a', 'a/b/c']) {
        em.create(DiscoveredTopicSchema, {
          site,
          topicPath,
          firstSeenAt: new Date(),
          lastSeenAt: new Date(),
        });
      }
      await em.flush();
      await call('POST', `/api/sites/${site.id}/connection/topics`, { topic_pattern: 'a.b/+' });
      await call('POST', `/api/sites/${site.id}/connection/topics`, { topic_pattern: 'a/#' });
      const items = (
        await call('GET', `/api/sites/${site.id}/discovered-topics?configured=true`)
      ).json().items;
      expect(items.map((item: { topic_path: string }) => item.topic_path).sort()).toEqual([
        'a',
        'a.b/c',
        'a/b/c',
      ]);
      expect(items.every((item: { configured: boolean }) => item.configured)).toBe(true);
    });
  });

  describe('logs and replay', () => {
    it('filters connection logs by site, level and time, newest first', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const connection = await createConnection(em, site);
      const otherSite = await createSite(em);
      const other = await createConnection(em, otherSite);
      const at = (minutes: number) => new Date(Date.UTC(2026, 11, 3, 10, minutes));
      em.create(MqttConnectionLogSchema, {
        connection,
        level: 'INFO',
        message: 'connected',
        timestamp: at(1),
      });
      em.create(MqttConnectionLogSchema, {
        connection,
        level: 'ERROR',
        message: 'refused',
        timestamp: at(2),
        retryAttempt: 3,
      });
      em.create(MqttConnectionLogSchema, {
        connection: other,
        level: 'ERROR',
        message: 'elsewhere',
        timestamp: at(3),
      });
      await em.flush();

      const base = `/api/connection-logs?site_id=${site.id}`;
      const all = (await call('GET', base, undefined, viewer())).json().items;
      expect(all.map((row: { message: string }) => row.message)).toEqual(['refused', 'connected']);
      expect(all[0]).toMatchObject({ site_id: site.id, level: 'ERROR', retry_attempt: 3 });
      const errors = (await call('GET', `${base}&level=ERROR`)).json().items;
      expect(errors).toHaveLength(1);
      const since = encodeURIComponent(at(2).toISOString());
      const until = encodeURIComponent(at(3).toISOString());
      const windowed = (await call('GET', `/api/connection-logs?since=${since}&until=${until}`))
        .json()
        .items.filter((row: { site_id: number }) => [site.id, otherSite.id].includes(row.site_id));
      expect(windowed.map((row: { message: string }) => row.message)).toEqual(['refused']);
      expect((await call('GET', `${base}&limit=1`)).json().items).toHaveLength(1);
    });

    it('filters parsing logs and replays them by ids and by filter', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const at = (minutes: number) => new Date(Date.UTC(2026, 11, 3, 11, minutes));
      const status = (serial: string) =>
        Buffer.from(
          JSON.stringify({
            serial_number_gateway: serial,
            timestamp: '2026-12-03T11:00:00Z',
            status: 'online',
          }),
        );
      const rows = [
        ['VALIDATION_ERROR', 1, 'GW-RP1'],
        ['VALIDATION_ERROR', 2, 'GW-RP2'],
        ['DB_ERROR', 3, 'GW-RP3'],
      ] as const;
      for (const [errorType, minutes, serial] of rows) {
        em.create(MqttParsingLogSchema, {
          site,
          topic: `s/gateway/${serial}/status`,
          errorType,
          errorMessage: 'status: Required',
          timestamp: at(minutes),
          rawPayload: status(serial),
        });
      }
      await em.flush();

      const base = `/api/parsing-logs?site_id=${site.id}`;
      const all = (await call('GET', base, undefined, viewer())).json().items;
      expect(all.map((row: { error_type: string }) => row.error_type)).toEqual([
        'DB_ERROR',
        'VALIDATION_ERROR',
        'VALIDATION_ERROR',
      ]);
      expect(all[0]).not.toHaveProperty('raw_payload');
      const validation = (await call('GET', `${base}&error_type=VALIDATION_ERROR`)).json().items;
      expect(validation).toHaveLength(2);

      const byIds = await call('POST', '/api/parsing-logs/replay', { ids: [all[0].id] });
      expect(byIds.statusCode).toBe(200);
      expect(byIds.json()).toEqual({
        replayed: 1,
        stored: 1,
        failed: 0,
        outcomes: [{ id: all[0].id, outcome: 'stored' }],
      });
      expect(replayCalls.at(-1)).toEqual({ ids: [all[0].id] });
      const tree = await call('GET', '/api/gateways/GW-RP3');
      expect(tree.json()).toMatchObject({ site_id: site.id, status: 'online' });

      const byFilter = await call('POST', '/api/parsing-logs/replay', {
        filter: { site_id: site.id, error_type: 'VALIDATION_ERROR' },
        limit: 10,
      });
      expect(byFilter.json()).toMatchObject({ replayed: 2, stored: 2, failed: 0 });
      expect(replayCalls.at(-1)).toEqual({
        siteId: site.id,
        errorType: 'VALIDATION_ERROR',
        includeReplayed: false,
        limit: 10,
      });
      const replayed = (await call('GET', `${base}&replayed=true`)).json().items;
      expect(replayed).toHaveLength(3);
      expect(replayed[0].replay_outcome).toBe('stored');
    });

    it('needs exactly one of ids or filter to replay', async () => {
      const both = await call('POST', '/api/parsing-logs/replay', { ids: [1], filter: {} });
      const neither = await call('POST', '/api/parsing-logs/replay', {});
      expect(both.statusCode).toBe(400);
      expect(neither.statusCode).toBe(400);
    });
  });

  describe('telemetry', () => {
    it('lists gateways of a site and returns one gateway with its whole tree', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const gateway = em.create(GatewaySchema, { serialNumber: 'GW-T1', site, isOnline: true });
      const datalogger = em.create(DataloggerSchema, {
        serialNumber: 'DL-T1',
        gateway,
        site,
        status: 'ok',
      });
      const device = em.create(DeviceSchema, {
        serialNumber: 'DEV-T1',
        datalogger,
        deviceType: 'TLT-01',
        deviceTypeNormalized: 'tlt-01',
      });
      em.create(SensorSchema, {
        serialNumber: 'DEV-T1-temperature',
        device,
        sensorType: 'temperature',
        lastReading: { value: 21.5 },
      });
      await em.flush();

      const list = await call('GET', `/api/sites/${site.id}/gateways`, undefined, viewer());
      expect(list.json()).toMatchObject({ total: 1, items: [{ serial_number: 'GW-T1' }] });

      const tree = await call('GET', '/api/gateways/GW-T1', undefined, viewer());
      expect(tree.json()).toMatchObject({
        serial_number: 'GW-T1',
        site_id: site.id,
        is_online: true,
        dataloggers: [
          {
            serial_number: 'DL-T1',
            status: 'ok',
            devices: [
              {
                serial_number: 'DEV-T1',
                device_type: 'TLT-01',
                sensors: [{ serial_number: 'DEV-T1-temperature', last_reading: { value: 21.5 } }],
              },
            ],
          },
        ],
      });
      expect((await call('GET', '/api/gateways/NOPE')).statusCode).toBe(404);
    });

    it('returns readings in a time range, newest first, with a keyset cursor', async () => {
      const em = harness.database.orm.em.fork();
      const site = await createSite(em);
      const gateway = em.create(GatewaySchema, { serialNumber: 'GW-R1', site });
      const datalogger = em.create(DataloggerSchema, { serialNumber: 'DL-R1', gateway, site });
      const device = em.create(DeviceSchema, {
        serialNumber: 'DEV-R1',
        datalogger,
        deviceType: 'x',
        deviceTypeNormalized: 'x',
      });
      const sensor = em.create(SensorSchema, {
        serialNumber: 'DEV-R1-t',
        device,
        sensorType: 't',
      });
      await em.flush();
      const ts = (minute: number) => new Date(Date.UTC(2026, 11, 3, 12, minute)).toISOString();
      await em
        .getConnection()
        .execute(
          'insert into sensor_reading (sensor_id, ts, value) select ?, ' +
            "timestamptz '2026-12-03T12:00:00Z' + make_interval(mins => g), " +
            "jsonb_build_object('value', g) from generate_series(0, 9) g",
          [sensor.id],
        );

      const url = `/api/sensors/${sensor.id}/readings`;
      const range = `from=${encodeURIComponent(ts(2))}&to=${encodeURIComponent(ts(8))}`;
      const first = (await call('GET', `${url}?${range}&limit=4`, undefined, viewer())).json();
      expect(first.items.map((item: { ts: string }) => item.ts)).toEqual([
        ts(7),
        ts(6),
        ts(5),
        ts(4),
      ]);
      expect(first.items[0].value).toEqual({ value: 7 });
      expect(first.next_to).toBe(ts(4));

      const nextRange = `from=${encodeURIComponent(ts(2))}&to=${encodeURIComponent(first.next_to)}`;
      const second = (await call('GET', `${url}?${nextRange}&limit=4`)).json();
      expect(second.items.map((item: { ts: string }) => item.ts)).toEqual([ts(3), ts(2)]);
      expect(second.next_to).toBeNull();

      expect((await call('GET', '/api/sensors/999999/readings')).statusCode).toBe(404);
      const plan = await em
        .getConnection()
        .execute(
          'explain select ts from sensor_reading ' +
            'where sensor_id = ? and ts < ? order by ts desc limit 4',
          [sensor.id, ts(8)],
        );
      expect(JSON.stringify(plan)).toContain('sensor_reading_pkey');
    });
  });

  describe('parsers and documents', () => {
    it('lists the parser registry', async () => {
      const response = await call('GET', '/api/parsers', undefined, viewer());
      expect(response.json()).toEqual({
        items: [
          { parser_name: 'telemetry', topic_filter: parsers[0]!.topicFilter, description: '' },
          {
            parser_name: 'gateway_status',
            topic_filter: '+/gateway/+/status',
            description: 'status',
          },
        ],
      });
    });

    it('serves the OpenAPI document and the interactive docs without a key', async () => {
      const document = await call('GET', '/docs/json', undefined, {});
      expect(document.statusCode).toBe(200);
      expect(document.json().openapi).toMatch(/^3\./);
      const docs = await harness.inject(app, { method: 'GET', url: '/docs/' });
      expect(docs.statusCode).toBe(200);
      expect(docs.body).toContain('swagger');
    });
  });
});
