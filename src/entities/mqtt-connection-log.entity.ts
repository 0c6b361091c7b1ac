import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { MqttConnectionSchema } from './mqtt-connection.entity.js';

/** Log levels of the DB logs, as the reference design names them. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;

/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A connection's lifecycle events and errors, kept in the database for operators. */
export const MqttConnectionLogSchema = defineEntity({
  name: 'MqttConnectionLog',
  tableName: 'mqtt_connection_log',
  // Newest-first listings per connection and per level; expression indexes because the ORM's
  // index options cannot say "descending".
  indexes: [
    {
      name: 'mqtt_connection_log_connection_timestamp_index',
      expression: newestFirst('connection'),
    },
    { name: 'mqtt_connection_log_level_timestamp_index', expression: newestFirst('level') },
  ],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    connection: p.manyToOne(MqttConnectionSchema).deleteRule('cascade'),
    timestamp: p.datetime().defaultRaw('now()'),
    level: p.enum([...LOG_LEVELS]),
    message: p.text(),
    exceptionType: p.string().length(255).default(''),
    exceptionTraceback: p.text().default(''),
    brokerHost: p.string().length(255).default(''),
    retryAttempt: p.integer().nullable(),
  },
});

function newestFirst(property: 'connection' | 'level'): string {
  const column = property === 'connection' ? 'connection_id' : property;
  const name = `mqtt_connection_log_${property}_timestamp_index`;
  return `create index "${name}" on "mqtt_connection_log" ("${column}", "timestamp" desc)`;
}

/** An MqttConnectionLog row. */
export type MqttConnectionLog = InferEntity<typeof MqttConnectionLogSchema>;
