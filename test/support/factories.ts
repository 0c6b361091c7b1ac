import type { EntityManager } from '@mikro-orm/postgresql';
import { CredentialCipher } from '../../src/crypto.js';
import {
  MqttConnectionSchema,
  MqttTopicSchema,
  SiteSchema,
  type MqttConnection,
  type MqttTopic,
  type Site,
} from '../../src/entities/index.js';

let sequence = 0;

/** Creates and flushes a site with a unique name. */
export async function createSite(em: EntityManager, fields: Partial<Site> = {}): Promise<Site> {
  sequence += 1;
  const site = em.create(SiteSchema, { name: `site-${process.pid}-${sequence}`, ...fields });
  await em.flush();
  return site;
}

/** Fields of a test connection; `password` is plain and gets encrypted with `secretKey`. */
export interface ConnectionFields extends Partial<Omit<MqttConnection, 'site'>> {
  password?: string;
  secretKey?: string;
}

/** Creates and flushes an MQTT connection for the site, pointing at the local broker. */
export async function createConnection(
  em: EntityManager,
  site: Site,
  fields: ConnectionFields = {},
): Promise<MqttConnection> {
  const { password, secretKey, ...rest } = fields;
  const cipher = new CredentialCipher(secretKey ?? 'test-secret-key-0123456789');
  const encrypted = password === undefined ? {} : { passwordEncrypted: cipher.encrypt(password) };
  const connection = em.create(MqttConnectionSchema, {
    site,
    brokerHost: '127.0.0.1',
    brokerPort: 1883,
    clientIdPrefix: 'sitewire-test',
    ...encrypted,
    ...rest,
  });
  await em.flush();
  return connection;
}

/** Creates and flushes a configured topic pattern on the connection. */
export async function createTopic(
  em: EntityManager,
  connection: MqttConnection,
  fields: Partial<Omit<MqttTopic, 'mqttConnection'>> = {},
): Promise<MqttTopic> {
  sequence += 1;
  const topic = em.create(MqttTopicSchema, {
    mqttConnection: connection,
    topicPattern: `test/${sequence}/#`,
    ...fields,
  });
  await em.flush();
  return topic;
}

/** Where a telemetry site's connection points and which topic prefix its gateways use. */
export interface TelemetrySiteOptions {
  brokerPort: number;
  clientIdPrefix: string;
  /** First topic level of the site's gateways (`<prefix>/gateway/<serial>/...`). */
  topicPrefix: string;
}

/** A site whose connection subscribes its gateways' telemetry at QoS 1, and nothing else. */
export async function createTelemetrySite(
  em: EntityManager,
  options: TelemetrySiteOptions,
): Promise<{ site: Site; connection: MqttConnection }> {
  const site = await createSite(em);
  const connection = await createConnection(em, site, {
    brokerPort: options.brokerPort,
    clientIdPrefix: options.clientIdPrefix,
    discoveryPattern: '',
  });
  await createTopic(em, connection, {
    topicPattern: `${options.topicPrefix}/gateway/+/dataloggers/telemetry`,
    parserName: 'telemetry',
    qosLevel: 1,
  });
  return { site, connection };
}
