import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttConnection } from '../../src/entities/index.js';
import type { QoS } from '../../src/mqtt/received-message.js';
import { uniqueName } from '../support/config.js';
import {
  createConnectionHarness,
  waitUntil,
  type ConnectionHarness,
  type RunningSupervisor,
} from '../support/connection-harness.js';
import { createConnection, createSite, createTopic } from '../support/factories.js';

const PREFIX = `sw/${uniqueName('supervisor')}`;
const CLIENT_PREFIX = uniqueName('sup');

describe('connection supervisor on the shared broker', () => {
  let harness: ConnectionHarness;
  let running: RunningSupervisor;
  let publisher: MqttClient;

  beforeAll(async () => {
    harness = await createConnectionHarness('supervisor');
    running = await harness.start({ SILENCE_FACTOR: '1', SILENCE_CHECK_INTERVAL_MS: '100' });
    publisher = await mqtt.connectAsync({ host: '127.0.0.1', port: 1883, reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await harness?.close();
  });

  const statusOf = async (connectionId: number) => {
    const [row] = await harness.sql<{ status: string }>(
      'select status from mqtt_connection where id = ?',
      [connectionId],
    );
    return row?.status;
  };

  const waitForStatus = (connectionId: number, status: string) =>
    waitUntil(async () => (await statusOf(connectionId)) === status, 5_000, status);

  const received = (topic: string) => running.messages.filter((message) => message.topic === topic);

  // SUBSCRIBE goes out right after CONNACK; publishing until one arrives avoids racing it.
  const publishUntilReceived = async (topic: string, qos: QoS = 1) => {
    await waitUntil(
      async () => {
        await publisher.publishAsync(topic, JSON.stringify({ at: Date.now() }), { qos });
        await new Promise((resolve) => setTimeout(resolve, 100));
        return received(topic).length > 0;
      },
      5_000,
      `a message on ${topic}`,
    );
  };

  const publishAndSettle = async (topic: string) => {
    await publisher.publishAsync(topic, 'x', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 400));
  };

  const newConnection = async (label: string, fields: Partial<MqttConnection> = {}) => {
    const em = harness.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      clientIdPrefix: CLIENT_PREFIX,
      discoveryPattern: `${PREFIX}/${label}/discovery/#`,
      ...fields,
    });
    return { em, site, connection };
  };

  it('connects, subscribes and hands on received messages', async () => {
    const { em, site, connection } = await newConnection('receive');
    await createTopic(em, connection, { topicPattern: `${PREFIX}/receive/+/data`, qosLevel: 1 });
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');

    await publishUntilReceived(`${PREFIX}/receive/gw1/data`);
    const [message] = received(`${PREFIX}/receive/gw1/data`);
    expect(message).toMatchObject({ siteId: site.id, connectionId: connection.id, qos: 1 });
    expect(message!.payload).toBeInstanceOf(Buffer);

    await publishUntilReceived(`${PREFIX}/receive/discovery/anything`);
    const [topic] = await harness.sql<{ subscription_count: number; last_subscribed_at: Date }>(
      'select subscription_count, last_subscribed_at from mqtt_topic where mqtt_connection_id = ?',
      [connection.id],
    );
    expect(topic!.subscription_count).toBe(1);
    expect(topic!.last_subscribed_at).not.toBeNull();
  });

  it('records transitions in status columns, log, live stream and metrics', async () => {
    const { connection } = await newConnection('records');
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');

    const [row] = await harness.sql<Record<string, unknown>>(
      `select mqtt_retry_count, mqtt_next_retry, last_connected_at, last_error
       from mqtt_connection where id = ?`,
      [connection.id],
    );
    expect(row).toMatchObject({ mqtt_retry_count: 0, mqtt_next_retry: null, last_error: null });
    expect(row!.last_connected_at).not.toBeNull();

    await waitUntil(async () => {
      const logs = await harness.sql<{ level: string; message: string }>(
        'select level, message from mqtt_connection_log where connection_id = ?',
        [connection.id],
      );
      return logs.some((log) => log.level === 'INFO' && /established/.test(log.message));
    });
    await waitUntil(() =>
      harness.events.some(
        (event) =>
          event.type === 'connection.state' &&
          event.connectionId === connection.id &&
          event.previous === 'connecting' &&
          event.current === 'connected',
      ),
    );

    const gauge = await running.metrics.connections.get();
    const connected = gauge.values.find((value) => value.labels.state === 'connected');
    expect(connected?.value).toBeGreaterThanOrEqual(1);
  });

  it('writes its status without announcing a configuration change', async () => {
    const { connection } = await newConnection('quiet', { isActive: false });
    const listener = new pg.Client({ connectionString: harness.database.url });
    await listener.connect();
    await listener.query('listen sitewire_config');
    const notified: string[] = [];
    listener.on('notification', (message) => notified.push(message.payload ?? ''));

    await harness.sql('update mqtt_connection set is_active = true where id = ?', [connection.id]);
    await waitForStatus(connection.id, 'connected');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await listener.end();

    // Only the operator's own update; none of the engine's status writes.
    expect(notified).toHaveLength(1);
  });

  it('writes heartbeats from messages, throttled', async () => {
    const { em, connection } = await newConnection('heartbeat');
    await createTopic(em, connection, { topicPattern: `${PREFIX}/heartbeat/#`, qosLevel: 0 });
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');
    await publishUntilReceived(`${PREFIX}/heartbeat/x`, 0);

    await waitUntil(async () => {
      const [row] = await harness.sql<{ last_heartbeat_at: Date | null }>(
        'select last_heartbeat_at from mqtt_connection where id = ?',
        [connection.id],
      );
      return row?.last_heartbeat_at != null;
    });
  });

  it('starts and stops a connection on a plain SQL update, long before the sweep', async () => {
    const { site, connection } = await newConnection('flags', { isActive: false });
    running.supervisor.reconcile();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await statusOf(connection.id)).toBe('disconnected');

    await harness.sql('update mqtt_connection set is_active = true where id = ?', [connection.id]);
    await waitForStatus(connection.id, 'connected');

    await harness.sql('update site set is_active = false where id = ?', [site.id]);
    await waitForStatus(connection.id, 'disconnected');
    await waitUntil(() =>
      running.supervisor.inspection
        .listActors()
        .every((actor) => actor.connectionId !== connection.id),
    );

    await harness.sql('update site set is_active = true where id = ?', [site.id]);
    await waitForStatus(connection.id, 'connected');
    await harness.sql('update mqtt_connection set is_active = false where id = ?', [connection.id]);
    await waitForStatus(connection.id, 'disconnected');
  });

  it('resubscribes without reconnecting when topics change', async () => {
    const { connection } = await newConnection('topics');
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');
    const before = running.supervisor.connectionHealth(connection.id);
    expect(before.sessions).toBe(1);

    const topic = `${PREFIX}/topics/added`;
    await harness.sql(
      'insert into mqtt_topic (mqtt_connection_id, topic_pattern, qos_level) values (?, ?, 0)',
      [connection.id, topic],
    );
    await publishUntilReceived(topic);
    expect(received(topic).at(-1)?.qos).toBe(0);

    await harness.sql('update mqtt_topic set qos_level = 1 where topic_pattern = ?', [topic]);
    await waitUntil(async () => {
      await publishAndSettle(topic);
      return received(topic).at(-1)?.qos === 1;
    });

    await harness.sql('update mqtt_topic set is_active = false where topic_pattern = ?', [topic]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const count = received(topic).length;
    await publishAndSettle(topic);
    expect(received(topic)).toHaveLength(count);

    await harness.sql('update mqtt_connection set discovery_pattern = ? where id = ?', [
      `${PREFIX}/topics/other/#`,
      connection.id,
    ]);
    await publishUntilReceived(`${PREFIX}/topics/other/x`);

    const after = running.supervisor.connectionHealth(connection.id);
    expect(after.sessions).toBe(1);
    expect(after.lastConnectedAt).toBe(before.lastConnectedAt);
    expect(after.status).toBe('connected');
  });

  it('starts a new session when the broker settings change', async () => {
    const { connection } = await newConnection('settings');
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');

    await harness.sql('update mqtt_connection set client_id_prefix = ? where id = ?', [
      `${CLIENT_PREFIX}x`,
      connection.id,
    ]);
    await waitUntil(() => running.supervisor.connectionHealth(connection.id).sessions === 2);
    await waitForStatus(connection.id, 'connected');
    const view = running.supervisor.inspection
      .listActors()
      .find((actor) => actor.connectionId === connection.id);
    expect(view?.context.clientId).toBe(`${CLIENT_PREFIX}x-${connection.site.id}`);
    expect(view?.transitions.map((transition) => transition.reason)).toContain(
      'broker settings changed',
    );
  });

  it('reports a connected but silent connection, and when it speaks again', async () => {
    const { em, site, connection } = await newConnection('silence');
    await createTopic(em, connection, { topicPattern: `${PREFIX}/silence/#`, qosLevel: 0 });
    await harness.sql(
      'insert into gateway (serial_number, site_id, expected_heartbeat_interval) values (?, ?, 1)',
      [uniqueName('gw'), site.id],
    );
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');

    await waitUntil(() => running.supervisor.isSilent(connection.id), 5_000, 'silence');
    expect(running.supervisor.connectionHealth(connection.id)).toMatchObject({
      status: 'connected',
      receiving: false,
      expectedIntervalMs: 1000,
    });
    await waitUntil(() =>
      harness.events.some(
        (event) => event.type === 'connection.silent' && event.connectionId === connection.id,
      ),
    );

    await publisher.publishAsync(`${PREFIX}/silence/x`, 'hello');
    await waitUntil(() => !running.supervisor.isSilent(connection.id), 5_000, 'speech');
    await waitUntil(() =>
      harness.events.some(
        (event) => event.type === 'connection.receiving' && event.connectionId === connection.id,
      ),
    );
  });

  it('parks a connection whose stored password does not decrypt', async () => {
    const { connection } = await newConnection('undecryptable', {
      passwordEncrypted: 'v1:not:a:credential',
    });
    running.supervisor.reconcile();

    await waitForStatus(connection.id, 'error');
    const view = running.supervisor.inspection
      .listActors()
      .find((actor) => actor.connectionId === connection.id);
    expect(view?.state).toEqual({ error: 'parked' });
    expect(view?.context.lastError).toMatch(/does not decrypt.*no automatic retry/);
  });

  it('lists the supervisor and every live connection actor for the visualizer', async () => {
    const { connection } = await newConnection('inspection');
    const changes: string[] = [];
    const subscription = running.supervisor.inspection.changes$.subscribe((view) =>
      changes.push(view.actorId),
    );
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');
    subscription.unsubscribe();

    const actors = running.supervisor.inspection.listActors();
    const supervisor = actors.find((actor) => actor.actorId === 'supervisor');
    const view = actors.find((actor) => actor.connectionId === connection.id);
    expect(supervisor?.machine).toBe('supervisor');
    expect(view).toMatchObject({ machine: 'connection', state: 'connected', stopped: false });
    expect(view?.context).toMatchObject({ retryCount: 0, nextRetryAt: null, lastError: null });
    expect(JSON.stringify(view)).not.toMatch(/passwordEncrypted/);
    expect(view?.transitions.map((transition) => transition.to)).toEqual([
      'disconnected',
      'connecting',
      'connected',
    ]);
    expect(changes).toContain(`connection:${connection.id}`);
  });

  it('admits connections at a bounded rate when it starts', async () => {
    await running.stop();
    const ids: number[] = [];
    for (let n = 0; n < 6; n += 1) ids.push((await newConnection(`admit${n}`)).connection.id);
    running = await harness.start({ ADMISSION_RATE_PER_SECOND: '5' });

    await Promise.all(ids.map((id) => waitForStatus(id, 'connected')));
    const firsts = await harness.sql<{ first: Date }>(
      `select min(timestamp) as first from mqtt_connection_log
       where connection_id = any(?::int[]) and message like 'connection connecting%'
         and timestamp > now() - interval '1 minute'
       group by connection_id`,
      [`{${ids.join(',')}}`],
    );
    const times = firsts.map((row) => new Date(row.first).getTime());
    expect(times).toHaveLength(6);
    // Five admissions a second: the sixth starts about a second after the first.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(800);
  });

  it('reconnects the config listener after it drops and catches up on missed changes', async () => {
    const { connection } = await newConnection('listener', { isActive: false });
    const terminated = await harness.sql<{ ok: boolean }>(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where datname = current_database() and query ilike 'listen%'`,
    );
    expect(terminated).toHaveLength(1);

    await harness.sql('update mqtt_connection set is_active = true where id = ?', [connection.id]);
    await waitForStatus(connection.id, 'connected');
  });
});
