import type { ReadingRecord, SensorRecord } from './persistence-batch.js';
import {
  mergeGateway,
  type GatewayRow,
  type IngestBatch,
  type ReadingGroup,
} from './record-collector.js';
import type { SqlRunner } from './sql-runner.js';
import {
  DATALOGGER_IDENTITY,
  DEVICE_IDENTITY,
  GATEWAY_IDENTITY,
  identityOf,
  keepNewest,
  SENSOR_IDENTITY,
  StaleCacheError,
  type CachedTable,
  type CacheSession,
  type IdentityKeys,
  type PendingWrites,
} from './telemetry.cache.js';

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

// The tree's statements read their rows from one JSON parameter through jsonb_to_recordset:
// one round trip per table whatever the batch size, with typed columns. Each sorts its rows
// by key (`order by`) so concurrent jobs take row locks in the same order and cannot
// deadlock each other.

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
for no key update`;

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
returning g.id, g.serial_number, g.site_id, g.is_online, old.is_online as was_online`;

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
  last_seen_at = greatest(d.last_seen_at, excluded.last_seen_at)
returning d.id, d.serial_number`;

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
  last_seen_at = greatest(v.last_seen_at, excluded.last_seen_at)
returning v.id, v.serial_number`;

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
  last_reading_at = greatest(s.last_reading_at, excluded.last_reading_at)
returning s.id, s.serial_number`;

// Readings travel as three array literals (sensor ids, epoch milliseconds of the reading and
// of its message's arrival) and one JSON array of values, zipped by position. Measured on two
// cores against one JSON document per row through jsonb_to_recordset: PostgreSQL spends about
// a quarter less per row, and the worker builds the parameters six times faster (no ISO date
// strings, no object per row). Counted in the database: returning a row per reading only to
// count them would cost the worker a parsed row each.
const INSERT_READINGS = `
with inserted as (
  insert into sensor_reading (sensor_id, ts, value, received_at)
  select r.sensor_id, to_timestamp(r.ts_ms / 1000.0), v.value,
    to_timestamp(r.received_ms / 1000.0)
  from unnest(?::int[], ?::float8[], ?::float8[])
      with ordinality as r(sensor_id, ts_ms, received_ms, n)
    join jsonb_array_elements(?::jsonb) with ordinality as v(value, n) on v.n = r.n
  order by r.sensor_id, r.ts_ms, r.n
  on conflict (sensor_id, ts) do nothing
  returning 1
)
select count(*)::int as inserted from inserted`;

// Owed last-seen writes of rows whose upsert was skipped, by id: ids and epoch milliseconds
// as array literals, sensors' values as one JSON array zipped by position. `greatest` and the
// newer-only condition keep a late flush from moving a value backwards. Row locks are taken
// in no set order: batches lock these rows only while upserting rows they did not know, so
// a flush and a batch rarely meet, and PostgreSQL ends a deadlock by cancelling one of them
// (a cancelled flush stays owed, a cancelled batch is retried by the queue).
const FLUSH_DATALOGGERS = `
update datalogger d set is_online = true,
  last_seen_at = greatest(d.last_seen_at, to_timestamp(r.at_ms / 1000.0))
from unnest(?::int[], ?::float8[]) as r(id, at_ms)
where d.id = r.id`;

const FLUSH_DEVICES = `
update device v set last_seen_at = greatest(v.last_seen_at, to_timestamp(r.at_ms / 1000.0))
from unnest(?::int[], ?::float8[]) as r(id, at_ms)
where v.id = r.id`;

const FLUSH_SENSORS = `
update sensor s set is_online = true, last_reading = v.value,
  last_reading_at = to_timestamp(r.at_ms / 1000.0)
from unnest(?::int[], ?::float8[]) with ordinality as r(id, at_ms, n)
  join jsonb_array_elements(?::jsonb) with ordinality as v(value, n) on v.n = r.n
where s.id = r.id
  and to_timestamp(r.at_ms / 1000.0) > coalesce(s.last_reading_at, '-infinity')`;

// Topics already marked with the same parser are filtered out before the upsert, which would
// lock their rows even to leave them unchanged: in steady traffic the statement writes and
// locks nothing, and does not wait on the catalogue's own upserts of the same rows.
const MARK_TOPICS_PROCESSABLE = `
insert into discovered_topic as t (site_id, topic_path, first_seen_at, last_seen_at,
  message_count, is_processable, parser_name)
select r.site_id, left(r.topic_path, 500), now(), now(), 0, true, left(r.parser_name, 100)
from jsonb_to_recordset(?::jsonb) as r(site_id int, topic_path text, parser_name text)
where not exists (
  select 1 from discovered_topic k
  where k.site_id = r.site_id and k.topic_path = left(r.topic_path, 500)
    and k.is_processable and k.parser_name = left(r.parser_name, 100))
order by r.site_id, r.topic_path
on conflict (site_id, topic_path) do update set
  is_processable = true,
  parser_name = excluded.parser_name
where t.is_processable is distinct from true or t.parser_name <> excluded.parser_name`;

/**
 * Writes a batch's telemetry tree, readings and processable topics; call in a transaction.
 * With a cache session, rows the worker already wrote with the same identifying fields skip
 * their upserts and owe their last-seen time (a gateway its newest fields) instead, for
 * flushPending; ids learned are kept by the caller once the transaction commits.
 */
export async function writeTelemetry(
  run: SqlRunner,
  batch: IngestBatch,
  session?: CacheSession,
): Promise<TelemetryWriteResult> {
  await lockTree(run, session);
  const gatewayTransitions = await writeGateways(run, batch, session);

  const newest = batch.newestReadings;
  await writeDataloggers(run, batch, session);
  await writeDevices(run, batch, session);
  const sensorIds = await writeSensors(run, batch, newest, session);
  const readingsInserted = await writeReadings(run, batch.readingGroups, sensorIds);

  if (batch.topics.length) await run(MARK_TOPICS_PROCESSABLE, [json(batch.topics)]);
  return { readingsInserted, gatewayTransitions };
}

// Sensor rows cannot be deleted until this transaction ends (see the migration
// readings_guarded_by_lock); a deletion committed since the cache learnt its ids makes them
// suspect, and the batch is retried with every row upserted.
const LOCK_TREE = `select sitewire_lock_tree_shared() as deletions`;

async function lockTree(run: SqlRunner, session?: CacheSession): Promise<void> {
  const [row] = await run(LOCK_TREE);
  if (!session) return;
  const deletions = Number(row?.deletions);
  session.deletions = deletions;
  const known = session.cache?.deletions;
  if (session.useKnown && known !== undefined && known !== deletions) {
    throw new StaleCacheError('telemetry tree');
  }
}

/**
 * Writes owed gateway fields, last-seen times and last readings; call in a transaction.
 * Returns the gateways the writes brought back online (marked offline behind the cache).
 */
export async function flushPending(
  run: SqlRunner,
  writes: PendingWrites,
): Promise<GatewayTransition[]> {
  const transitions = writes.gateways.size
    ? transitionsOf(await updateGateways(run, json([...writes.gateways.values()])))
    : [];
  await flushById(run, FLUSH_DATALOGGERS, writes.dataloggers, false);
  await flushById(run, FLUSH_DEVICES, writes.devices, false);
  await flushById(run, FLUSH_SENSORS, writes.sensors, true);
  return transitions;
}

async function flushById(
  run: SqlRunner,
  update: string,
  rows: PendingWrites['sensors'],
  withValues: boolean,
): Promise<void> {
  if (!rows.size) return;
  const ids: number[] = [];
  const times: number[] = [];
  const values: unknown[] = [];
  for (const [id, seen] of rows) {
    ids.push(id);
    times.push(seen.at);
    values.push(seen.value ?? null);
  }
  const params = [arrayLiteral(ids), arrayLiteral(times)];
  await run(update, withValues ? [...params, JSON.stringify(values)] : params);
}

/** Numbers as a PostgreSQL array literal, the cheapest way to bind thousands of them. */
function arrayLiteral(numbers: number[]): string {
  return `{${numbers.join(',')}}`;
}

async function writeDataloggers(
  run: SqlRunner,
  batch: IngestBatch,
  session?: CacheSession,
): Promise<void> {
  const { unknown } = splitKnown(batch.dataloggers, 'datalogger', DATALOGGER_IDENTITY, session);
  if (!unknown.length) return;
  const written = await run(UPSERT_DATALOGGERS, [json(unknown)]);
  learn(written, unknown, 'datalogger', DATALOGGER_IDENTITY, session);
}

async function writeDevices(
  run: SqlRunner,
  batch: IngestBatch,
  session?: CacheSession,
): Promise<void> {
  const { unknown } = splitKnown(batch.devices, 'device', DEVICE_IDENTITY, session);
  if (!unknown.length) return;
  const written = await run(UPSERT_DEVICES, [json(unknown)]);
  learn(written, unknown, 'device', DEVICE_IDENTITY, session);
}

/** Upserts the new or changed sensors; returns every sensor id the batch now knows. */
async function writeSensors(
  run: SqlRunner,
  batch: IngestBatch,
  newest: ReadonlyMap<string, ReadingRecord>,
  session?: CacheSession,
): Promise<Map<string, number>> {
  const { unknown, ids } = splitKnown(batch.sensors, 'sensor', SENSOR_IDENTITY, session, newest);
  if (!unknown.length) return ids;
  const written = await run(UPSERT_SENSORS, [json(withLastReadings(unknown, newest))]);
  learn(written, unknown, 'sensor', SENSOR_IDENTITY, session);
  for (const row of written) ids.set(String(row.serial_number), Number(row.id));
  return ids;
}

/**
 * Inserts the readings of sensors whose id the batch knows; a reading of a sensor its upsert
 * did not return (its device is gone) is left out, as a join on the sensor would.
 */
async function writeReadings(
  run: SqlRunner,
  groups: ReadingGroup[],
  sensorIds: Map<string, number>,
): Promise<number> {
  const params = readingParams(groups, sensorIds);
  if (params === undefined) return 0;
  const [counted] = await run(INSERT_READINGS, params);
  return Number(counted?.inserted ?? 0);
}

function readingParams(
  groups: ReadingGroup[],
  sensorIds: Map<string, number>,
): string[] | undefined {
  const ids: number[] = [];
  const times: number[] = [];
  const receivedTimes: number[] = [];
  const values: unknown[] = [];
  for (const { receivedAt, readings } of groups) {
    const received = receivedAt.getTime();
    for (const reading of readings) {
      const id = sensorIds.get(reading.sensorSerialNumber);
      if (id === undefined) continue;
      ids.push(id);
      times.push(reading.ts.getTime());
      receivedTimes.push(received);
      values.push(reading.value);
    }
  }

  if (!ids.length) return undefined;
  const arrays = [arrayLiteral(ids), arrayLiteral(times), arrayLiteral(receivedTimes)];
  return [...arrays, JSON.stringify(values)];
}

type Table = CachedTable;
type Seen = { serialNumber: string; seenAt?: Date; label?: string; isOnline?: boolean };

/**
 * Rows the worker wrote before with the same identifying fields owe only their last-seen
 * time (a sensor its newest reading); the rest go through the upsert.
 */
function splitKnown<T extends Seen>(
  rows: T[],
  table: Table,
  keys: IdentityKeys,
  session?: CacheSession,
  newest?: ReadonlyMap<string, ReadingRecord>,
): { unknown: T[]; ids: Map<string, number> } {
  const ids = new Map<string, number>();
  const known = session?.useKnown ? session.cache?.known(table) : undefined;
  if (!known || !session) return { unknown: rows, ids };

  const unknown: T[] = [];
  for (const row of rows) {
    const id = known.idIfUnchanged(row.serialNumber, row, keys);
    if (id === undefined || mustWrite(table, row)) {
      unknown.push(row);
      continue;
    }
    ids.set(row.serialNumber, id);
    owe(session.owed, table, id, row, newest);
  }
  return { unknown, ids };
}

// A labelled sensor record sets the label; a gateway record turning it offline has its event.
function mustWrite(table: Table, row: Seen): boolean {
  return (table === 'sensor' && !!row.label) || (table === 'gateway' && row.isOnline === false);
}

function owe(
  owed: PendingWrites,
  table: Table,
  id: number,
  row: Seen,
  newest?: ReadonlyMap<string, ReadingRecord>,
): void {
  if (table === 'gateway') {
    mergeGateway(owed.gateways, row as GatewayRow);
    return;
  }
  if (table === 'sensor') {
    const last = newest?.get(row.serialNumber);
    if (last) keepNewest(owed.sensors, id, { at: last.ts.getTime(), value: last.value });
    return;
  }
  const rows = table === 'datalogger' ? owed.dataloggers : owed.devices;
  if (row.seenAt) keepNewest(rows, id, { at: row.seenAt.getTime() });
}

/**
 * Keeps the ids an upsert returned for the session. On the cached path a row the upsert did
 * not return means a parent it joins on was deleted behind the cache: the batch is retried
 * with every row upserted, as without a cache.
 */
function learn<T extends Seen>(
  written: Record<string, unknown>[],
  rows: T[],
  table: Table,
  keys: IdentityKeys,
  session?: CacheSession,
): void {
  if (!session) return;
  if (session.useKnown && written.length < rows.length) throw new StaleCacheError(table);

  const bySerial = new Map(rows.map((row) => [row.serialNumber, row]));
  for (const row of written) {
    const serial = String(row.serial_number);
    const source = bySerial.get(serial);
    if (!source) continue;
    session.learned.push({ table, serial, id: Number(row.id), fields: identityOf(source, keys) });
  }
}

/**
 * Inserts the batch's new gateways and updates the rest, except those the cache lets wait
 * (see GATEWAY_IDENTITY); returns the online flags the writes changed.
 */
async function writeGateways(
  run: SqlRunner,
  batch: IngestBatch,
  session?: CacheSession,
): Promise<GatewayTransition[]> {
  const { unknown } = splitKnown(batch.gateways, 'gateway', GATEWAY_IDENTITY, session);
  if (!unknown.length) return [];

  const rows = json(unknown);
  await run(INSERT_MISSING_GATEWAYS, [rows]);
  const updated = await updateGateways(run, rows);
  learn(updated, unknown, 'gateway', GATEWAY_IDENTITY, session);
  return transitionsOf(updated);
}

/** Locks then updates existing gateways from rows of the JSON parameter. */
async function updateGateways(run: SqlRunner, rows: string): Promise<Record<string, unknown>[]> {
  await run(LOCK_GATEWAYS, [rows]);
  return run(UPDATE_GATEWAYS, [rows]);
}

function transitionsOf(updated: Record<string, unknown>[]): GatewayTransition[] {
  return updated
    .filter((row) => row.is_online !== row.was_online)
    .map((row) => ({
      serialNumber: String(row.serial_number),
      siteId: Number(row.site_id),
      isOnline: row.is_online === true,
    }));
}

/** Each sensor row with its newest reading of the batch (none: the stored one stays). */
function withLastReadings(
  sensors: SensorRecord[],
  newest: ReadonlyMap<string, ReadingRecord>,
): object[] {
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
