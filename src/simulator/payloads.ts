import { createRandom, type SensorKind, type SimulatedGateway } from './fleet.js';

/** The telemetry payload the simulator publishes (SPEC section 13's shape). */
export interface SimulatedTelemetry {
  serial_number_gateway: string;
  timestamp: string;
  message_interval_seconds: number;
  mqtt_api_version: string;
  dataloggers: Array<{
    serial_number_datalogger: string;
    status_datalogger: string;
    devices: Array<{
      type: string;
      'serial number device': string;
      data: Array<{ type: string; value: unknown }>;
    }>;
  }>;
}

/** The telemetry topic of a gateway (SPEC section 13). */
export function telemetryTopic(gateway: SimulatedGateway): string {
  return `${gateway.siteCode}/gateway/${gateway.serialNumber}/dataloggers/telemetry`;
}

/** The status topic of a gateway, also where its last will goes. */
export function statusTopic(gateway: SimulatedGateway): string {
  return `${gateway.siteCode}/gateway/${gateway.serialNumber}/status`;
}

/**
 * A telemetry payload of the documented shape. `sequence` picks the values, so the same
 * gateway, timestamp and sequence always give the same payload.
 */
export function telemetryPayload(
  gateway: SimulatedGateway,
  timestamp: Date,
  sequence: number,
): SimulatedTelemetry {
  const random = createRandom(hash(gateway.serialNumber) ^ sequence);
  return {
    serial_number_gateway: gateway.serialNumber,
    timestamp: timestamp.toISOString(),
    message_interval_seconds: gateway.intervalSeconds,
    mqtt_api_version: '1.0.0',
    dataloggers: gateway.dataloggers.map((datalogger) => ({
      serial_number_datalogger: datalogger.serialNumber,
      status_datalogger: 'ok',
      devices: datalogger.devices.map((device) => ({
        type: device.type,
        'serial number device': device.serialNumber,
        data: device.sensors.map((kind) => ({ type: kind, value: sensorValue(kind, random) })),
      })),
    })),
  };
}

/** A status payload; `offline` is what the gateway's last will says. */
export function statusPayload(
  gateway: SimulatedGateway,
  timestamp: Date,
  status: 'online' | 'offline' = 'online',
): Record<string, unknown> {
  if (status === 'offline') return { serial_number_gateway: gateway.serialNumber, status };

  return {
    serial_number_gateway: gateway.serialNumber,
    timestamp: timestamp.toISOString(),
    status,
    firmware_version: '2.4.1',
    uptime_seconds: Math.floor(timestamp.getTime() / 1000) % 1_000_000,
    signal_strength_dbm: -60 - (hash(gateway.serialNumber) % 30),
  };
}

function sensorValue(kind: SensorKind, random: () => number): unknown {
  const around = (center: number, spread: number) =>
    Math.round((center + (random() - 0.5) * spread) * 1000) / 1000;

  switch (kind) {
    case 'accelerometer':
      return [around(0, 0.05), around(0, 0.05), around(9.81, 0.05)];
    case 'inclinometer':
      return [around(1.2, 0.2), around(-0.4, 0.2)];
    case 'temperature':
      return around(21, 4);
    case 'humidity':
      return around(55, 10);
    case 'displacement':
      return [around(0.3, 0.1)];
    case 'strain':
      return [around(120, 10), around(118, 10), around(121, 10), around(119, 10)];
    case 'piezometer':
      return { pressure_kpa: around(101, 2), temperature: around(14, 1) };
  }
}

function hash(text: string): number {
  let value = 2166136261;
  for (let index = 0; index < text.length; index += 1) {
    value = Math.imul(value ^ text.charCodeAt(index), 16777619) >>> 0;
  }
  return value;
}
