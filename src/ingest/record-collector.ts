import type {
  DataloggerRecord,
  DeviceRecord,
  GatewayRecord,
  PersistenceBatch,
  ReadingRecord,
  SensorRecord,
} from './persistence-batch.js';

/**
 * The records one message's parser wrote. A message's records join its job's batch only when
 * the whole `process` step succeeded, so a parser failing half-way leaves nothing behind.
 */
export class MessageRecords implements PersistenceBatch {
  readonly gateways: GatewayRecord[] = [];
  readonly dataloggers: DataloggerRecord[] = [];
  readonly devices: DeviceRecord[] = [];
  readonly sensors: SensorRecord[] = [];
  readonly readings: ReadingRecord[] = [];

  constructor(readonly siteId: number) {}

  upsertGateway(gateway: GatewayRecord): void {
    this.gateways.push(gateway);
  }

  upsertDatalogger(datalogger: DataloggerRecord): void {
    this.dataloggers.push(datalogger);
  }

  upsertDevice(device: DeviceRecord): void {
    this.devices.push(device);
  }

  upsertSensor(sensor: SensorRecord): void {
    this.sensors.push(sensor);
  }

  addReading(reading: ReadingRecord): void {
    this.readings.push(reading);
  }
}

/** A gateway row to write, merged from every record of the batch about it. */
export type GatewayRow = GatewayRecord & { siteId: number };

/** A datalogger row to write. */
export type DataloggerRow = DataloggerRecord & { siteId: number };

/** The readings of one message, with the time it arrived. */
export interface ReadingGroup {
  receivedAt: Date;
  readings: ReadingRecord[];
}

/** A topic a parser processed, to be marked processable in the catalogue. */
export interface ProcessedTopic {
  siteId: number;
  topicPath: string;
  parserName: string;
}

/** What one site gained in a batch, for its data_update event. */
export interface SiteActivity {
  messages: number;
  readings: number;
  gateways: Set<string>;
}

/**
 * Every record of a job's valid messages, merged per serial number so that each row is
 * written once per statement (PostgreSQL refuses to update a row twice in one upsert). The
 * statements sort their rows themselves, so concurrent jobs lock rows in one order. Readings
 * are kept as their messages gave them, duplicates included: the insert keeps the first.
 */
export class IngestBatch {
  readonly #gateways = new Map<string, GatewayRow>();
  readonly #dataloggers = new Map<string, DataloggerRow>();
  readonly #devices = new Map<string, DeviceRecord>();
  readonly #sensors = new Map<string, SensorRecord>();
  readonly #newestReadings = new Map<string, ReadingRecord>();
  readonly #topics = new Map<string, ProcessedTopic>();
  readonly readingGroups: ReadingGroup[] = [];
  readonly activity = new Map<number, SiteActivity>();
  messages = 0;

  /** Adds the records of one successfully processed message. */
  add(records: MessageRecords, topic: ProcessedTopic, receivedAt: Date): void {
    const siteId = records.siteId;
    for (const gateway of records.gateways) mergeGateway(this.#gateways, { ...gateway, siteId });
    for (const logger of records.dataloggers) keepLatest(this.#dataloggers, { ...logger, siteId });
    for (const device of records.devices) keepLatest(this.#devices, device);
    for (const sensor of records.sensors) mergeSensor(this.#sensors, sensor);
    if (records.readings.length)
      this.readingGroups.push({ receivedAt, readings: records.readings });
    for (const reading of records.readings) keepNewestReading(this.#newestReadings, reading);

    this.#topics.set(`${topic.siteId}\u0000${topic.topicPath}`, topic);
    this.messages += 1;
    this.#recordActivity(records);
  }

  get gateways(): GatewayRow[] {
    return [...this.#gateways.values()];
  }

  get dataloggers(): DataloggerRow[] {
    return [...this.#dataloggers.values()];
  }

  get devices(): DeviceRecord[] {
    return [...this.#devices.values()];
  }

  get sensors(): SensorRecord[] {
    return [...this.#sensors.values()];
  }

  /** The newest reading of each sensor, by sensor serial number. */
  get newestReadings(): ReadonlyMap<string, ReadingRecord> {
    return this.#newestReadings;
  }

  get topics(): ProcessedTopic[] {
    return [...this.#topics.values()];
  }

  #recordActivity(records: MessageRecords): void {
    let activity = this.activity.get(records.siteId);
    if (activity === undefined) {
      activity = { messages: 0, readings: 0, gateways: new Set() };
      this.activity.set(records.siteId, activity);
    }

    activity.messages += 1;
    activity.readings += records.readings.length;
    for (const gateway of records.gateways) activity.gateways.add(gateway.serialNumber);
  }
}

/** Merges a gateway record into rows by serial number; see mergeGatewayRecords. */
export function mergeGateway(rows: Map<string, GatewayRow>, incoming: GatewayRow): void {
  const known = rows.get(incoming.serialNumber);
  if (known === undefined) {
    rows.set(incoming.serialNumber, { ...incoming });
    return;
  }

  // Fields the newer record leaves undefined keep the older record's values.
  const [older, newer] = incoming.seenAt >= known.seenAt ? [known, incoming] : [incoming, known];
  rows.set(incoming.serialNumber, { ...older, ...definedFields(newer) });
}

function definedFields<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

function keepLatest<T extends { serialNumber: string; seenAt: Date }>(
  rows: Map<string, T>,
  incoming: T,
): void {
  const known = rows.get(incoming.serialNumber);
  if (known === undefined || incoming.seenAt >= known.seenAt) {
    rows.set(incoming.serialNumber, incoming);
  }
}

// A record without a label keeps the label an earlier record of the batch gave.
function mergeSensor(rows: Map<string, SensorRecord>, incoming: SensorRecord): void {
  const label = rows.get(incoming.serialNumber)?.label;
  const merged = incoming.label || !label ? incoming : { ...incoming, label };
  rows.set(incoming.serialNumber, merged);
}

// The first of equally new readings stays, as the insert keeps the first of duplicates.
function keepNewestReading(rows: Map<string, ReadingRecord>, reading: ReadingRecord): void {
  const known = rows.get(reading.sensorSerialNumber);
  if (!known || known.ts < reading.ts) rows.set(reading.sensorSerialNumber, reading);
}
