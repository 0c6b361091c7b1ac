import mqtt, { type MqttClient } from 'mqtt';
import { Subject, type Observable } from 'rxjs';
import { deferAcks } from '../../src/mqtt/deferred-acks.js';
import type { ReceivedMessage } from '../../src/mqtt/received-message.js';

/** The shared test broker. */
export const TEST_BROKER_URL = process.env.TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

/** A subscribed client turned into the stream the ingest pipeline reads. */
export interface MqttSource {
  messages$: Observable<ReceivedMessage>;
  client: MqttClient;
  /** Drops the network connection and resumes the session, so the broker redelivers. */
  resume(): void;
  /** Ends the client without unsubscribing, like the engine on shutdown. */
  close(): Promise<void>;
}

/** Options of connectMqttSource. */
export interface MqttSourceOptions {
  siteId: number;
  connectionId: number;
  /** Filter subscribed at QoS 1. */
  filter: string;
  clientId: string;
  url?: string;
}

/**
 * Subscribes a persistent-session client and emits every message as a ReceivedMessage whose
 * acknowledge() sends the held PUBACK, as the connection actors do: the broker keeps a QoS 1
 * message until the pipeline has it safe in Redis.
 */
export async function connectMqttSource(options: MqttSourceOptions): Promise<MqttSource> {
  const client = mqtt.connect(options.url ?? TEST_BROKER_URL, {
    clientId: options.clientId,
    clean: false,
    reconnectPeriod: 500,
  });
  const acks = deferAcks(client);
  const messages = new Subject<ReceivedMessage>();

  client.on('close', () => acks.clear());
  client.on('message', (topic, payload, packet) => {
    const qos = packet.qos;
    const acknowledge =
      qos > 0 && packet.messageId !== undefined ? acks.track(packet.messageId) : () => undefined;
    messages.next({
      siteId: options.siteId,
      connectionId: options.connectionId,
      topic,
      payload,
      qos,
      retain: packet.retain,
      receivedAt: new Date(),
      acknowledge,
    });
  });

  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(options.filter, { qos: 1 });

  return {
    messages$: messages.asObservable(),
    client,
    resume: () => {
      // A graceful end, so the PUBACKs already written reach the broker before DISCONNECT.
      client.end(false, {}, () => client.reconnect());
    },
    close: async () => {
      await client.endAsync(true);
      messages.complete();
    },
  };
}

/** A plain publishing client on the test broker. */
export async function connectPublisher(url = TEST_BROKER_URL): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0 });
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms (last value: ${String(last)})`);
}
