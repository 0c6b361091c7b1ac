import type { DataloggerRow, ReadingRow } from './record-collector.js';
import type { DeviceRecord, SensorRecord } from './persistence-batch.js';

/** The newest time a row was seen, and for a sensor the value of its newest reading. */
export interface LastSeen {
  at: Date;
  value?: unknown;
}

/** Last-seen writes owed, by row id. */
export interface PendingWrites {
  dataloggers: Map<number, LastSeen>;
  devices: Map<number, LastSeen>;
  sensors: Map<number, LastSeen>;
}

/** Thrown when a cached id no longer matches a row: the batch is retried without the cache. */
export class StaleCacheError extends Error {
  constructor(table: string) {
    super(`cached ${table} rows are gone`);
    this.name = 'StaleCacheError';
  }
}

/**
 * Ids by serial number with the identifying fields last written, the oldest dropped first
 * past the cap (a dropped row only goes through its upsert again).
 */
class KnownRows {
  readonly #rows = new Map<string, { id: number; fields: string }>();

  constructor(readonly maxSize: number) {}

  idIfUnchanged(serialNumber: string, fields: string): number | undefined {
    const known = this.#rows.get(serialNumber);
    return known?.fields === fields ? known.id : undefined;
  }

  id(serialNumber: string): number | undefined {
    return this.#rows.get(serialNumber)?.id;
  }

  set(serialNumber: string, id: number, fields: string): void {
    this.#rows.delete(serialNumber);
    if (this.#rows.size >= this.maxSize) {
      const oldest = this.#rows.keys().next();
      if (!oldest.done) this.#rows.delete(oldest.value);
    }
    this.#rows.set(serialNumber, { id, fields });
  }

  clear(): void {
    this.#rows.clear();
  }
}

export const dataloggerFields = (row: DataloggerRow): string =>
  `${row.gatewaySerialNumber}\u0000${row.siteId}\u0000${row.status}`;

export const deviceFields = (row: DeviceRecord): string =>
  `${row.dataloggerSerialNumber}\u0000${row.deviceType}`;

// A sensor record without a label keeps the stored one, so the label is not part of it:
// a labelled record always goes through the upsert.
export const sensorFields = (row: SensorRecord): string =>
  `${row.deviceSerialNumber}\u0000${row.sensorType}`;

/** One batch's use of the cache: ids learned and last-seen writes owed, kept until commit. */
export interface CacheSession {
  readonly cache: TelemetryCache | undefined;
  /** False on a retry after stale ids: every row goes through its upsert. */
  readonly useKnown: boolean;
  /** Pending writes this batch's transaction carries, or null when none are due. */
  readonly flushing: PendingWrites | null;
  readonly owed: PendingWrites;
  readonly learned: {
    table: 'datalogger' | 'device' | 'sensor';
    serial: string;
    id: number;
    fields: string;
  }[];
}

const emptyPending = (): PendingWrites => ({
  dataloggers: new Map(),
  devices: new Map(),
  sensors: new Map(),
});

/**
 * Per-worker memory of the telemetry tree: the ids of dataloggers, devices and sensors whose
 * identifying fields a batch repeats, so their upserts are skipped, and their last-seen
 * times and sensors' last readings, written at most once per interval. Gateways are not
 * cached: their online flag and its events must follow every message.
 */
export class TelemetryCache {
  readonly #dataloggers: KnownRows;
  readonly #devices: KnownRows;
  readonly #sensors: KnownRows;
  #pending = emptyPending();
  #lastFlushAt = Date.now();

  constructor(
    readonly writeIntervalMs: number,
    maxRows = 50_000,
  ) {
    this.#dataloggers = new KnownRows(maxRows);
    this.#devices = new KnownRows(maxRows);
    this.#sensors = new KnownRows(maxRows);
  }

  known(table: 'datalogger' | 'device' | 'sensor'): KnownRows {
    if (table === 'datalogger') return this.#dataloggers;
    return table === 'device' ? this.#devices : this.#sensors;
  }

  /** Forgets every id; owed last-seen writes stay, they are matched by id. */
  invalidate(): void {
    this.#dataloggers.clear();
    this.#devices.clear();
    this.#sensors.clear();
  }

  get hasPending(): boolean {
    const p = this.#pending;
    return p.dataloggers.size + p.devices.size + p.sensors.size > 0;
  }

  isFlushDue(now = Date.now()): boolean {
    return this.hasPending && now - this.#lastFlushAt >= this.writeIntervalMs;
  }

  /** Hands out every owed write; give them back with `restore` if they were not committed. */
  takePending(): PendingWrites {
    const taken = this.#pending;
    this.#pending = emptyPending();
    this.#lastFlushAt = Date.now();
    return taken;
  }

  restore(writes: PendingWrites): void {
    mergePending(this.#pending, writes);
  }

  /** Starts a batch; a batch carries the owed writes when the interval has passed. */
  begin(useKnown: boolean): CacheSession {
    const flushing = this.isFlushDue() ? this.takePending() : null;
    return { cache: this, useKnown, flushing, owed: emptyPending(), learned: [] };
  }

  /** After the batch committed: learn its ids and owe its last-seen writes. */
  commit(session: CacheSession): void {
    for (const row of session.learned) this.known(row.table).set(row.serial, row.id, row.fields);
    mergePending(this.#pending, session.owed);
  }

  /** After the batch rolled back: the writes it carried are owed again. */
  abort(session: CacheSession): void {
    if (session.flushing) this.restore(session.flushing);
  }
}

/** Merges `from` into `into`, keeping the newest time per row. */
export function mergePending(into: PendingWrites, from: PendingWrites): void {
  for (const key of ['dataloggers', 'devices', 'sensors'] as const) {
    for (const [id, seen] of from[key]) keepNewest(into[key], id, seen);
  }
}

export function keepNewest(rows: Map<number, LastSeen>, id: number, seen: LastSeen): void {
  const known = rows.get(id);
  if (known === undefined || known.at < seen.at) rows.set(id, seen);
}

/** The newest reading of each sensor in the batch. */
export function newestReadings(readings: ReadingRow[]): Map<string, ReadingRow> {
  const newest = new Map<string, ReadingRow>();
  for (const reading of readings) {
    const known = newest.get(reading.sensorSerialNumber);
    if (!known || known.ts < reading.ts) newest.set(reading.sensorSerialNumber, reading);
  }
  return newest;
}
