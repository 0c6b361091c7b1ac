import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SiteSchema } from './site.entity.js';

/** The connection states the engine writes; parked connections are `error` with a reason. */
export const CONNECTION_STATUSES = ['disconnected', 'connecting', 'connected', 'error'] as const;

/** One of CONNECTION_STATUSES. */
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** A site's broker settings and the engine's view of the link's health (1:1 with Site). */
export const MqttConnectionSchema = defineEntity({
  name: 'MqttConnection',
  tableName: 'mqtt_connection',
  properties: {
    id: p.integer().primary().autoincrement(),
    site: p.oneToOne(SiteSchema).owner().unique().deleteRule('cascade'),
    brokerHost: p.string().length(255),
    brokerPort: p.integer().default(1883),
    useTls: p.boolean().default(false),
    caCert: p.text().nullable(),
    username: p.string().length(255).default(''),
    /** AES-256-GCM ciphertext (see CredentialCipher); the API never returns it. */
    passwordEncrypted: p.text().nullable(),
    clientIdPrefix: p.string().length(50),
    discoveryPattern: p.string().length(255).default('#'),
    isActive: p.boolean().default(true),
    status: p.enum([...CONNECTION_STATUSES]).default('disconnected'),
    mqttRetryCount: p.integer().default(0),
    mqttNextRetry: p.datetime().nullable(),
    lastConnectedAt: p.datetime().nullable(),
    lastHeartbeatAt: p.datetime().nullable(),
    lastError: p.text().nullable(),
    /** The INSTANCE_ID of the supervisor holding the connection's lease; null when none. */
    ownerInstance: p.string().length(100).nullable(),
    /**
     * Fencing token of that lease. Status writes carry their owner's token and are refused
     * once a newer owner has written a larger one, so a stale owner cannot overwrite them.
     */
    leaseToken: p.bigint().nullable(),
    createdAt: p
      .datetime()
      .onCreate(() => new Date())
      .defaultRaw('now()'),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date())
      .defaultRaw('now()'),
  },
});

/** An MqttConnection row. */
export type MqttConnection = InferEntity<typeof MqttConnectionSchema>;
