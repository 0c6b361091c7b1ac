import { describe, expect, it } from 'vitest';
import { parsePayload } from '../../src/parsers/parse-payload.js';
import type { ParseContext } from '../../src/parsers/parser.js';
import { PayloadInvalidError } from '../../src/parsers/payload-issue.js';
import {
  TELEMETRY_INVALID_SAMPLES,
  TELEMETRY_SAMPLES,
} from '../../src/parsers/samples/telemetry.samples.js';
import { telemetryParser, type TelemetryPayload } from '../../src/parsers/telemetry.parser.js';
import { FakePersistenceBatch, jsonBytes } from './fake-persistence-batch.js';

const RECEIVED_AT = new Date('2026-12-03T15:00:02Z');

function sample(name: string): { topic: string; payload: unknown } {
  const found = TELEMETRY_SAMPLES.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no telemetry sample "${name}"`);
  return found;
}

function parse(payload: unknown, topic: string): TelemetryPayload {
  return parsePayload(jsonBytes(payload), telemetryParser, topic);
}

function processSample(name: string): FakePersistenceBatch {
  const { topic, payload } = sample(name);
  const batch = new FakePersistenceBatch();
  const context: ParseContext = { siteId: 1, topic, receivedAt: RECEIVED_AT };
  telemetryParser.process(parse(payload, topic), context, batch);
  return batch;
}

function issuePaths(payload: unknown, topic: string): string[] {
  try {
    parse(payload, topic);
  } catch (error) {
    if (error instanceof PayloadInvalidError) return error.issues.map((issue) => issue.path);
    throw error;
  }
  throw new Error('expected the payload to be refused');
}

describe('telemetry parser', () => {
  it.each(TELEMETRY_SAMPLES.map((s) => [s.name, s] as const))(
    'accepts the sample %s',
    (_name, { payload, topic }) => {
      expect(() => parse(payload, topic)).not.toThrow();
    },
  );

  it.each(TELEMETRY_INVALID_SAMPLES.map((s) => [s.name, s] as const))(
    'refuses the sample %s with every failing path',
    (_name, { payload, topic, expectedIssuePaths }) => {
      expect(issuePaths(payload, topic).sort()).toEqual([...expectedIssuePaths].sort());
    },
  );

  it('records the specification sample at every level', () => {
    const batch = processSample('specification');
    const ts = new Date('2026-12-03T15:00:00Z');

    expect(batch.gateways).toEqual([
      {
        serialNumber: 'GW-0001',
        seenAt: ts,
        isOnline: true,
        expectedHeartbeatInterval: 60,
        mqttApiVersion: '1.0.0',
        rawMetadata: {
          serial_number_gateway: 'GW-0001',
          timestamp: '2026-12-03T15:00:00Z',
          message_interval_seconds: 60,
          mqtt_api_version: '1.0.0',
        },
      },
    ]);
    expect(batch.dataloggers).toEqual([
      { serialNumber: 'DL-0001', gatewaySerialNumber: 'GW-0001', status: 'ok', seenAt: ts },
    ]);
    expect(batch.devices).toEqual([
      {
        serialNumber: 'DEV-0001',
        dataloggerSerialNumber: 'DL-0001',
        deviceType: 'TLT-01',
        seenAt: ts,
      },
    ]);
    expect(batch.sensors).toEqual([
      {
        serialNumber: 'DEV-0001-accelerometer',
        deviceSerialNumber: 'DEV-0001',
        sensorType: 'accelerometer',
      },
      {
        serialNumber: 'DEV-0001-inclinometer',
        deviceSerialNumber: 'DEV-0001',
        sensorType: 'inclinometer',
      },
      {
        serialNumber: 'DEV-0001-temperature',
        deviceSerialNumber: 'DEV-0001',
        sensorType: 'temperature',
      },
    ]);
    expect(batch.readings).toEqual([
      { sensorSerialNumber: 'DEV-0001-accelerometer', ts, value: { x: 0.01, y: -0.02, z: 9.81 } },
      { sensorSerialNumber: 'DEV-0001-inclinometer', ts, value: { pitch: 1.2, roll: -0.4 } },
      { sensorSerialNumber: 'DEV-0001-temperature', ts, value: { value: 21.5 } },
    ]);
  });

  it('reads the device serial from serial_number_device too', () => {
    const batch = processSample('snake-case-device-serial');

    expect(batch.devices.map((device) => device.serialNumber)).toEqual(['DEV-0002']);
    expect(batch.sensors.map((sensor) => sensor.serialNumber)).toEqual(['DEV-0002-pressure']);
    expect(batch.dataloggers.map((d) => [d.serialNumber, d.status])).toEqual([
      ['DL-0002', 'ok'],
      ['DL-0003', 'battery low'],
    ]);
  });

  it('stores readings at the payload timestamp, whatever its offset', () => {
    const batch = processSample('snake-case-device-serial');
    const ts = new Date('2026-12-03T15:00:00.250Z');

    expect(batch.readings[0]?.ts).toEqual(ts);
    expect(batch.gateways[0]?.seenAt).toEqual(ts);
    expect(batch.gateways[0]?.expectedHeartbeatInterval).toBe(300);
  });

  it('applies the defaults for the interval and the API version', () => {
    const batch = processSample('defaults-omitted');

    expect(batch.gateways[0]).toMatchObject({
      expectedHeartbeatInterval: 60,
      mqttApiVersion: '1.0.0',
    });
  });

  it('normalises every value shape by its sensor type', () => {
    const batch = processSample('every-value-shape');

    expect(batch.readingValues()).toEqual({
      'DEV-0005-gnss': { lat: 45.1, lon: 9.2, fix: true },
      'DEV-0005-accelerometer': { x: 0.1, y: 0.2, z: 9.8 },
      'DEV-0005-inclinometer': { pitch: 1.5, roll: -0.5 },
      'DEV-0005-Inclinometer': { pitch: 2.5, roll: -1.5, extra: [0.3, 0.4] },
      'DEV-0005-strain': { value: 120 },
      'DEV-0005-vibration': { values: [1, 2, 3, 4, 5] },
      'DEV-0005-spare': { values: [] },
      'DEV-0005-humidity': { value: 55 },
      'DEV-0006-accelerometer': { values: [0.1, 0.2] },
      'DEV-0006-inclinometer': { value: 7 },
    });
  });

  it('records only the gateway for a message without dataloggers', () => {
    const batch = processSample('heartbeat-without-dataloggers');

    expect(batch.gateways).toHaveLength(1);
    expect(batch.dataloggers).toEqual([]);
    expect(batch.readings).toEqual([]);
  });

  it('keeps unknown header fields in raw_metadata and drops deeper ones', () => {
    const { topic, payload } = sample('extra-fields');
    const parsed = parse(payload, topic);
    const batch = processSample('extra-fields');

    expect(batch.gateways[0]?.rawMetadata).toMatchObject({ site_name: 'Bridge north' });
    expect(batch.gateways[0]?.rawMetadata).not.toHaveProperty('dataloggers');
    expect(parsed.dataloggers[0]).not.toHaveProperty('firmware');
    expect(parsed.dataloggers[0]?.devices[0]).not.toHaveProperty('position');
    expect(batch.readings[0]?.value).toEqual({ value: 12 });
  });

  it('never replaces a bad timestamp with the current time', () => {
    const { topic, payload } = sample('specification');
    for (const timestamp of ['yesterday', '', '2026-12-03', '2026-12-03T15:00:00', 1764774000]) {
      const bad = { ...(payload as object), timestamp };
      expect(issuePaths(bad, topic)).toEqual(['timestamp']);
    }
  });

  it('refuses a device or datalogger serial given twice in one message', () => {
    const { topic } = sample('specification');
    const device = (serial: string) => ({
      type: 'T',
      serial_number_device: serial,
      data: [{ type: 'temperature', value: 1 }],
    });
    const payload = {
      serial_number_gateway: 'GW-0001',
      timestamp: '2026-12-03T15:00:00Z',
      dataloggers: [
        { serial_number_datalogger: 'DL-1', status_datalogger: 'ok', devices: [device('D-1')] },
        { serial_number_datalogger: 'DL-1', status_datalogger: 'ok', devices: [device('D-1')] },
      ],
    };

    expect(issuePaths(payload, topic)).toEqual([
      'dataloggers.1.serial_number_datalogger',
      'dataloggers.1.devices.0.serial_number_device',
    ]);
  });

  it('reports a duplicate sensor type alongside problems elsewhere', () => {
    const { topic } = sample('specification');
    const payload = {
      serial_number_gateway: 'GW-0001',
      timestamp: 'soon',
      dataloggers: [
        {
          serial_number_datalogger: 'DL-1',
          status_datalogger: 'ok',
          devices: [
            {
              type: 'T',
              data: [
                { type: 'temperature', value: 1 },
                { type: 'temperature', value: 'hot' },
              ],
            },
          ],
        },
      ],
    };

    expect(issuePaths(payload, topic).sort()).toEqual([
      'dataloggers.0.devices.0.data.1.type',
      'dataloggers.0.devices.0.data.1.value',
      'dataloggers.0.devices.0.serial number device',
      'timestamp',
    ]);
  });

  it('skips the gateway serial check on a topic of another shape', () => {
    const { payload } = sample('specification');
    expect(() => parse(payload, 'legacy/GW-9999/telemetry')).not.toThrow();
  });

  it('is not fooled by a __proto__ header field', () => {
    const { topic } = sample('specification');
    const text = JSON.stringify(sample('specification').payload).replace(
      '{',
      '{"__proto__": {"polluted": true},',
    );
    const parsed = parsePayload(Buffer.from(text), telemetryParser, topic);

    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parsed.serial_number_gateway).toBe('GW-0001');
  });
});
