import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SiteSchema } from './site.entity.js';

/** Why a message was quarantined. */
export const PARSING_ERROR_TYPES = [
  'VALIDATION_ERROR',
  'PARSE_ERROR',
  'DB_ERROR',
  'UNKNOWN_ERROR',
] as const;

/** One of PARSING_ERROR_TYPES. */
export type ParsingErrorType = (typeof PARSING_ERROR_TYPES)[number];

/** Bytes of the raw payload kept for replay; a larger payload is cut and marked truncated. */
export const RAW_PAYLOAD_LIMIT = 256 * 1024;

/** Characters of the human-readable payload sample. */
export const PAYLOAD_SAMPLE_LIMIT = 2_000;

/** A quarantined message: why it failed, and what a replay needs to run it again. */
export const MqttParsingLogSchema = defineEntity({
  name: 'MqttParsingLog',
  tableName: 'mqtt_parsing_log',
  indexes: [
    { name: 'mqtt_parsing_log_site_timestamp_index', expression: newestFirst('site') },
    { name: 'mqtt_parsing_log_error_type_timestamp_index', expression: newestFirst('error_type') },
    { properties: ['topic'] },
  ],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    site: p.manyToOne(SiteSchema).deleteRule('cascade'),
    timestamp: p.datetime().defaultRaw('now()'),
    topic: p.string().length(500),
    parserName: p.string().length(100).default(''),
    errorType: p.enum([...PARSING_ERROR_TYPES]),
    errorMessage: p.text(),
    exceptionType: p.string().length(255).default(''),
    exceptionTraceback: p.text().default(''),
    payloadSample: p.text().default(''),
    rawPayload: p.blob().nullable(),
    rawPayloadTruncated: p.boolean().default(false),
    qos: p.smallint().default(0),
    receivedAt: p.datetime().nullable(),
    replayedAt: p.datetime().nullable(),
    replayOutcome: p.text().nullable(),
  },
});

function newestFirst(property: 'site' | 'error_type'): string {
  const column = property === 'site' ? 'site_id' : property;
  const name = `mqtt_parsing_log_${property}_timestamp_index`;
  return `create index "${name}" on "mqtt_parsing_log" ("${column}", "timestamp" desc)`;
}

/** An MqttParsingLog row. */
export type MqttParsingLog = InferEntity<typeof MqttParsingLogSchema>;
