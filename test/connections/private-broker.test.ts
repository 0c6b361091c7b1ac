import net from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialCipher } from '../../src/crypto.js';
import type { MqttConnection } from '../../src/entities/index.js';
import { uniqueName } from '../support/config.js';
import {
  createConnectionHarness,
  waitUntil,
  type ConnectionHarness,
  type RunningSupervisor,
} from '../support/connection-harness.js';
import { createConnection, createSite, createTopic } from '../support/factories.js';
import { freePort, startPrivateBroker, type PrivateBroker } from '../support/private-broker.js';

const SECRET = 'test-secret-key-0123456789';
const CLIENT_PREFIX = uniqueName('priv');

interface StatusRow {
  status: string;
  mqtt_retry_count: number;
  mqtt_next_retry: Date | null;
  last_error: string | null;
}

describe('connection actors against private brokers', () => {
  let harness: ConnectionHarness;
  let running: RunningSupervisor;
  const brokers: PrivateBroker[] = [];

  beforeAll(async () => {
    harness = await createConnectionHarness('private_broker');
    running = await harness.start({ CONNECT_TIMEOUT_MS: '500' });
  });

  afterAll(async () => {
    await harness?.close();
    for (const broker of brokers) await broker.destroy();
  });

  const broker = async (options: Parameters<typeof startPrivateBroker>[0]) => {
    const started = await startPrivateBroker(options);
    brokers.push(started);
    return started;
  };

  const row = async (connectionId: number) => {
    const [found] = await harness.sql<StatusRow>(
      `select status, mqtt_retry_count, mqtt_next_retry, last_error from mqtt_connection
       where id = ?`,
      [connectionId],
    );
    return found!;
  };

  const waitForStatus = (connectionId: number, status: string, timeoutMs = 5_000) =>
    waitUntil(async () => (await row(connectionId)).status === status, timeoutMs, status);

  const newConnection = async (port: number, fields: Partial<MqttConnection> = {}) => {
    const em = harness.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      brokerPort: port,
      clientIdPrefix: CLIENT_PREFIX,
      discoveryPattern: '',
      ...fields,
    });
    return { em, site, connection };
  };

  const logsOf = (connectionId: number) =>
    harness.sql<{ level: string; message: string; exception_type: string }>(
      `select level, message, exception_type from mqtt_connection_log
       where connection_id = ? order by id`,
      [connectionId],
    );

  it('parks the connection when the broker refuses the password, until it is fixed', async () => {
    const secured = await broker({ users: { gateway: 'right-password' } });
    const em = harness.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      brokerPort: secured.port,
      clientIdPrefix: CLIENT_PREFIX,
      discoveryPattern: '',
      username: 'gateway',
      password: 'wrong-password',
      secretKey: SECRET,
    });
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'error');

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const parked = await row(connection.id);
    expect(parked).toMatchObject({ status: 'error', mqtt_retry_count: 0, mqtt_next_retry: null });
    expect(parked.last_error).toMatch(/no automatic retry will help/);
    const logs = await logsOf(connection.id);
    expect(logs.filter((log) => /connecting/.test(log.message))).toHaveLength(1);
    expect(logs.at(-1)).toMatchObject({
      level: 'ERROR',
      // Mosquitto answers a bad password with "not authorised" (3.1.1: 5, MQTT 5: 0x87).
      exception_type: expect.stringMatching(/^AppError:MQTT_(AUTH_REFUSED|NOT_AUTHORIZED)$/),
    });
    expect(
      harness.events.some(
        (event) =>
          event.type === 'connection.state' && event.connectionId === connection.id && event.parked,
      ),
    ).toBe(true);

    const fixed = new CredentialCipher(SECRET).encrypt('right-password');
    await harness.sql('update mqtt_connection set password_encrypted = ? where id = ?', [
      fixed,
      connection.id,
    ]);
    await waitForStatus(connection.id, 'connected');
    expect((await row(connection.id)).last_error).toBeNull();
  });

  it('retries with backoff while the port is unreachable', async () => {
    const { connection } = await newConnection(await freePort());
    running.supervisor.reconcile();

    await waitUntil(async () => (await row(connection.id)).mqtt_retry_count >= 3, 5_000, 'retries');
    const retryLogged = async () =>
      (await logsOf(connection.id)).some((log) => log.level === 'WARNING');
    await waitUntil(retryLogged, 10_000, 'a retry to be logged');
    const retrying = await row(connection.id);
    expect(['error', 'connecting']).toContain(retrying.status);
    const logs = await logsOf(connection.id);
    expect(
      logs.some((log) => log.level === 'WARNING' && log.exception_type === 'AppError:MQTT_NETWORK'),
    ).toBe(true);

    await harness.sql('update mqtt_connection set is_active = false where id = ?', [connection.id]);
    await waitForStatus(connection.id, 'disconnected');
    expect(await row(connection.id)).toMatchObject({ mqtt_retry_count: 0, mqtt_next_retry: null });
  });

  it('times out a connect attempt that hangs and tries again', async () => {
    const sockets = new Set<net.Socket>();
    // It reads (so it sees the client close) but never answers CONNECT.
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const { connection } = await newConnection(port);
    running.supervisor.reconcile();

    await waitUntil(async () => (await row(connection.id)).mqtt_retry_count >= 1, 5_000, 'timeout');
    expect((await row(connection.id)).last_error).toMatch(/no CONNACK within 500 ms/);

    await harness.sql('update mqtt_connection set is_active = false where id = ?', [connection.id]);
    await waitForStatus(connection.id, 'disconnected');
    // Every abandoned attempt closed its socket: nothing stays open towards the silent server.
    await waitUntil(() => [...sockets].every((socket) => socket.closed), 5_000, 'sockets closed');
    await new Promise((resolve) => silent.close(resolve));
  });

  it('reconnects after a broker restart and gets QoS 1 messages sent meanwhile', async () => {
    const persistent = await broker({ persistence: true });
    const { em, connection } = await newConnection(persistent.port);
    await createTopic(em, connection, { topicPattern: 'plant/+/telemetry', qosLevel: 1 });
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');

    await persistent.stop();
    await waitUntil(async () => (await row(connection.id)).mqtt_retry_count >= 1, 5_000, 'retry');
    await persistent.start();
    await waitForStatus(connection.id, 'connected');
    expect(running.supervisor.connectionHealth(connection.id).sessions).toBe(2);

    await running.stop();
    const publisher = await mqtt.connectAsync({ port: persistent.port, reconnectPeriod: 0 });
    for (const n of [1, 2, 3]) {
      await publisher.publishAsync(`plant/gw${n}/telemetry`, `reading ${n}`, { qos: 1 });
    }
    await publisher.endAsync();
    await persistent.stop();
    await persistent.start();

    running = await harness.start({ CONNECT_TIMEOUT_MS: '500' });
    const plant = () => running.messages.filter((message) => message.topic.startsWith('plant/'));
    await waitUntil(() => plant().length >= 3, 5_000, 'queued messages');
    expect(
      plant()
        .map((message) => message.payload.toString())
        .sort(),
    ).toEqual(['reading 1', 'reading 2', 'reading 3']);
  });

  it('connects over TLS with the stored CA certificate', async () => {
    const secure = await broker({ tls: true });
    const { em, connection } = await newConnection(secure.port, {
      useTls: true,
      caCert: secure.caCert!,
    });
    await createTopic(em, connection, { topicPattern: 'secure/#', qosLevel: 1 });
    const untrusted = await newConnection(secure.port, { useTls: true, caCert: null });
    running.supervisor.reconcile();
    await waitForStatus(connection.id, 'connected');

    const publisher = await mqtt.connectAsync({
      protocol: 'mqtts',
      host: '127.0.0.1',
      port: secure.port,
      ca: [secure.caCert!],
      reconnectPeriod: 0,
    });
    await publisher.publishAsync('secure/hello', 'over tls', { qos: 1 });
    await publisher.endAsync();
    await waitUntil(() => running.messages.some((message) => message.topic === 'secure/hello'));

    await waitUntil(async () => (await row(untrusted.connection.id)).mqtt_retry_count >= 1);
    expect((await row(untrusted.connection.id)).last_error).toMatch(/certificate/i);
  });

  it('parks on a refusal with MQTT 5 reason codes as well', async () => {
    await running.stop();
    running = await harness.start({ MQTT_PROTOCOL_VERSION: '5' });
    const secured = await broker({ users: { gateway: 'right-password' } });
    const em = harness.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      brokerPort: secured.port,
      clientIdPrefix: CLIENT_PREFIX,
      discoveryPattern: '',
      username: 'gateway',
      password: 'wrong-password',
      secretKey: SECRET,
    });
    running.supervisor.reconcile();

    await waitForStatus(connection.id, 'error');
    // The log row is written just after the status columns: wait for it, not only the status.
    const parkedLogged = async () => (await logsOf(connection.id)).at(-1)?.level === 'ERROR';
    await waitUntil(parkedLogged, 10_000, 'the parked connection to be logged');
    const logs = await logsOf(connection.id);
    expect(logs.at(-1)).toMatchObject({
      level: 'ERROR',
      // Mosquitto answers a bad password with "not authorised" (3.1.1: 5, MQTT 5: 0x87).
      exception_type: expect.stringMatching(/^AppError:MQTT_(AUTH_REFUSED|NOT_AUTHORIZED)$/),
    });
    expect((await row(connection.id)).mqtt_retry_count).toBe(0);
  });
});
