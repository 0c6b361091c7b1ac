import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { DeviceSchema } from './device.entity.js';

/** One measured quantity of a device; serial is `<device serial>-<sensor type>`. */
export const SensorSchema = defineEntity({
  name: 'Sensor',
  tableName: 'sensor',
  indexes: [{ properties: ['device'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    serialNumber: p.string().length(200).unique(),
    device: p.manyToOne(DeviceSchema).deleteRule('cascade'),
    sensorType: p.string().length(100),
    label: p.string().length(255).default(''),
    isOnline: p.boolean().default(true),
    lastReading: p.json<Record<string, unknown>>().nullable(),
    lastReadingAt: p.datetime().nullable(),
  },
});

/** A Sensor row. */
export type Sensor = InferEntity<typeof SensorSchema>;
