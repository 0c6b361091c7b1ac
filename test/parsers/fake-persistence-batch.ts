import type {
  DataloggerRecord,
  DeviceRecord,
  GatewayRecord,
  PersistenceBatch,
  ReadingRecord,
  SensorRecord,
} from '../../src/ingest/persistence-batch.js';

/** An in-memory PersistenceBatch that keeps every record it is given, in order. */
export class FakePersistenceBatch implements PersistenceBatch {
  readonly gateways: GatewayRecord[] = [];
  readonly dataloggers: DataloggerRecord[] = [];
  readonly devices: DeviceRecord[] = [];
  readonly sensors: SensorRecord[] = [];
  readonly readings: ReadingRecord[] = [];

  constructor(readonly siteId = 1) {}

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

  /** Each reading's value by sensor serial, for compact assertions. */
  readingValues(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.readings.map((r) => [r.sensorSerialNumber, r.value]));
  }
}

/** The bytes a broker would deliver for a JSON value. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
