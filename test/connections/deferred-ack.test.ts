import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/config.js';
import {
  createConnectionHarness,
  waitUntil,
  type ConnectionHarness,
} from '../support/connection-harness.js';
import { createConnection, createSite, createTopic } from '../support/factories.js';

const PREFIX = `sw/${uniqueName('acks')}`;
const CLIENT_PREFIX = uniqueName('ack');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('deferred acknowledgement', () => {
  let harness: ConnectionHarness;
  let publisher: MqttClient;

  beforeAll(async () => {
    harness = await createConnectionHarness('deferred_ack');
    publisher = await mqtt.connectAsync({ host: '127.0.0.1', port: 1883, reconnectPeriod: 0 });
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await harness?.close();
  });

  const newConnection = async (label: string, topics: Array<[string, 0 | 1 | 2]>) => {
    const em = harness.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      clientIdPrefix: `${CLIENT_PREFIX}${label}`,
      discoveryPattern: '',
    });
    for (const [topicPattern, qosLevel] of topics) {
      await createTopic(em, connection, { topicPattern, qosLevel });
    }
    return connection;
  };

  const waitConnected = (connectionId: number) =>
    waitUntil(async () => {
      const [row] = await harness.sql<{ status: string }>(
        'select status from mqtt_connection where id = ?',
        [connectionId],
      );
      return row?.status === 'connected';
    });

  // The measurement behind src/mqtt/deferred-acks.ts: mqtt.js's own way of deferring an ack
  // stops the client reading anything else until the ack is given.
  it('shows that mqtt.js alone delivers nothing more while an ack is held', async () => {
    const topic = `${PREFIX}/naive`;
    const subscriber = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: 1883,
      clientId: uniqueName('naive'),
      reconnectPeriod: 0,
    });
    await subscriber.subscribeAsync(topic, { qos: 1 });
    const delivered: string[] = [];
    const held: Array<() => void> = [];
    subscriber.handleMessage = (packet, callback) => {
      delivered.push(String(packet.payload));
      held.push(() => callback());
    };

    for (const n of [1, 2, 3]) await publisher.publishAsync(topic, `m${n}`, { qos: 1 });
    await sleep(500);
    expect(delivered).toEqual(['m1']);

    held.shift()!();
    await waitUntil(() => delivered.length === 2);
    expect(delivered).toEqual(['m1', 'm2']);

    for (const release of held.splice(0)) release();
    await waitUntil(() => delivered.length === 3);
    for (const release of held.splice(0)) release();
    await subscriber.endAsync();
  });

  it('shows that mqtt.js alone drops the link on keepalive while an ack is held', async () => {
    const topic = `${PREFIX}/naive-keepalive`;
    const subscriber = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: 1883,
      clientId: uniqueName('naive'),
      keepalive: 1,
      reconnectPeriod: 0,
    });
    const errors: string[] = [];
    subscriber.on('error', (error) => errors.push(error.message));
    await subscriber.subscribeAsync(topic, { qos: 1 });
    subscriber.handleMessage = () => undefined;

    await publisher.publishAsync(topic, 'held', { qos: 1 });
    await waitUntil(() => errors.length > 0, 5_000, 'a keepalive failure');
    expect(errors).toContain('Keepalive timeout');
    await subscriber.endAsync(true);
  });

  it('delivers later messages and keepalive answers while acknowledgements are held', async () => {
    const topic = `${PREFIX}/held`;
    const connection = await newConnection('held', [[`${topic}/#`, 1]]);
    const running = await harness.start({ KEEPALIVE_SECONDS: '1' }, false);
    await waitConnected(connection.id);
    await sleep(200);

    for (const n of [1, 2, 3]) await publisher.publishAsync(`${topic}/x`, `m${n}`, { qos: 1 });
    const mine = () => running.messages.filter((message) => message.topic.startsWith(topic));
    await waitUntil(() => mine().length === 3, 5_000, 'three unacknowledged deliveries');
    const lastMessageAt = running.supervisor.connectionHealth(connection.id).lastMessageAt!;

    // Well past 1.5 x keepalive: a client whose packet loop waited on the acks would be gone.
    await sleep(2_500);
    const health = running.supervisor.connectionHealth(connection.id);
    expect(health).toMatchObject({ status: 'connected', sessions: 1 });
    expect(Date.parse(health.lastHeartbeatAt!)).toBeGreaterThan(Date.parse(lastMessageAt));

    for (const message of mine()) message.acknowledge();
    await running.stop();
  });

  it.each([4, 5])('gets unacked QoS 1/2 messages again after a reconnect (MQTT %i)', async (v) => {
    const version = { MQTT_PROTOCOL_VERSION: String(v) };
    const topic = `${PREFIX}/redeliver${v}`;
    const connection = await newConnection(`redeliver${v}`, [
      [`${topic}/one/#`, 1],
      [`${topic}/two/#`, 2],
    ]);
    const first = await harness.start(version, false);
    await waitConnected(connection.id);
    await sleep(200);

    await publisher.publishAsync(`${topic}/one/a`, 'acked-1', { qos: 1 });
    await publisher.publishAsync(`${topic}/one/b`, 'unacked-1', { qos: 1 });
    await publisher.publishAsync(`${topic}/two/a`, 'acked-2', { qos: 2 });
    await publisher.publishAsync(`${topic}/two/b`, 'unacked-2', { qos: 2 });
    const mine = (messages: typeof first.messages) =>
      messages.filter((message) => message.topic.startsWith(topic));
    await waitUntil(() => mine(first.messages).length === 4, 5_000, 'four deliveries');

    for (const message of mine(first.messages)) {
      if (message.payload.toString().startsWith('acked')) message.acknowledge();
    }
    await sleep(300);
    await first.stop();

    const second = await harness.start(version);
    await waitUntil(() => mine(second.messages).length >= 2, 5_000, 'redeliveries');
    await sleep(500);
    const redelivered = mine(second.messages).map((message) => message.payload.toString());
    expect(redelivered.sort()).toEqual(['unacked-1', 'unacked-2']);
    await second.stop();
  });
});
