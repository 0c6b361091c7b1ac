import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SiteSchema } from './site.entity.js';

/** A field gateway, identified by its serial number, publishing for one site. */
export const GatewaySchema = defineEntity({
  name: 'Gateway',
  tableName: 'gateway',
  indexes: [{ properties: ['site'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    serialNumber: p.string().length(100).unique(),
    site: p.manyToOne(SiteSchema).deleteRule('cascade'),
    isOnline: p.boolean().default(false),
    /** Seconds between the gateway's messages (payload's message_interval_seconds). */
    expectedHeartbeatInterval: p.integer().default(60),
    lastSeenAt: p.datetime().nullable(),
    status: p.string().length(50).default(''),
    firmwareVersion: p.string().length(100).default(''),
    uptimeSeconds: p.bigint('number').nullable(),
    signalStrengthDbm: p.integer().nullable(),
    mqttApiVersion: p.string().length(20).default(''),
    lastStatusAt: p.datetime().nullable(),
    rawMetadata: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
});

/** A Gateway row. */
export type Gateway = InferEntity<typeof GatewaySchema>;
