import { mergeGateway, type GatewayRow } from './record-collector.js';

/** The newest time a row was seen (epoch ms), and for a sensor its newest reading's value. */
export interface LastSeen {
  at: number;
  value?: unknown;
}

/** Writes owed: gateways by serial number (every field of their newest records), the rest
 * by row id. */
export interface PendingWrites {
  gateways: Map<string, GatewayRow>;
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

/** The fields of a table's records that say where a row sits in the tree. */
export type IdentityKeys = readonly string[];

/** A record's identifying fields, in the order of `keys`. */
export function identityOf(row: object, keys: IdentityKeys): unknown[] {
  return keys.map((key) => (row as Record<string, unknown>)[key]);
}

/**
 * Ids by serial number with the identifying fields last written, the oldest dropped first
 * past the cap (a dropped row only goes through its upsert again).
 */
class KnownRows {
  readonly #rows = new Map<string, { id: number; fields: unknown[] }>();

  constructor(readonly maxSize: number) {}

  /** The row's id if its identifying fields are the ones last written; field by field, as
   * this runs for every record of every batch. */
  idIfUnchanged(serialNumber: string, row: object, keys: IdentityKeys): number | undefined {
    const known = this.#rows.get(serialNumber);
    if (known === undefined) return undefined;
    for (let index = 0; index < keys.length; index += 1) {
      if (known.fields[index] !== (row as Record<string, unknown>)[keys[index]!]) return undefined;
    }
    return known.id;
  }

  id(serialNumber: string): number | undefined {
    return this.#rows.get(serialNumber)?.id;
  }

  set(serialNumber: string, id: number, fields: unknown[]): void {
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

// Only a gateway last written online from the same site may wait: a message that turns it
// offline, moves it or follows an offline write goes through at once, with its event.
export const GATEWAY_IDENTITY: IdentityKeys = ['siteId', 'isOnline'];

export const DATALOGGER_IDENTITY: IdentityKeys = ['gatewaySerialNumber', 'siteId', 'status'];

export const DEVICE_IDENTITY: IdentityKeys = ['dataloggerSerialNumber', 'deviceType'];

// A sensor record without a label keeps the stored one, so the label is not part of it:
// a labelled record always goes through the upsert.
export const SENSOR_IDENTITY: IdentityKeys = ['deviceSerialNumber', 'sensorType'];

/** A table whose rows the cache knows. */
export type CachedTable = 'gateway' | 'datalogger' | 'device' | 'sensor';

/** One batch's use of the cache: ids learned and last-seen writes owed, kept until commit. */
export interface CacheSession {
  readonly cache: TelemetryCache | undefined;
  /** False on a retry after stale ids: every row goes through its upsert. */
  readonly useKnown: boolean;
  readonly owed: PendingWrites;
  /** Deletions from the telemetry tree counted when the batch's transaction began. */
  deletions?: number;
  readonly learned: {
    table: CachedTable;
    serial: string;
    id: number;
    fields: unknown[];
  }[];
}

const emptyPending = (): PendingWrites => ({
  gateways: new Map(),
  dataloggers: new Map(),
  devices: new Map(),
  sensors: new Map(),
});

/**
 * Per-worker memory of the telemetry tree: the rows whose identifying fields a batch
 * repeats, so their upserts are skipped, and what they owe instead (last-seen times, sensors'
 * last readings, a gateway's newest header fields), written at most once per interval in a
 * transaction of its own. A gateway that changes site or goes offline is written at once; one
 * the offline sweep marked offline behind the cache comes back online, with its event, when
 * its owed write lands.
 */
export class TelemetryCache {
  readonly #gateways: KnownRows;
  readonly #dataloggers: KnownRows;
  readonly #devices: KnownRows;
  readonly #sensors: KnownRows;
  #pending = emptyPending();
  #lastFlushAt = Date.now();
  #deletions: number | undefined;

  constructor(
    readonly writeIntervalMs: number,
    maxRows = 50_000,
  ) {
    this.#gateways = new KnownRows(maxRows);
    this.#dataloggers = new KnownRows(maxRows);
    this.#devices = new KnownRows(maxRows);
    this.#sensors = new KnownRows(maxRows);
  }

  known(table: CachedTable): KnownRows {
    if (table === 'gateway') return this.#gateways;
    if (table === 'datalogger') return this.#dataloggers;
    return table === 'device' ? this.#devices : this.#sensors;
  }

  /** Forgets every id; owed last-seen writes stay, they are matched by id. */
  invalidate(): void {
    this.#gateways.clear();
    this.#dataloggers.clear();
    this.#devices.clear();
    this.#sensors.clear();
  }

  get hasPending(): boolean {
    const p = this.#pending;
    return p.gateways.size + p.dataloggers.size + p.devices.size + p.sensors.size > 0;
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

  /** Starts a batch. */
  begin(useKnown: boolean): CacheSession {
    return { cache: this, useKnown, owed: emptyPending(), learned: [] };
  }

  /** Deletions from the telemetry tree counted when the ids known were last confirmed. */
  get deletions(): number | undefined {
    return this.#deletions;
  }

  /**
   * After the batch committed: owe its last-seen writes and learn its ids, unless a deletion
   * counted since its transaction began may have removed them. Ids learnt before a newer
   * count are forgotten.
   */
  commit(session: CacheSession): void {
    mergePending(this.#pending, session.owed);
    const counted = session.deletions;
    if (counted !== undefined && this.#deletions !== undefined && counted < this.#deletions) {
      return;
    }
    if (counted !== undefined && counted !== this.#deletions) {
      this.invalidate();
      this.#deletions = counted;
    }
    for (const row of session.learned) this.known(row.table).set(row.serial, row.id, row.fields);
  }
}

/** Merges `from` into `into`, keeping the newest time (and gateway fields) per row. */
export function mergePending(into: PendingWrites, from: PendingWrites): void {
  for (const gateway of from.gateways.values()) mergeGateway(into.gateways, gateway);
  for (const key of ['dataloggers', 'devices', 'sensors'] as const) {
    for (const [id, seen] of from[key]) keepNewest(into[key], id, seen);
  }
}

export function keepNewest(rows: Map<number, LastSeen>, id: number, seen: LastSeen): void {
  const known = rows.get(id);
  if (known === undefined || known.at < seen.at) rows.set(id, seen);
}
