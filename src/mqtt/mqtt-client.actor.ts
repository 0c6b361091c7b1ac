import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import { fromCallback, type CallbackActorLogic, type EventObject } from 'xstate';
import type { CredentialCipher } from '../crypto.js';
import { AppError } from '../errors.js';
import type { ConnectPacer } from './connect-pacer.js';
import { deferAcks, type DeferredAcks } from './deferred-acks.js';
import {
  classifyMqttError,
  clientOptionsOf,
  failureOf,
  type ConnectionFailure,
  type ConnectionSettings,
  type SessionConfig,
  type TopicSubscription,
} from './mqtt-session.js';
import type { QoS, ReceivedMessage } from './received-message.js';

/** Events a client actor accepts from its connection machine. */
export type MqttClientCommand = {
  type: 'mqtt.subscriptions.update';
  subscriptions: TopicSubscription[];
};

/** Events a client actor reports to its connection machine. */
export type MqttClientReport =
  | { type: 'mqtt.connected'; sessionPresent: boolean }
  | { type: 'mqtt.failed'; failure: ConnectionFailure }
  | { type: 'mqtt.closed'; failure: ConnectionFailure };

/** What a session hands on: messages, and signs of life for the health tracker. */
export interface MqttClientSink {
  deliver(message: ReceivedMessage): void;
  /** A message or a keepalive answer arrived on the connection. */
  activity(connectionId: number, kind: 'message' | 'keepalive'): void;
  /** The broker granted these filters. */
  subscribed(connectionId: number, patterns: string[]): void;
}

/** What the client actor needs besides a connection's settings. */
export interface MqttClientDependencies {
  config: SessionConfig;
  cipher: CredentialCipher;
  sink: MqttClientSink;
  logger: Logger;
  /** Spaces out connection attempts across the process; attempts go at once without it. */
  pacer?: ConnectPacer;
}

/** The logic of a client actor: one MQTT session attempt, spawned with the settings as input. */
export type MqttClientLogic = CallbackActorLogic<
  MqttClientCommand,
  ConnectionSettings,
  EventObject
>;

/**
 * mqtt.js, wrapped once: one actor per session attempt. It connects (handlers attached
 * before CONNECT so a persistent session's replayed messages are not lost), reports
 * `mqtt.connected` / `mqtt.failed` / `mqtt.closed` once, keeps the subscriptions in line with
 * `mqtt.subscriptions.update` without reconnecting, and on stop ends the client without
 * UNSUBSCRIBE so the broker keeps the session.
 */
export function createMqttClientActor(deps: MqttClientDependencies): MqttClientLogic {
  return fromCallback<MqttClientCommand, ConnectionSettings>(({ input, sendBack, receive }) => {
    const session = new MqttSession(input, deps, (report) => sendBack(report));
    receive((command) => session.subscribe(command.subscriptions));
    const withdraw = deps.pacer ? deps.pacer.request(() => session.open()) : open(session);
    return () => {
      withdraw();
      session.close();
    };
  });
}

function open(session: MqttSession): () => void {
  session.open();
  return () => undefined;
}

class MqttSession {
  readonly #settings: ConnectionSettings;
  readonly #deps: MqttClientDependencies;
  readonly #report: (report: MqttClientReport) => void;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #acks: DeferredAcks | undefined;
  #desired: TopicSubscription[];
  readonly #subscribed = new Map<string, QoS>();
  #connected = false;
  #finished = false;

  constructor(
    settings: ConnectionSettings,
    deps: MqttClientDependencies,
    report: (report: MqttClientReport) => void,
  ) {
    this.#settings = settings;
    this.#deps = deps;
    this.#report = report;
    this.#desired = settings.subscriptions;
    this.#log = deps.logger.child({
      connectionId: settings.connectionId,
      siteId: settings.siteId,
    });
  }

  open(): void {
    const password = this.#password();
    if (this.#finished) return;

    let client: MqttClient;
    try {
      client = mqtt.connect(clientOptionsOf(this.#settings, password, this.#deps.config));
      this.#client = client;
      this.#acks = deferAcks(client);
    } catch (cause) {
      // Settings mqtt.js rejects outright, or a client we cannot drive: retrying cannot help.
      this.#fail(new AppError('INTERNAL', 'the MQTT client could not be created', { cause }));
      return;
    }

    // Every handler is in place before CONNECT goes out: a persistent session's queued
    // messages may arrive right behind the CONNACK.
    client.on('packetreceive', (packet) => this.#onPacket(packet));
    client.on('connect', (connack) => this.#onConnect(connack.sessionPresent));
    client.on('error', (error) => this.#fail(error));
    client.on('close', () => this.#fail(new AppError('MQTT_NETWORK', 'connection closed')));
    client.connect();
  }

  subscribe(subscriptions: TopicSubscription[]): void {
    this.#desired = subscriptions;
    if (this.#connected && !this.#finished) this.#applySubscriptions();
  }

  close(): void {
    this.#finished = true;
    this.#acks?.clear();
    const client = this.#client;
    if (!client) return;

    // A late socket error after the end must not become an unhandled 'error' event.
    client.removeAllListeners();
    client.on('error', () => undefined);
    // No UNSUBSCRIBE: the broker keeps the subscriptions and queues QoS 1/2 messages.
    client.end(!this.#connected);
  }

  #password(): string | undefined {
    const stored = this.#settings.broker.passwordEncrypted;
    if (!stored) return undefined;

    try {
      return this.#deps.cipher.decrypt(stored);
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
  }

  #onPacket(packet: Packet): void {
    if (packet.cmd === 'publish') {
      this.#deliver(packet);
    } else if (packet.cmd === 'pingresp') {
      this.#deps.sink.activity(this.#settings.connectionId, 'keepalive');
    }
  }

  // Messages are taken from the raw packet stream rather than mqtt.js's 'message' event: a
  // QoS 2 'message' only fires after PUBREL, which never comes while its PUBREC is held.
  // Topic aliases cannot occur: the client advertises no topicAliasMaximum.
  #deliver(packet: IPublishPacket): void {
    const { connectionId, siteId } = this.#settings;
    const tracked = packet.qos > 0 && packet.messageId !== undefined && this.#acks;
    const acknowledge = tracked ? tracked.track(packet.messageId!) : () => undefined;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);

    this.#deps.sink.activity(connectionId, 'message');
    this.#deps.sink.deliver({
      siteId,
      connectionId,
      topic: packet.topic,
      payload,
      qos: packet.qos,
      retain: packet.retain,
      receivedAt: new Date(),
      acknowledge,
    });
  }

  // TODO: a pattern removed while the link was down stays in the broker's persistent session
  // (MQTT cannot list a session's subscriptions), so its messages keep arriving and are only
  // catalogued. Acceptable while removals are rare and such messages harmless; it goes once
  // the subscribed patterns are stored per connection and a resumed session unsubscribes the
  // difference.
  #onConnect(sessionPresent: boolean): void {
    this.#connected = true;
    this.#report({ type: 'mqtt.connected', sessionPresent });
    this.#applySubscriptions();
  }

  #applySubscriptions(): void {
    const client = this.#client!;
    const wanted = new Map(this.#desired.map((item) => [item.pattern, item.qos]));
    const removed = [...this.#subscribed.keys()].filter((pattern) => !wanted.has(pattern));
    const changed = [...wanted].filter(([pattern, qos]) => this.#subscribed.get(pattern) !== qos);

    if (removed.length) {
      for (const pattern of removed) this.#subscribed.delete(pattern);
      client.unsubscribe(removed, (error) => this.#onSubscribeError(error, removed));
    }
    if (!changed.length) return;

    for (const [pattern, qos] of changed) this.#subscribed.set(pattern, qos);
    const filters = Object.fromEntries(changed.map(([pattern, qos]) => [pattern, { qos }]));
    client.subscribe(filters, (error, granted) => {
      if (error) return this.#onSubscribeError(error, Object.keys(filters));
      const grants = granted ?? [];
      const refused = grants.filter((grant) => grant.qos === 128).map((grant) => grant.topic);
      const accepted = grants.filter((grant) => grant.qos !== 128).map((grant) => grant.topic);
      if (refused.length) this.#log.warn({ topics: refused }, 'subscription refused');
      if (accepted.length) this.#deps.sink.subscribed(this.#settings.connectionId, accepted);
    });
  }

  #onSubscribeError(error: Error | undefined, topics: string[]): void {
    if (!error || this.#finished) return;
    this.#log.warn({ err: error, topics }, 'subscription change failed');
  }

  #fail(error: unknown): void {
    if (this.#finished) return;

    this.#finished = true;
    this.#acks?.clear();
    const failure = failureOf(classifyMqttError(error, this.#deps.config.MQTT_PROTOCOL_VERSION));
    this.#report({ type: this.#connected ? 'mqtt.closed' : 'mqtt.failed', failure });
  }
}
