import { describe, expect, it } from 'vitest';
import {
  gatewayStatusParser,
  type GatewayStatusPayload,
} from '../../src/parsers/gateway-status.parser.js';
import { parsePayload } from '../../src/parsers/parse-payload.js';
import { PayloadInvalidError } from '../../src/parsers/payload-issue.js';
import {
  GATEWAY_STATUS_INVALID_SAMPLES,
  GATEWAY_STATUS_SAMPLES,
} from '../../src/parsers/samples/gateway-status.samples.js';
import { FakePersistenceBatch, jsonBytes } from './fake-persistence-batch.js';

const RECEIVED_AT = new Date('2026-12-03T15:10:00Z');

function parse(payload: unknown, topic: string): GatewayStatusPayload {
  return parsePayload(jsonBytes(payload), gatewayStatusParser, topic);
}

function processSample(name: string): FakePersistenceBatch {
  const found = GATEWAY_STATUS_SAMPLES.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no gateway status sample "${name}"`);

  const batch = new FakePersistenceBatch();
  const context = { siteId: 1, topic: found.topic, receivedAt: RECEIVED_AT };
  gatewayStatusParser.process(parse(found.payload, found.topic), context, batch);
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

describe('gateway_status parser', () => {
  it.each(GATEWAY_STATUS_SAMPLES.map((s) => [s.name, s] as const))(
    'accepts the sample %s',
    (_name, { payload, topic }) => {
      expect(() => parse(payload, topic)).not.toThrow();
    },
  );

  it.each(GATEWAY_STATUS_INVALID_SAMPLES.map((s) => [s.name, s] as const))(
    'refuses the sample %s with every failing path',
    (_name, { payload, topic, expectedIssuePaths }) => {
      expect(issuePaths(payload, topic).sort()).toEqual([...expectedIssuePaths].sort());
    },
  );

  it('records every status field of an online gateway', () => {
    const batch = processSample('specification');
    const at = new Date('2026-12-03T15:00:05Z');

    expect(batch.gateways).toEqual([
      {
        serialNumber: 'GW-0001',
        seenAt: at,
        statusAt: at,
        isOnline: true,
        status: 'online',
        firmwareVersion: '2.4.1',
        uptimeSeconds: 86400,
        signalStrengthDbm: -71,
      },
    ]);
    expect(batch.readings).toEqual([]);
  });

  it('marks the gateway offline from its last will, at the time it was received', () => {
    const batch = processSample('last-will');

    expect(batch.gateways).toEqual([
      {
        serialNumber: 'GW-0001',
        seenAt: RECEIVED_AT,
        statusAt: RECEIVED_AT,
        isOnline: false,
        status: 'offline',
      },
    ]);
  });

  it('reads offline in any case and uses the payload timestamp when there is one', () => {
    const batch = processSample('offline-with-timestamp');

    expect(batch.gateways[0]).toMatchObject({
      isOnline: false,
      status: 'OFFLINE',
      statusAt: new Date('2026-12-03T15:00:05Z'),
    });
  });

  it('counts any status but offline as online and drops unknown fields', () => {
    const batch = processSample('extra-fields');

    expect(batch.gateways[0]).toMatchObject({
      isOnline: true,
      status: 'degraded',
      uptimeSeconds: 0,
    });
    expect(batch.gateways[0]).not.toHaveProperty('temperature_c');
    expect(batch.gateways[0]).not.toHaveProperty('firmwareVersion');
  });
});
