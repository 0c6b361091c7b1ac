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

/** A reading row to write, with the receive time of its message. */
export type ReadingRow = ReadingRecord & { receivedAt: Date };

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
 * written once per statement (PostgreSQL refuses to update a row twice in one upsert), and
 * handed out sorted by key so concurrent jobs lock rows in the same order.
 */
export class IngestBatch {
  readonly #gateways = new Map<string, GatewayRow>();
  readonly #dataloggers = new Map<string, DataloggerRow>();
  readonly #devices = new Map<string, DeviceRecord>();
  readonly #sensors = new Map<string, SensorRecord>();
  readonly #readings = new Map<string, ReadingRow>();
  readonly #topics = new Map<string, ProcessedTopic>();
  readonly activity = new Map<number, SiteActivity>();
  messages = 0;

  /** Adds the records of one successfully processed message. */
  add(records: MessageRecords, topic: ProcessedTopic, receivedAt: Date): void {
    const siteId = records.siteId;
    for (const gateway of records.gateways) mergeGateway(this.#gateways, { ...gateway, siteId });
    for (const logger of records.dataloggers) keepLatest(this.#dataloggers, { ...logger, siteId });
    for (const device of records.devices) keepLatest(this.#devices, device);
    for (const sensor of records.sensors) mergeSensor(this.#sensors, sensor);
    for (const reading of records.readings) {
      const key = `${reading.sensorSerialNumber}\u0000${reading.ts.getTime()}`;
      if (!this.#readings.has(key)) this.#readings.set(key, { ...reading, receivedAt });
    }

    this.#topics.set(`${topic.siteId}\u0000${topic.topicPath}`, topic);
    this.messages += 1;
    this.#recordActivity(records);
  }

  get gateways(): GatewayRow[] {
    return sortedBy(this.#gateways.values(), (row) => row.serialNumber);
  }

  get dataloggers(): DataloggerRow[] {
    return sortedBy(this.#dataloggers.values(), (row) => row.serialNumber);
  }

  get devices(): DeviceRecord[] {
    return sortedBy(this.#devices.values(), (row) => row.serialNumber);
  }

  get sensors(): SensorRecord[] {
    return sortedBy(this.#sensors.values(), (row) => row.serialNumber);
  }

  get readings(): ReadingRow[] {
    return [...this.#readings.values()];
  }

  get topics(): ProcessedTopic[] {
    return sortedBy(this.#topics.values(), (row) => `${row.siteId}\u0000${row.topicPath}`);
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

function mergeSensor(rows: Map<string, SensorRecord>, incoming: SensorRecord): void {
  const known = rows.get(incoming.serialNumber);
  const label = incoming.label || known?.label;
  rows.set(incoming.serialNumber, { ...incoming, ...(label ? { label } : {}) });
}

function sortedBy<T>(values: Iterable<T>, key: (value: T) => string): T[] {
  return [...values].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
