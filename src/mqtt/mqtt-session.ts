import type { IClientOptions } from 'mqtt';
import type { Config } from '../config.js';
import { AppError, describeException } from '../errors.js';
import type { QoS } from './received-message.js';

/** One subscription of a session: an MQTT filter and the QoS asked for it. */
export interface TopicSubscription {
  pattern: string;
  qos: QoS;
}

/** The broker settings of a connection; a change to any of them needs a new session. */
export interface BrokerSettings {
  host: string;
  port: number;
  useTls: boolean;
  caCert: string | null;
  username: string;
  /** The stored ciphertext; decrypted only when the client is built. */
  passwordEncrypted: string | null;
  clientIdPrefix: string;
}

/** Everything a connection actor needs to run one site's session. */
export interface ConnectionSettings {
  connectionId: number;
  siteId: number;
  broker: BrokerSettings;
  /** Configured topics plus the discovery pattern, in a stable order. */
  subscriptions: TopicSubscription[];
}

/** The session options of the configuration. */
export type SessionConfig = Pick<
  Config,
  | 'KEEPALIVE_SECONDS'
  | 'CONNECT_TIMEOUT_MS'
  | 'MQTT_PROTOCOL_VERSION'
  | 'MQTT_SESSION_EXPIRY_SECONDS'
>;

/** A failure as machines carry it: plain data, so snapshots stay serialisable. */
export interface ConnectionFailure {
  code: string;
  message: string;
  retryable: boolean;
  exceptionType: string;
  traceback: string;
}

/** The stable client id of a site's session: `<client_id_prefix>-<site id>`. */
export function clientIdOf(broker: BrokerSettings, siteId: number): string {
  return `${broker.clientIdPrefix}-${siteId}`;
}

/** True when two broker settings would open the same session. */
export function sameBroker(a: BrokerSettings, b: BrokerSettings): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.useTls === b.useTls &&
    a.caCert === b.caCert &&
    a.username === b.username &&
    a.passwordEncrypted === b.passwordEncrypted &&
    a.clientIdPrefix === b.clientIdPrefix
  );
}

/** The subscriptions of a connection: active configured topics, then the discovery pattern. */
export function subscriptionsOf(
  topics: TopicSubscription[],
  discoveryPattern: string,
): TopicSubscription[] {
  const byPattern = new Map<string, QoS>();
  for (const topic of topics) {
    byPattern.set(topic.pattern, Math.max(byPattern.get(topic.pattern) ?? 0, topic.qos) as QoS);
  }

  const discovery = discoveryPattern.trim();
  if (discovery && !byPattern.has(discovery)) byPattern.set(discovery, 1);
  return [...byPattern]
    .map(([pattern, qos]) => ({ pattern, qos }))
    .sort((a, b) => a.pattern.localeCompare(b.pattern));
}

/**
 * mqtt.js options for one session attempt. The machine owns retries and the connect timeout,
 * so mqtt.js's own reconnect is off; the session is persistent (clean off for 3.1.1, an
 * expiry interval for 5) so the broker keeps QoS 1/2 messages while the engine is away.
 */
export function clientOptionsOf(
  settings: ConnectionSettings,
  password: string | undefined,
  config: SessionConfig,
): IClientOptions {
  const { broker } = settings;
  const v5 = config.MQTT_PROTOCOL_VERSION === 5;
  return {
    host: broker.host,
    port: broker.port,
    protocol: broker.useTls ? 'mqtts' : 'mqtt',
    protocolVersion: config.MQTT_PROTOCOL_VERSION,
    clientId: clientIdOf(broker, settings.siteId),
    clean: false,
    keepalive: config.KEEPALIVE_SECONDS,
    reconnectPeriod: 0,
    // The machine times the attempt out first; this only guards a client left behind.
    connectTimeout: config.CONNECT_TIMEOUT_MS * 2,
    manualConnect: true,
    resubscribe: false,
    queueQoSZero: false,
    ...(v5 ? { properties: { sessionExpiryInterval: config.MQTT_SESSION_EXPIRY_SECONDS } } : {}),
    ...(broker.username ? { username: broker.username } : {}),
    ...(password === undefined ? {} : { password }),
    ...(broker.useTls ? tlsOptions(broker) : {}),
  };
}

function tlsOptions(broker: BrokerSettings): IClientOptions {
  return {
    rejectUnauthorized: true,
    ...(broker.caCert ? { ca: [broker.caCert] } : {}),
  };
}

/**
 * CONNACK codes after which trying again cannot help: the broker refused who we are or what
 * we may do. 3.1.1: 2 identifier rejected, 4 bad user name or password, 5 not authorised.
 * 5.0: 0x85 client id invalid, 0x86 bad user name or password, 0x87 not authorised,
 * 0x8A banned, 0x8C bad authentication method.
 */
const REFUSALS: Record<4 | 5, Record<number, 'MQTT_AUTH_REFUSED' | 'MQTT_NOT_AUTHORIZED'>> = {
  4: { 2: 'MQTT_AUTH_REFUSED', 4: 'MQTT_AUTH_REFUSED', 5: 'MQTT_NOT_AUTHORIZED' },
  5: {
    0x85: 'MQTT_AUTH_REFUSED',
    0x86: 'MQTT_AUTH_REFUSED',
    0x87: 'MQTT_NOT_AUTHORIZED',
    0x8a: 'MQTT_NOT_AUTHORIZED',
    0x8c: 'MQTT_AUTH_REFUSED',
  },
};

/** Turns an mqtt.js error into an AppError: refusals park, everything else is retryable. */
export function classifyMqttError(error: unknown, protocolVersion: 4 | 5): AppError {
  if (error instanceof AppError) return error;

  const code = (error as { code?: unknown } | null)?.code;
  const refusal = typeof code === 'number' ? REFUSALS[protocolVersion][code] : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (refusal) {
    return new AppError(refusal, `broker refused the session (${message})`, { cause: error });
  }
  return new AppError('MQTT_NETWORK', message, { cause: error });
}

/** The plain-data form of a failure, with the exception type and traceback for the log. */
export function failureOf(error: AppError): ConnectionFailure {
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    exceptionType: describeException(error).type,
    traceback: describeException(error.cause ?? error).traceback,
  };
}
