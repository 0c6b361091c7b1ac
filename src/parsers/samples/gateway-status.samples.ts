import type { InvalidParserSample, ParserSample } from '../parser.js';

const TOPIC = 'site_001/gateway/GW-0001/status';

/** Valid gateway status payloads, listed by the API and run by the tests. */
export const GATEWAY_STATUS_SAMPLES: readonly ParserSample[] = [
  {
    name: 'specification',
    description: 'The documented example: an online gateway with firmware, uptime and signal.',
    topic: TOPIC,
    payload: {
      serial_number_gateway: 'GW-0001',
      timestamp: '2026-12-03T15:00:05Z',
      status: 'online',
      firmware_version: '2.4.1',
      uptime_seconds: 86400,
      signal_strength_dbm: -71,
    },
  },
  {
    name: 'last-will',
    description: 'The retained last will: only the serial and the offline status.',
    topic: TOPIC,
    payload: { serial_number_gateway: 'GW-0001', status: 'offline' },
  },
  {
    name: 'offline-with-timestamp',
    description: 'A gateway announcing its own shutdown, in capitals, with a timezone offset.',
    topic: 'site_002/gateway/GW-0002/status',
    payload: {
      serial_number_gateway: 'GW-0002',
      timestamp: '2026-12-03T16:00:05+01:00',
      status: 'OFFLINE',
    },
  },
  {
    name: 'extra-fields',
    description: 'A degraded status with fields the parser does not know, which are dropped.',
    topic: TOPIC,
    payload: {
      serial_number_gateway: 'GW-0001',
      timestamp: '2026-12-03T15:00:05Z',
      status: 'degraded',
      uptime_seconds: 0,
      temperature_c: 41,
    },
  },
];

/** Gateway status payloads that must be refused, with every issue path they must report. */
export const GATEWAY_STATUS_INVALID_SAMPLES: readonly InvalidParserSample[] = [
  {
    name: 'three-problems',
    description: 'No status, a negative uptime and a fractional signal strength.',
    topic: TOPIC,
    payload: {
      serial_number_gateway: 'GW-0001',
      uptime_seconds: -5,
      signal_strength_dbm: -71.5,
    },
    expectedIssuePaths: ['status', 'uptime_seconds', 'signal_strength_dbm'],
  },
  {
    name: 'bad-timestamp',
    description: 'A timestamp that is not a date-time.',
    topic: TOPIC,
    payload: { serial_number_gateway: 'GW-0001', status: 'online', timestamp: '15:00' },
    expectedIssuePaths: ['timestamp'],
  },
  {
    name: 'no-serial',
    description: 'A last will without the gateway serial.',
    topic: TOPIC,
    payload: { status: 'offline' },
    expectedIssuePaths: ['serial_number_gateway'],
  },
  {
    name: 'gateway-serial-mismatch',
    description: 'The payload names another gateway than its topic.',
    topic: 'site_001/gateway/GW-0002/status',
    payload: { serial_number_gateway: 'GW-0001', status: 'online' },
    expectedIssuePaths: ['serial_number_gateway'],
  },
];
