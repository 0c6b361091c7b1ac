import type { InvalidParserSample, ParserSample } from '../parser.js';

const TOPIC = 'site_001/gateway/GW-0001/dataloggers/telemetry';

/** The specification's telemetry example, verbatim. */
const specification: ParserSample = {
  name: 'specification',
  description: 'The documented example: one datalogger, one device, three sensors.',
  topic: TOPIC,
  payload: {
    serial_number_gateway: 'GW-0001',
    timestamp: '2026-12-03T15:00:00Z',
    message_interval_seconds: 60,
    mqtt_api_version: '1.0.0',
    dataloggers: [
      {
        serial_number_datalogger: 'DL-0001',
        status_datalogger: 'ok',
        devices: [
          {
            type: 'TLT-01',
            'serial number device': 'DEV-0001',
            data: [
              { type: 'accelerometer', value: [0.01, -0.02, 9.81] },
              { type: 'inclinometer', value: [1.2, -0.4] },
              { type: 'temperature', value: 21.5 },
            ],
          },
        ],
      },
    ],
  },
};

/** Valid telemetry payloads, listed by the API and run by the tests. */
export const TELEMETRY_SAMPLES: readonly ParserSample[] = [
  specification,
  {
    name: 'snake-case-device-serial',
    description: 'The device serial under `serial_number_device`, and two dataloggers.',
    topic: 'site_002/gateway/GW-0002/dataloggers/telemetry',
    payload: {
      serial_number_gateway: 'GW-0002',
      timestamp: '2026-12-03T16:00:00.250+01:00',
      message_interval_seconds: 300,
      mqtt_api_version: '1.1.0',
      dataloggers: [
        {
          serial_number_datalogger: 'DL-0002',
          status_datalogger: 'ok',
          devices: [
            {
              type: 'PZM-02',
              serial_number_device: 'DEV-0002',
              data: [{ type: 'pressure', value: 1013.2 }],
            },
          ],
        },
        {
          serial_number_datalogger: 'DL-0003',
          status_datalogger: 'battery low',
          devices: [],
        },
      ],
    },
  },
  {
    name: 'defaults-omitted',
    description: 'No message_interval_seconds nor mqtt_api_version: 60 and "1.0.0" apply.',
    topic: 'site_001/gateway/GW-0003/dataloggers/telemetry',
    payload: {
      serial_number_gateway: 'GW-0003',
      timestamp: '2026-12-03T15:00:00Z',
      dataloggers: [
        {
          serial_number_datalogger: 'DL-0004',
          status_datalogger: 'ok',
          devices: [
            {
              type: 'TMP-01',
              'serial number device': 'DEV-0004',
              data: [{ type: 'temperature', value: -3 }],
            },
          ],
        },
      ],
    },
  },
  {
    name: 'every-value-shape',
    description: 'One sensor per normalisation rule: object, lists of every length, number.',
    topic: 'site_001/gateway/GW-0004/dataloggers/telemetry',
    payload: {
      serial_number_gateway: 'GW-0004',
      timestamp: '2026-12-03T15:00:00-05:00',
      message_interval_seconds: 30,
      dataloggers: [
        {
          serial_number_datalogger: 'DL-0005',
          status_datalogger: 'ok',
          devices: [
            {
              type: 'MIX-01',
              'serial number device': 'DEV-0005',
              data: [
                { type: 'gnss', value: { lat: 45.1, lon: 9.2, fix: true } },
                { type: 'accelerometer', value: [0.1, 0.2, 9.8] },
                { type: 'inclinometer', value: [1.5, -0.5] },
                { type: 'Inclinometer', value: [2.5, -1.5, 0.3, 0.4] },
                { type: 'strain', value: [120] },
                { type: 'vibration', value: [1, 2, 3, 4, 5] },
                { type: 'spare', value: [] },
                { type: 'humidity', value: 55 },
              ],
            },
            {
              type: 'ACC-02',
              serial_number_device: 'DEV-0006',
              data: [
                { type: 'accelerometer', value: [0.1, 0.2] },
                { type: 'inclinometer', value: [7] },
              ],
            },
          ],
        },
      ],
    },
  },
  {
    name: 'heartbeat-without-dataloggers',
    description: 'An empty dataloggers list: only the gateway is seen.',
    topic: 'site_001/gateway/GW-0005/dataloggers/telemetry',
    payload: {
      serial_number_gateway: 'GW-0005',
      timestamp: '2026-12-03T15:00:00Z',
      dataloggers: [],
    },
  },
  {
    name: 'extra-fields',
    description: 'Unknown fields at every level: header ones kept in raw_metadata, others dropped.',
    topic: 'site_001/gateway/GW-0006/dataloggers/telemetry',
    payload: {
      serial_number_gateway: 'GW-0006',
      timestamp: '2026-12-03T15:00:00Z',
      site_name: 'Bridge north',
      dataloggers: [
        {
          serial_number_datalogger: 'DL-0007',
          status_datalogger: 'ok',
          firmware: '1.2',
          devices: [
            {
              type: 'TMP-01',
              'serial number device': 'DEV-0007',
              position: 'pier 3',
              data: [{ type: 'temperature', value: 12, unit: 'C' }],
            },
          ],
        },
      ],
    },
  },
];

/** Telemetry payloads that must be refused, with every issue path they must report. */
export const TELEMETRY_INVALID_SAMPLES: readonly InvalidParserSample[] = [
  {
    name: 'three-problems',
    description: 'A bad timestamp, a string reading and a missing datalogger status.',
    topic: TOPIC,
    payload: {
      serial_number_gateway: 'GW-0001',
      timestamp: 'yesterday',
      dataloggers: [
        {
          serial_number_datalogger: 'DL-0001',
          devices: [
            {
              type: 'TLT-01',
              'serial number device': 'DEV-0001',
              data: [{ type: 'temperature', value: 'warm' }],
            },
          ],
        },
      ],
    },
    expectedIssuePaths: [
      'timestamp',
      'dataloggers.0.status_datalogger',
      'dataloggers.0.devices.0.data.0.value',
    ],
  },
  {
    name: 'timestamp-without-timezone',
    description: 'A local time cannot be placed on the timeline.',
    topic: TOPIC,
    payload: { ...body(), timestamp: '2026-12-03T15:00:00' },
    expectedIssuePaths: ['timestamp'],
  },
  {
    name: 'impossible-date',
    description: 'February 30th.',
    topic: TOPIC,
    payload: { ...body(), timestamp: '2026-02-30T15:00:00Z' },
    expectedIssuePaths: ['timestamp'],
  },
  {
    name: 'bad-interval',
    description: 'A zero interval, and the API version as a number.',
    topic: TOPIC,
    payload: { ...body(), message_interval_seconds: 0, mqtt_api_version: 1.1 },
    expectedIssuePaths: ['message_interval_seconds', 'mqtt_api_version'],
  },
  {
    name: 'both-device-serial-keys',
    description: 'A device serial under both keys is ambiguous.',
    topic: TOPIC,
    payload: body({ 'serial number device': 'DEV-0001', serial_number_device: 'DEV-0001' }),
    expectedIssuePaths: ['dataloggers.0.devices.0.serial_number_device'],
  },
  {
    name: 'no-device-serial',
    description: 'A device with neither serial key.',
    topic: TOPIC,
    payload: body({}),
    expectedIssuePaths: ['dataloggers.0.devices.0.serial number device'],
  },
  {
    name: 'duplicate-sensor-type',
    description: 'The same sensor type twice in one device.',
    topic: TOPIC,
    payload: body({ 'serial number device': 'DEV-0001' }, [
      { type: 'temperature', value: 1 },
      { type: 'humidity', value: 2 },
      { type: 'temperature', value: 3 },
    ]),
    expectedIssuePaths: ['dataloggers.0.devices.0.data.2.type'],
  },
  {
    name: 'bad-list-items',
    description: 'A list holding a string and a null, and a boolean value.',
    topic: TOPIC,
    payload: body({ 'serial number device': 'DEV-0001' }, [
      { type: 'accelerometer', value: [1, 'a', null] },
      { type: 'switch', value: true },
    ]),
    expectedIssuePaths: [
      'dataloggers.0.devices.0.data.0.value.1',
      'dataloggers.0.devices.0.data.0.value.2',
      'dataloggers.0.devices.0.data.1.value',
    ],
  },
  {
    name: 'gateway-serial-mismatch',
    description: 'The payload names another gateway than its topic.',
    topic: 'site_001/gateway/GW-9999/dataloggers/telemetry',
    payload: body({ 'serial number device': 'DEV-0001' }),
    expectedIssuePaths: ['serial_number_gateway'],
  },
  {
    name: 'not-an-object',
    description: 'A JSON array instead of an object.',
    topic: TOPIC,
    payload: [1, 2, 3],
    expectedIssuePaths: [''],
  },
  {
    name: 'missing-dataloggers',
    description: 'No dataloggers field and a blank gateway serial.',
    topic: TOPIC,
    payload: { serial_number_gateway: ' ', timestamp: '2026-12-03T15:00:00Z' },
    expectedIssuePaths: ['serial_number_gateway', 'dataloggers'],
  },
];

/** A valid telemetry body with one device built from the given serial keys and data. */
function body(
  deviceSerial: Record<string, string> = { 'serial number device': 'DEV-0001' },
  data: unknown[] = [{ type: 'temperature', value: 21.5 }],
): Record<string, unknown> {
  return {
    serial_number_gateway: 'GW-0001',
    timestamp: '2026-12-03T15:00:00Z',
    dataloggers: [
      {
        serial_number_datalogger: 'DL-0001',
        status_datalogger: 'ok',
        devices: [{ type: 'TLT-01', ...deviceSerial, data }],
      },
    ],
  };
}
