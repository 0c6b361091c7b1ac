/**
 * What a parser's `process` step writes into. A worker collects the records of every valid
 * message of a job here, then writes them with a few set-based statements in one
 * transaction (upserts for the telemetry tree, one insert for all readings). Parsers never
 * touch the database themselves: that keeps a batch at a constant number of round trips.
 */
export interface PersistenceBatch {
  /** The site the message arrived on. */
  readonly siteId: number;

  /** Creates or updates a gateway; fields left undefined keep their stored values. */
  upsertGateway(gateway: GatewayRecord): void;

  /** Creates or updates a datalogger under its gateway. */
  upsertDatalogger(datalogger: DataloggerRecord): void;

  /** Creates or updates a device under its datalogger. */
  upsertDevice(device: DeviceRecord): void;

  /** Creates or updates a sensor under its device. */
  upsertSensor(sensor: SensorRecord): void;

  /** Adds a reading; a reading of the same sensor and timestamp already stored is kept. */
  addReading(reading: ReadingRecord): void;
}

/** A gateway as a message describes it. */
export interface GatewayRecord {
  serialNumber: string;
  seenAt: Date;
  /** Seconds between messages; from message_interval_seconds. */
  expectedHeartbeatInterval?: number;
  /** false for the last-will `offline` status; true for any other message. */
  isOnline: boolean;
  status?: string;
  firmwareVersion?: string;
  uptimeSeconds?: number;
  signalStrengthDbm?: number;
  mqttApiVersion?: string;
  /** Set by status messages. */
  statusAt?: Date;
  /** The payload's header fields (everything but the nested dataloggers). */
  rawMetadata?: Record<string, unknown>;
}

/** A datalogger as a telemetry message describes it. */
export interface DataloggerRecord {
  serialNumber: string;
  gatewaySerialNumber: string;
  status: string;
  seenAt: Date;
}

/** A device as a telemetry message describes it. */
export interface DeviceRecord {
  serialNumber: string;
  dataloggerSerialNumber: string;
  /** The payload's `type`, as sent. */
  deviceType: string;
  seenAt: Date;
}

/** A sensor; its serial number is `<device serial>-<sensor type>`. */
export interface SensorRecord {
  serialNumber: string;
  deviceSerialNumber: string;
  sensorType: string;
  label?: string;
}

/** One normalised reading of a sensor at the payload's timestamp. */
export interface ReadingRecord {
  sensorSerialNumber: string;
  ts: Date;
  value: Record<string, unknown>;
}
