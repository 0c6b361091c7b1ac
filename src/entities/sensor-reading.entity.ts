import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SensorSchema } from './sensor.entity.js';

/**
 * One reading of one sensor at the payload's timestamp.
 *
 * Layout for hundreds of millions of rows: the primary key is (sensor_id, ts) and there is no
 * surrogate id. That one B-tree is at once the duplicate guard (a message delivered twice
 * stores one reading) and the index every query uses ("sensor S between T1 and T2, newest
 * first" is a single range scan), so each insert maintains one index instead of two. We chose
 * this over declarative partitioning because partitioned tables need the partition key in
 * every unique key and give no speed-up to per-sensor range scans; time partitioning earns
 * its keep for retention (dropping old partitions), which can be added by a migration once a
 * retention policy for readings exists.
 *
 * There is no foreign key to the sensor: checking it cost a third of each insert. Triggers
 * and a lock give the same guarantees instead (see the migration readings_guarded_by_lock):
 * deleting a sensor deletes its readings, and no reading is stored for a deleted sensor.
 */
export const SensorReadingSchema = defineEntity({
  name: 'SensorReading',
  tableName: 'sensor_reading',
  properties: {
    sensor: p.manyToOne(SensorSchema).primary().createForeignKeyConstraint(false),
    ts: p.datetime().primary(),
    value: p.json<Record<string, unknown>>(),
    receivedAt: p.datetime().defaultRaw('now()'),
  },
  primaryKeys: ['sensor', 'ts'],
});

/** A SensorReading row. */
export type SensorReading = InferEntity<typeof SensorReadingSchema>;
