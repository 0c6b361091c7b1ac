import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { DataloggerSchema } from './datalogger.entity.js';

/** A device on a datalogger (the payload's `devices[]` level). */
export const DeviceSchema = defineEntity({
  name: 'Device',
  tableName: 'device',
  indexes: [{ properties: ['datalogger'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    serialNumber: p.string().length(100).unique(),
    datalogger: p.manyToOne(DataloggerSchema).deleteRule('cascade'),
    /** The payload's `type`, exactly as sent. */
    deviceType: p.string().length(100),
    /** deviceType trimmed and lower-cased, for grouping. */
    deviceTypeNormalized: p.string().length(100),
    lastSeenAt: p.datetime().nullable(),
  },
});

/** A Device row. */
export type Device = InferEntity<typeof DeviceSchema>;
