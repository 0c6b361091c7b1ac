import type { SensorRecord } from './persistence-batch.js';
import type { IngestBatch, ReadingRow } from './record-collector.js';
import type { SqlRunner } from './sql-runner.js';

/** A gateway whose online flag changed in a write. */
export interface GatewayTransition {
  serialNumber: string;
  siteId: number;
  isOnline: boolean;
}

/** What writing a batch changed. */
export interface TelemetryWriteResult {
  /** Readings inserted; a reading already stored (same sensor and timestamp) is not counted. */
  readingsInserted: number;
  gatewayTransitions: GatewayTransition[];
}

// Every statement reads its rows from one JSON parameter through jsonb_to_recordset: one
// round trip per table whatever the batch size, with typed columns and no array-binding
// quirks. Rows are sorted by key (the batch sorts them, `order by` keeps it) so concurrent
// jobs take row locks in the same order and cannot deadlock each other.

const INSERT_MISSING_GATEWAYS = `
insert into gateway (serial_number, site_id)
select r.serial_number, r.site_id
from jsonb_to_recordset(?::jsonb) as r(serial_number text, site_id int)
order by r.serial_number
on conflict (serial_number) do nothing`;

const LOCK_GATEWAYS = `
select g.id from gateway g
where g.serial_number in (
  select r.serial_number from jsonb_to_recordset(?::jsonb) as r(serial_number text))
order by g.serial_number
for update`;

// Two steps (insert the missing, then update) because a field a message leaves out must keep
// its stored value, and an upsert's `excluded` row cannot say "not given" for NOT NULL columns.
// The self-join on `old` reads the row as it was before this statement, for online/offline.
const UPDATE_GATEWAYS = `
update gateway g set
  site_id = r.site_id,
  is_online = case when r.seen_at >= coalesce(g.last_seen_at, '-infinity')
    then r.is_online else g.is_online end,
  last_seen_at = greatest(g.last_seen_at, r.seen_at),
  expected_heartbeat_interval = coalesce(r.expected_heartbeat_interval,
    g.expected_heartbeat_interval),
  status = coalesce(left(r.status, 50), g.status),
  firmware_version = coalesce(left(r.firmware_version, 100), g.firmware_version),
  uptime_seconds = coalesce(r.uptime_seconds, g.uptime_seconds),
  signal_strength_dbm = coalesce(r.signal_strength_dbm, g.signal_strength_dbm),
  mqtt_api_version = coalesce(left(r.mqtt_api_version, 20), g.mqtt_api_version),
  last_status_at = greatest(g.last_status_at, r.status_at),
  raw_metadata = coalesce(r.raw_metadata, g.raw_metadata)
from jsonb_to_recordset(?::jsonb) as r(serial_number text, site_id int, is_online boolean,
    seen_at timestamptz, expected_heartbeat_interval int, status text, firmware_version text,
    uptime_seconds bigint, signal_strength_dbm int, mqtt_api_version text,
    status_at timestamptz, raw_metadata jsonb),
  gateway old
where g.serial_number = r.serial_number and old.id = g.id
returning g.serial_number, g.site_id, g.is_online, old.is_online as was_online`;

const UPSERT_DATALOGGERS = `
insert into datalogger as d (serial_number, gateway_id, site_id, status, is_online, last_seen_at)
select r.serial_number, g.id, r.site_id, left(coalesce(r.status, ''), 50), true, r.seen_at
from jsonb_to_recordset(?::jsonb) as r(serial_number text, gateway_serial_number text,
    site_id int, status text, seen_at timestamptz)
join gateway g on g.serial_number = r.gateway_serial_number
order by r.serial_number
on conflict (serial_number) do update set
  gateway_id = excluded.gateway_id,
  site_id = excluded.site_id,
  status = case when excluded.last_seen_at >= coalesce(d.last_seen_at, '-infinity')
    then excluded.status else d.status end,
  is_online = true,
  last_seen_at = greatest(d.last_seen_at, excluded.last_seen_at)`;

const UPSERT_DEVICES = `
insert into device as v (serial_number, datalogger_id, device_type, device_type_normalized,
  last_seen_at)
select r.serial_number, d.id, left(r.device_type, 100), left(lower(trim(r.device_type)), 100),
  r.seen_at
from jsonb_to_recordset(?::jsonb) as r(serial_number text, datalogger_serial_number text,
    device_type text, seen_at timestamptz)
join datalogger d on d.serial_number = r.datalogger_serial_number
order by r.serial_number
on conflict (serial_number) do update set
  datalogger_id = excluded.datalogger_id,
  device_type = excluded.device_type,
  device_type_normalized = excluded.device_type_normalized,
  last_seen_at = greatest(v.last_seen_at, excluded.last_seen_at)`;

// The sensor's last reading is written by the same upsert, from the batch's newest reading
// of that sensor: one write per sensor row per batch instead of two. Measured on two cores,
// the separate last-reading UPDATE cost more PostgreSQL time than inserting the readings.
// Only a newer reading replaces the last one: batches may commit out of order.
const UPSERT_SENSORS = `
insert into sensor as s (serial_number, device_id, sensor_type, label, last_reading,
  last_reading_at)
select r.serial_number, v.id, left(r.sensor_type, 100), left(coalesce(r.label, ''), 255),
  r.last_value, r.last_ts
from jsonb_to_recordset(?::jsonb) as r(serial_number text, device_serial_number text,
    sensor_type text, label text, last_value jsonb, last_ts timestamptz)
join device v on v.serial_number = r.device_serial_number
order by r.serial_number
on conflict (serial_number) do update set
  device_id = excluded.device_id,
  sensor_type = excluded.sensor_type,
  label = case when excluded.label <> '' then excluded.label else s.label end,
  is_online = true,
  last_reading = case when excluded.last_reading_at > coalesce(s.last_reading_at, '-infinity')
    then excluded.last_reading else s.last_reading end,
  last_reading_at = greatest(s.last_reading_at, excluded.last_reading_at)`;

// Counted in the database: returning a row per reading only to count them costs the
// worker a parsed row each.
const INSERT_READINGS = `
with inserted as (
  insert into sensor_reading (sensor_id, ts, value, received_at)
  select s.id, r.ts, r.value, r.received_at
  from jsonb_to_recordset(?::jsonb) as r(sensor_serial_number text, ts timestamptz,
      value jsonb, received_at timestamptz)
  join sensor s on s.serial_number = r.sensor_serial_number
  order by s.id, r.ts
  on conflict (sensor_id, ts) do nothing
  returning 1
)
select count(*)::int as inserted from inserted`;

// The `where` leaves rows that are already right untouched, so steady traffic does not
// contend with the catalogue's own upserts on the same rows.
const MARK_TOPICS_PROCESSABLE = `
insert into discovered_topic as t (site_id, topic_path, first_seen_at, last_seen_at,
  message_count, is_processable, parser_name)
select r.site_id, left(r.topic_path, 500), now(), now(), 0, true, left(r.parser_name, 100)
from jsonb_to_recordset(?::jsonb) as r(site_id int, topic_path text, parser_name text)
order by r.site_id, r.topic_path
on conflict (site_id, topic_path) do update set
  is_processable = true,
  parser_name = excluded.parser_name
where t.is_processable is distinct from true or t.parser_name <> excluded.parser_name`;

/** Writes a batch's telemetry tree, readings and processable topics; call in a transaction. */
export async function writeTelemetry(
  run: SqlRunner,
  batch: IngestBatch,
): Promise<TelemetryWriteResult> {
  const gatewayTransitions = await writeGateways(run, batch);

  if (batch.dataloggers.length) await run(UPSERT_DATALOGGERS, [json(batch.dataloggers)]);
  if (batch.devices.length) await run(UPSERT_DEVICES, [json(batch.devices)]);
  if (batch.sensors.length) {
    await run(UPSERT_SENSORS, [json(withLastReadings(batch.sensors, batch.readings))]);
  }

  let readingsInserted = 0;
  if (batch.readings.length) {
    const [counted] = await run(INSERT_READINGS, [json(batch.readings)]);
    readingsInserted = Number(counted?.inserted ?? 0);
  }

  if (batch.topics.length) await run(MARK_TOPICS_PROCESSABLE, [json(batch.topics)]);
  return { readingsInserted, gatewayTransitions };
}

async function writeGateways(run: SqlRunner, batch: IngestBatch): Promise<GatewayTransition[]> {
  const gateways = batch.gateways;
  if (!gateways.length) return [];

  const rows = json(gateways);
  await run(INSERT_MISSING_GATEWAYS, [rows]);
  await run(LOCK_GATEWAYS, [rows]);
  const updated = await run(UPDATE_GATEWAYS, [rows]);
  return updated
    .filter((row) => row.is_online !== row.was_online)
    .map((row) => ({
      serialNumber: String(row.serial_number),
      siteId: Number(row.site_id),
      isOnline: row.is_online === true,
    }));
}

/** Each sensor row with its newest reading of the batch (none: the stored one stays). */
function withLastReadings(sensors: SensorRecord[], readings: ReadingRow[]): object[] {
  const newest = new Map<string, ReadingRow>();
  for (const reading of readings) {
    const known = newest.get(reading.sensorSerialNumber);
    if (!known || known.ts < reading.ts) newest.set(reading.sensorSerialNumber, reading);
  }
  return sensors.map((sensor) => {
    const last = newest.get(sensor.serialNumber);
    return last ? { ...sensor, lastValue: last.value, lastTs: last.ts } : sensor;
  });
}

/** Rows as the JSON parameter of jsonb_to_recordset: snake_case keys, ISO dates. */
function json(rows: object[]): string {
  return JSON.stringify(rows.map(toSnakeCase));
}

// Every row of a table has the same few keys: converting each key once, not once per row,
// took this function from the top of the worker's profile.
const snakeKeys = new Map<string, string>();

function toSnakeCase(row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in row) {
    let snake = snakeKeys.get(key);
    if (snake === undefined) {
      snake = key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
      snakeKeys.set(key, snake);
    }
    out[snake] = (row as Record<string, unknown>)[key];
  }
  return out;
}
