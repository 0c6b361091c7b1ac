import { z } from 'zod';
import type { GatewayRecord } from '../ingest/persistence-batch.js';
import { SerialNumberSchema, TimestampSchema, nonBlankString } from './field.schemas.js';
import { checkGatewaySerial } from './gateway-topic.js';
import type { ParseContext, Parser } from './parser.js';
import { GATEWAY_STATUS_SAMPLES } from './samples/gateway-status.samples.js';

/** The MQTT filter of gateway status topics: `<site>/gateway/<gateway serial>/status`. */
export const GATEWAY_STATUS_TOPIC_FILTER = '+/gateway/+/status';

/** The status a gateway's last will publishes when it drops off the broker. */
export const OFFLINE_STATUS = 'offline';

/**
 * A gateway status message, or the gateway's retained last will, which may carry nothing but
 * the serial and `"status": "offline"`. Unknown fields are dropped.
 */
export const GatewayStatusPayloadSchema = z.object({
  serial_number_gateway: SerialNumberSchema,
  status: nonBlankString(50),
  timestamp: TimestampSchema.optional(),
  firmware_version: z.string().max(100).optional(),
  uptime_seconds: z.number().int().nonnegative().optional(),
  signal_strength_dbm: z.number().int().optional(),
});

/** A validated gateway status message. */
export type GatewayStatusPayload = z.infer<typeof GatewayStatusPayloadSchema>;

/**
 * Gateway status and last will: online state, firmware, uptime and signal strength. Any
 * status but `offline` (compared trimmed, in any case) counts as online.
 */
export const gatewayStatusParser: Parser<GatewayStatusPayload> = {
  parserName: 'gateway_status',
  topicFilter: GATEWAY_STATUS_TOPIC_FILTER,
  description:
    "A gateway's status (firmware, uptime, signal strength), including its retained " +
    'last-will message that marks it offline.',
  schema: GatewayStatusPayloadSchema,
  samples: GATEWAY_STATUS_SAMPLES,

  checkTopic(payload, topic) {
    return checkGatewaySerial(GATEWAY_STATUS_TOPIC_FILTER, topic, payload.serial_number_gateway);
  },

  process(payload, context, batch) {
    batch.upsertGateway(gatewayStatusRecord(payload, context));
  },
};

/**
 * The gateway record of a status message. A last will is written by the broker, not the
 * gateway, and usually has no timestamp: then the time the engine received it stands in for
 * both the status time and the last-seen time.
 */
export function gatewayStatusRecord(
  payload: GatewayStatusPayload,
  context: ParseContext,
): GatewayRecord {
  const at = payload.timestamp === undefined ? context.receivedAt : new Date(payload.timestamp);
  const record: GatewayRecord = {
    serialNumber: payload.serial_number_gateway,
    seenAt: at,
    statusAt: at,
    isOnline: payload.status.trim().toLowerCase() !== OFFLINE_STATUS,
    status: payload.status,
  };

  // Absent fields stay absent so the stored values are kept (exactOptionalPropertyTypes).
  if (payload.firmware_version !== undefined) record.firmwareVersion = payload.firmware_version;
  if (payload.uptime_seconds !== undefined) record.uptimeSeconds = payload.uptime_seconds;
  if (payload.signal_strength_dbm !== undefined) {
    record.signalStrengthDbm = payload.signal_strength_dbm;
  }
  return record;
}
