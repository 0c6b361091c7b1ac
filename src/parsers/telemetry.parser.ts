import { z } from 'zod';
import type { PersistenceBatch } from '../ingest/persistence-batch.js';
import {
  SerialNumberSchema,
  TimestampSchema,
  isJsonObject,
  nonBlankString,
} from './field.schemas.js';
import { checkGatewaySerial } from './gateway-topic.js';
import type { ParseContext, Parser } from './parser.js';
import { normaliseReadingValue, type ReadingValueInput } from './reading-value.normaliser.js';
import { TELEMETRY_SAMPLES } from './samples/telemetry.samples.js';

/** The key the reference gateways use for a device's serial number, with spaces. */
export const DEVICE_SERIAL_KEY_SPACED = 'serial number device';

/** The alternative, snake_case key for a device's serial number. */
export const DEVICE_SERIAL_KEY = 'serial_number_device';

// Sensor serials are `<device serial>-<sensor type>` in a 200-character column: a device
// serial of up to 100 characters leaves 99 for the type.
const SENSOR_TYPE_MAX_LENGTH = 99;

/** The MQTT filter of telemetry topics: `<site>/gateway/<gateway serial>/dataloggers/telemetry`. */
export const TELEMETRY_TOPIC_FILTER = '+/gateway/+/dataloggers/telemetry';

// The column is a 4-byte integer.
const MAX_INTERVAL_SECONDS = 2_147_483_647;

/** A reading's value: a number, a list of numbers or an object, reporting each bad item. */
export const ReadingValueSchema = z.custom<ReadingValueInput>().superRefine((value, ctx) => {
  if (typeof value === 'number' || isJsonObject(value)) return;
  if (!Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected number, array or object' });
    return;
  }
  value.forEach((item, index) => {
    if (typeof item !== 'number') {
      ctx.addIssue({ code: 'custom', message: 'expected number', path: [index] });
    }
  });
});

/** One `data[]` item: a sensor type and its value. */
export const SensorDataSchema = z.object({
  type: nonBlankString(SENSOR_TYPE_MAX_LENGTH),
  value: ReadingValueSchema,
});

/** A device's `data[]`; a sensor type given twice would give one sensor two values. */
export const SensorDataListSchema = z
  .array(SensorDataSchema)
  .superRefine(reportDuplicateSensorTypes, { when: () => true });

/** One `devices[]` item; its serial comes under exactly one of the two accepted keys. */
export const DeviceDataSchema = z
  .object({
    type: nonBlankString(100),
    [DEVICE_SERIAL_KEY_SPACED]: SerialNumberSchema.optional(),
    [DEVICE_SERIAL_KEY]: SerialNumberSchema.optional(),
    data: SensorDataListSchema,
  })
  .superRefine(reportDeviceSerialKeys, { when: (payload) => isJsonObject(payload.value) });

/** One `dataloggers[]` item. */
export const DataloggerDataSchema = z.object({
  serial_number_datalogger: SerialNumberSchema,
  status_datalogger: z.string().max(50),
  devices: z.array(DeviceDataSchema),
});

/**
 * A telemetry message. Unknown header fields are kept (they end up in the gateway's
 * raw_metadata); unknown fields deeper down are dropped. Each datalogger and device serial
 * may appear once per message.
 */
export const TelemetryPayloadSchema = z
  .looseObject({
    serial_number_gateway: SerialNumberSchema,
    timestamp: TimestampSchema,
    message_interval_seconds: z.number().int().positive().max(MAX_INTERVAL_SECONDS).default(60),
    mqtt_api_version: nonBlankString(20).default('1.0.0'),
    dataloggers: z.array(DataloggerDataSchema),
  })
  .superRefine(reportDuplicateSerials, { when: (payload) => isJsonObject(payload.value) });

/** A validated telemetry message. */
export type TelemetryPayload = z.infer<typeof TelemetryPayloadSchema>;

/** A validated `devices[]` item. */
export type DeviceData = z.infer<typeof DeviceDataSchema>;

/**
 * The gateways' periodic telemetry: the gateway, its dataloggers, their devices and one
 * reading per sensor, all at the payload's timestamp.
 */
export const telemetryParser: Parser<TelemetryPayload> = {
  parserName: 'telemetry',
  topicFilter: TELEMETRY_TOPIC_FILTER,
  description:
    'Periodic telemetry of a gateway: its dataloggers, their devices and one reading per ' +
    'sensor at the message timestamp.',
  schema: TelemetryPayloadSchema,
  samples: TELEMETRY_SAMPLES,

  checkTopic(payload, topic) {
    return checkGatewaySerial(TELEMETRY_TOPIC_FILTER, topic, payload.serial_number_gateway);
  },

  process(payload, context, batch) {
    processTelemetry(payload, context, batch);
  },
};

/** The serial number of a validated device, whichever key it came under. */
export function deviceSerialNumber(device: DeviceData): string {
  // The schema guarantees exactly one of the two keys.
  return device[DEVICE_SERIAL_KEY_SPACED] ?? device[DEVICE_SERIAL_KEY] ?? '';
}

function processTelemetry(
  payload: TelemetryPayload,
  _context: ParseContext,
  batch: PersistenceBatch,
): void {
  // Readings and last-seen times use the gateway's clock: a message replayed or delayed in
  // a queue still lands at the time it describes.
  const seenAt = new Date(payload.timestamp);
  const { dataloggers, ...header } = payload;
  batch.upsertGateway({
    serialNumber: payload.serial_number_gateway,
    seenAt,
    isOnline: true,
    expectedHeartbeatInterval: payload.message_interval_seconds,
    mqttApiVersion: payload.mqtt_api_version,
    rawMetadata: header,
  });

  for (const datalogger of dataloggers) {
    batch.upsertDatalogger({
      serialNumber: datalogger.serial_number_datalogger,
      gatewaySerialNumber: payload.serial_number_gateway,
      status: datalogger.status_datalogger,
      seenAt,
    });
    for (const device of datalogger.devices) {
      processDevice(device, datalogger.serial_number_datalogger, seenAt, batch);
    }
  }
}

function processDevice(
  device: DeviceData,
  dataloggerSerialNumber: string,
  seenAt: Date,
  batch: PersistenceBatch,
): void {
  const serialNumber = deviceSerialNumber(device);
  batch.upsertDevice({ serialNumber, dataloggerSerialNumber, deviceType: device.type, seenAt });

  for (const item of device.data) {
    const sensorSerialNumber = `${serialNumber}-${item.type}`;
    batch.upsertSensor({
      serialNumber: sensorSerialNumber,
      deviceSerialNumber: serialNumber,
      sensorType: item.type,
    });
    batch.addReading({
      sensorSerialNumber,
      ts: seenAt,
      value: normaliseReadingValue(item.type, item.value),
    });
  }
}

function reportDuplicateSensorTypes(items: unknown[], ctx: z.RefinementCtx<unknown[]>): void {
  if (!Array.isArray(items)) return;

  const firstIndex = new Map<string, number>();
  items.forEach((item, index) => {
    const type = isJsonObject(item) ? item.type : undefined;
    if (typeof type !== 'string') return;

    const first = firstIndex.get(type);
    if (first === undefined) firstIndex.set(type, index);
    else ctx.addIssue(duplicateIssue('sensor type', type, first, [index, 'type']));
  });
}

function reportDeviceSerialKeys(device: unknown, ctx: z.RefinementCtx<unknown>): void {
  if (!isJsonObject(device)) return;

  const spaced = device[DEVICE_SERIAL_KEY_SPACED] !== undefined;
  const snake = device[DEVICE_SERIAL_KEY] !== undefined;
  if (spaced && snake) {
    const message = `give only one of "${DEVICE_SERIAL_KEY_SPACED}" and "${DEVICE_SERIAL_KEY}"`;
    ctx.addIssue({ code: 'custom', message, path: [DEVICE_SERIAL_KEY] });
  }
  if (!spaced && !snake) {
    const message = `required (or "${DEVICE_SERIAL_KEY}")`;
    ctx.addIssue({ code: 'custom', message, path: [DEVICE_SERIAL_KEY_SPACED] });
  }
}

/** Reports datalogger and device serials given twice in one message, wherever they appear. */
function reportDuplicateSerials(payload: unknown, ctx: z.RefinementCtx<unknown>): void {
  const dataloggers = isJsonObject(payload) ? payload.dataloggers : undefined;
  if (!Array.isArray(dataloggers)) return;

  const dataloggerSeen = new Map<string, string>();
  const deviceSeen = new Map<string, string>();
  dataloggers.forEach((datalogger, index) => {
    if (!isJsonObject(datalogger)) return;

    const path = ['dataloggers', index];
    const serialPath = [...path, 'serial_number_datalogger'];
    noteSerial(datalogger.serial_number_datalogger, serialPath, dataloggerSeen, 'datalogger', ctx);
    if (!Array.isArray(datalogger.devices)) return;

    datalogger.devices.forEach((device, deviceIndex) => {
      if (!isJsonObject(device)) return;
      const key = device[DEVICE_SERIAL_KEY_SPACED] ? DEVICE_SERIAL_KEY_SPACED : DEVICE_SERIAL_KEY;
      const devicePath = [...path, 'devices', deviceIndex, key];
      noteSerial(device[key], devicePath, deviceSeen, 'device', ctx);
    });
  });
}

function noteSerial(
  serial: unknown,
  path: (string | number)[],
  seen: Map<string, string>,
  what: string,
  ctx: z.RefinementCtx<unknown>,
): void {
  if (typeof serial !== 'string') return;

  const first = seen.get(serial);
  if (first === undefined) seen.set(serial, path.join('.'));
  else ctx.addIssue(duplicateIssue(`${what} serial number`, serial, first, path));
}

function duplicateIssue(
  what: string,
  value: string,
  first: string | number,
  path: (string | number)[],
): { code: 'custom'; message: string; path: (string | number)[] } {
  const where = typeof first === 'number' ? `item ${first}` : first;
  return { code: 'custom', message: `${what} "${value}" already given at ${where}`, path };
}
