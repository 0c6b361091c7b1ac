import { z } from 'zod';
import {
  DataloggerSchema,
  DeviceSchema,
  GatewaySchema,
  SensorSchema,
  type Datalogger,
  type Device,
  type Gateway,
  type Sensor,
} from '../../entities/index.js';
import { AppError } from '../../errors.js';
import type { ApiContext, ZodApp } from '../api-context.js';
import {
  ErrorBodySchema,
  IdSchema,
  IsoSchema,
  PROTECTED_ERRORS,
  PageQuerySchema,
  QueryBooleanSchema,
  TimestampSchema,
  iso,
  isoRequired,
  pageOf,
} from '../common.schemas.js';
import { findSiteOrFail } from './sites.routes.js';

const GatewayBodySchema = z.object({
  id: z.number().int(),
  serial_number: z.string(),
  site_id: z.number().int(),
  is_online: z.boolean(),
  expected_heartbeat_interval: z.number().int().describe('seconds'),
  last_seen_at: IsoSchema.nullable(),
  status: z.string(),
  firmware_version: z.string(),
  uptime_seconds: z.number().nullable(),
  signal_strength_dbm: z.number().int().nullable(),
  mqtt_api_version: z.string(),
  last_status_at: IsoSchema.nullable(),
  raw_metadata: z.record(z.string(), z.unknown()).nullable(),
  created_at: IsoSchema,
});

const SensorBodySchema = z.object({
  id: z.number().int(),
  serial_number: z.string(),
  sensor_type: z.string(),
  label: z.string(),
  is_online: z.boolean(),
  last_reading: z.record(z.string(), z.unknown()).nullable(),
  last_reading_at: IsoSchema.nullable(),
});

const DeviceBodySchema = z.object({
  id: z.number().int(),
  serial_number: z.string(),
  device_type: z.string(),
  device_type_normalized: z.string(),
  last_seen_at: IsoSchema.nullable(),
  sensors: z.array(SensorBodySchema),
});

const DataloggerBodySchema = z.object({
  id: z.number().int(),
  serial_number: z.string(),
  status: z.string(),
  is_online: z.boolean(),
  last_seen_at: IsoSchema.nullable(),
  devices: z.array(DeviceBodySchema),
});

const GatewayTreeSchema = GatewayBodySchema.extend({ dataloggers: z.array(DataloggerBodySchema) });

const ReadingsQuerySchema = z.strictObject({
  from: TimestampSchema.optional().describe('inclusive'),
  to: TimestampSchema.optional().describe('exclusive; pass `next_to` for the next page'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

const ReadingsBodySchema = z.object({
  sensor_id: z.number().int(),
  items: z.array(
    z.object({ ts: IsoSchema, value: z.record(z.string(), z.unknown()), received_at: IsoSchema }),
  ),
  next_to: IsoSchema.nullable().describe('`to` for the next (older) page; null on the last'),
});

interface ReadingRow {
  ts: Date | string;
  value: Record<string, unknown> | string;
  received_at: Date | string;
}

/** Gateways of a site, one gateway's tree, and a sensor's readings by time range. */
export function registerTelemetryRoutes(app: ZodApp, ctx: ApiContext): void {
  listGateways(app, ctx);
  readGatewayTree(app, ctx);
  listReadings(app, ctx);
}

/** GET /api/sites/:siteId/gateways. */
function listGateways(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sites/:siteId/gateways',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: "The site's gateways, by serial number",
        params: z.strictObject({ siteId: IdSchema }),
        querystring: PageQuerySchema.extend({ is_online: QueryBooleanSchema.optional() }),
        response: { 200: pageOf(GatewayBodySchema), 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request) => {
      const site = await findSiteOrFail(ctx, request.params.siteId);
      const { limit, offset, is_online } = request.query;
      const where = { site: site.id, ...(is_online === undefined ? {} : { isOnline: is_online }) };
      const [rows, total] = await ctx.orm.em
        .fork()
        .findAndCount(GatewaySchema, where, { orderBy: { serialNumber: 'asc' }, limit, offset });
      return { items: rows.map(gatewayBody), total, limit, offset };
    },
  );
}

/** GET /api/gateways/:serial. */
function readGatewayTree(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/gateways/:serial',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'A gateway with its dataloggers, devices and sensors',
        params: z.strictObject({ serial: z.string().min(1).max(100) }),
        response: { 200: GatewayTreeSchema, 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request) => gatewayTree(ctx, request.params.serial),
  );
}

/** GET /api/sensors/:sensorId/readings. */
function listReadings(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sensors/:sensorId/readings',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: "A sensor's readings in a time range, newest first",
        params: z.strictObject({ sensorId: IdSchema }),
        querystring: ReadingsQuerySchema,
        response: { 200: ReadingsBodySchema, 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request) => {
      const { sensorId } = request.params;
      const sensor = await ctx.orm.em.fork().findOne(SensorSchema, { id: sensorId });
      if (!sensor) throw new AppError('NOT_FOUND', 'Sensor not found');
      const { from, to, limit } = request.query;
      const rows = await readReadings(ctx, sensorId, from, to, limit);
      const items = rows.map((row) => ({
        ts: new Date(row.ts).toISOString(),
        value:
          typeof row.value === 'string'
            ? (JSON.parse(row.value) as Record<string, unknown>)
            : row.value,
        received_at: new Date(row.received_at).toISOString(),
      }));
      const last = items[items.length - 1];
      return {
        sensor_id: sensorId,
        items,
        next_to: items.length === limit && last ? last.ts : null,
      };
    },
  );
}
/**
 * One range scan of the (sensor_id, ts) primary key, walked backwards: `to` is exclusive so
 * the last row's ts is the next page's `to` (keyset pagination, no OFFSET over millions).
 */
async function readReadings(
  ctx: ApiContext,
  sensorId: number,
  from: Date | undefined,
  to: Date | undefined,
  limit: number,
): Promise<ReadingRow[]> {
  const conditions = ['sensor_id = ?'];
  const params: unknown[] = [sensorId];
  if (from) {
    conditions.push('ts >= ?');
    params.push(from);
  }
  if (to) {
    conditions.push('ts < ?');
    params.push(to);
  }
  params.push(limit);
  const sql =
    `select ts, value, received_at from sensor_reading where ${conditions.join(' and ')} ` +
    'order by ts desc limit ?';
  return ctx.orm.em.getConnection().execute<ReadingRow[]>(sql, params);
}

async function gatewayTree(ctx: ApiContext, serial: string) {
  const em = ctx.orm.em.fork();
  const gateway = await em.findOne(GatewaySchema, { serialNumber: serial });
  if (!gateway) throw new AppError('NOT_FOUND', 'Gateway not found');

  const dataloggers = await em.find(
    DataloggerSchema,
    { gateway: gateway.id },
    { orderBy: { serialNumber: 'asc' } },
  );
  const devices = await em.find(
    DeviceSchema,
    { datalogger: { $in: dataloggers.map((row) => row.id) } },
    { orderBy: { serialNumber: 'asc' } },
  );
  const sensors = await em.find(
    SensorSchema,
    { device: { $in: devices.map((row) => row.id) } },
    { orderBy: { serialNumber: 'asc' } },
  );
  return {
    ...gatewayBody(gateway),
    dataloggers: dataloggers.map((row) => dataloggerBody(row, devices, sensors)),
  };
}

function gatewayBody(row: Gateway): z.infer<typeof GatewayBodySchema> {
  return {
    id: row.id,
    serial_number: row.serialNumber,
    site_id: row.site.id,
    is_online: row.isOnline,
    expected_heartbeat_interval: row.expectedHeartbeatInterval,
    last_seen_at: iso(row.lastSeenAt),
    status: row.status,
    firmware_version: row.firmwareVersion,
    uptime_seconds: row.uptimeSeconds ?? null,
    signal_strength_dbm: row.signalStrengthDbm ?? null,
    mqtt_api_version: row.mqttApiVersion,
    last_status_at: iso(row.lastStatusAt),
    raw_metadata: row.rawMetadata ?? null,
    created_at: isoRequired(row.createdAt),
  };
}

function dataloggerBody(row: Datalogger, devices: Device[], sensors: Sensor[]) {
  return {
    id: row.id,
    serial_number: row.serialNumber,
    status: row.status,
    is_online: row.isOnline,
    last_seen_at: iso(row.lastSeenAt),
    devices: devices
      .filter((device) => device.datalogger.id === row.id)
      .map((device) => deviceBody(device, sensors)),
  };
}

function deviceBody(row: Device, sensors: Sensor[]) {
  return {
    id: row.id,
    serial_number: row.serialNumber,
    device_type: row.deviceType,
    device_type_normalized: row.deviceTypeNormalized,
    last_seen_at: iso(row.lastSeenAt),
    sensors: sensors.filter((sensor) => sensor.device.id === row.id).map(sensorBody),
  };
}

function sensorBody(row: Sensor): z.infer<typeof SensorBodySchema> {
  return {
    id: row.id,
    serial_number: row.serialNumber,
    sensor_type: row.sensorType,
    label: row.label,
    is_online: row.isOnline,
    last_reading: row.lastReading ?? null,
    last_reading_at: iso(row.lastReadingAt),
  };
}
