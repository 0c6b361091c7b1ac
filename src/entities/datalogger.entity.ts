import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { GatewaySchema } from './gateway.entity.js';
import { SiteSchema } from './site.entity.js';

/** A datalogger behind a gateway (the payload's `dataloggers[]` level). */
export const DataloggerSchema = defineEntity({
  name: 'Datalogger',
  tableName: 'datalogger',
  indexes: [{ properties: ['gateway'] }, { properties: ['site'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    serialNumber: p.string().length(100).unique(),
    gateway: p.manyToOne(GatewaySchema).deleteRule('cascade'),
    site: p.manyToOne(SiteSchema).deleteRule('cascade'),
    status: p.string().length(50).default(''),
    isOnline: p.boolean().default(true),
    lastSeenAt: p.datetime().nullable(),
  },
});

/** A Datalogger row. */
export type Datalogger = InferEntity<typeof DataloggerSchema>;
