import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isAppError } from '../../src/errors.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  parsePayload,
  safeParsePayload,
} from '../../src/parsers/parse-payload.js';
import type { Parser } from '../../src/parsers/parser.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import { PayloadInvalidError } from '../../src/parsers/payload-issue.js';
import { FakePersistenceBatch, jsonBytes } from './fake-persistence-batch.js';

const TOPIC = 'plant/line/1';

const sampleParser: Parser<{ name: string; count: number; tags: string[] }> = {
  parserName: 'sample',
  topicFilter: 'plant/#',
  description: 'A parser for these tests.',
  schema: z.object({ name: z.string(), count: z.number().int(), tags: z.array(z.string()) }),
  samples: [],
  checkTopic: (payload, topic) =>
    payload.name === 'wrong-topic' ? [{ path: 'name', message: `not for ${topic}` }] : [],
  process: () => undefined,
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parsePayload', () => {
  it('returns the validated payload', () => {
    const bytes = jsonBytes({ name: 'a', count: 2, tags: ['x'] });
    expect(parsePayload(bytes, sampleParser, TOPIC)).toEqual({ name: 'a', count: 2, tags: ['x'] });
  });

  it('accepts a UTF-8 byte order mark and non-ASCII text', () => {
    const text = '\uFEFF{"name":"Zürich ✓","count":1,"tags":[]}';
    expect(parsePayload(Buffer.from(text), sampleParser, TOPIC).name).toBe('Zürich ✓');
  });

  it('refuses text that is not JSON with the parser error message', () => {
    const error = thrown(() => parsePayload(Buffer.from('{"name": '), sampleParser, TOPIC));

    expect(isAppError(error, 'PAYLOAD_NOT_JSON')).toBe(true);
    expect((error as Error).message).toMatch(/^payload is not JSON: .*JSON/);
    expect((error as PayloadInvalidError).context).toEqual({ parserName: 'sample', topic: TOPIC });
  });

  it('refuses an empty payload as not JSON', () => {
    const error = thrown(() => parsePayload(Buffer.alloc(0), sampleParser, TOPIC));
    expect(isAppError(error, 'PAYLOAD_NOT_JSON')).toBe(true);
  });

  it('refuses invalid UTF-8 instead of replacing the bad bytes', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"name":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const error = thrown(() => parsePayload(bytes, sampleParser, TOPIC));

    expect(isAppError(error, 'PAYLOAD_NOT_JSON')).toBe(true);
    expect((error as Error).message).toBe('payload is not valid UTF-8');
  });

  it('refuses a payload above the default limit of 1 MiB before decoding it', () => {
    const bytes = Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES + 1, 0x20);
    const error = thrown(() => parsePayload(bytes, sampleParser, TOPIC));

    expect(DEFAULT_MAX_PAYLOAD_BYTES).toBe(1_048_576);
    expect(isAppError(error, 'PAYLOAD_TOO_LARGE')).toBe(true);
    expect((error as Error).message).toBe('payload is 1048577 bytes; the limit is 1048576');
  });

  it('takes the size limit as an option and accepts a payload exactly at it', () => {
    const bytes = jsonBytes({ name: 'a', count: 2, tags: [] });
    const atLimit = { maxBytes: bytes.byteLength };
    const belowLimit = { maxBytes: bytes.byteLength - 1 };

    expect(parsePayload(bytes, sampleParser, TOPIC, atLimit).name).toBe('a');
    expect(isAppError(thrown(() => parsePayload(bytes, sampleParser, TOPIC, belowLimit)))).toBe(
      true,
    );
  });

  it('lists every failing path, in the message and as data', () => {
    const bytes = jsonBytes({ count: 1.5, tags: ['ok', 3] });
    const error = thrown(() => parsePayload(bytes, sampleParser, TOPIC));

    expect(error).toBeInstanceOf(PayloadInvalidError);
    expect(isAppError(error, 'PAYLOAD_INVALID')).toBe(true);
    expect((error as PayloadInvalidError).issues).toEqual([
      { path: 'name', message: 'required' },
      { path: 'count', message: 'expected integer, received number' },
      { path: 'tags.1', message: 'expected string, received number' },
    ]);
    expect((error as Error).message).toBe(
      'payload is invalid (3 problems): name: required; ' +
        'count: expected integer, received number; tags.1: expected string, received number',
    );
  });

  it('names escaped NUL and unpaired surrogates in keys and values, not escaped backslashes', () => {
    const text =
      '{"name":"a\\\\u0000b","count":1,"tags":["\\ud800"],' +
      '"extra":{"deep":[{"k\\u0000":1}]},"fine":"\\u00e9\\ud83d\\ude00"}';
    const error = thrown(() => parsePayload(Buffer.from(text), sampleParser, TOPIC));

    expect((error as PayloadInvalidError).issues).toEqual([
      { path: 'tags.0', message: 'holds a NUL character or an unpaired surrogate' },
      {
        path: 'extra.deep.0.k\u0000',
        message: 'key holds a NUL character or an unpaired surrogate',
      },
    ]);
  });

  it("runs the parser's topic checks on a valid payload", () => {
    const bytes = jsonBytes({ name: 'wrong-topic', count: 1, tags: [] });
    const error = thrown(() => parsePayload(bytes, sampleParser, TOPIC));

    expect((error as PayloadInvalidError).issues).toEqual([
      { path: 'name', message: `not for ${TOPIC}` },
    ]);
  });
});

describe('safeParsePayload', () => {
  it('returns the payload or the refusal as a value', () => {
    const good = safeParsePayload(
      jsonBytes({ name: 'a', count: 1, tags: [] }),
      sampleParser,
      TOPIC,
    );
    const bad = safeParsePayload(Buffer.from('nope'), sampleParser, TOPIC);

    expect(good).toEqual({ ok: true, payload: { name: 'a', count: 1, tags: [] } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.code).toBe('PAYLOAD_NOT_JSON');
  });
});

describe('parsePayload on arbitrary input', () => {
  const parsers = createDefaultRegistry().list();
  const topic = 'site/gateway/GW-1/dataloggers/telemetry';
  const context = { siteId: 1, topic, receivedAt: new Date() };

  function failsOnlyWithAppErrors(bytes: Uint8Array): boolean {
    for (const parser of parsers) {
      const result = safeParsePayload(bytes, parser, topic);
      if (!result.ok && !isAppError(result.error)) return false;
      if (result.ok) parser.process(result.payload, context, new FakePersistenceBatch());
    }
    return true;
  }

  it('refuses random bytes with an AppError, never a crash', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), failsOnlyWithAppErrors), {
      seed: 20261203,
      numRuns: 500,
    });
  });

  it('refuses random JSON, nested or not, with an AppError, never a crash', () => {
    // Close to a telemetry payload, with any field missing or replaced by any JSON, so the
    // checks that run on partly invalid payloads (duplicates, serial keys) meet odd shapes.
    const either = <T>(good: fc.Arbitrary<T>) => fc.oneof(good, fc.jsonValue());
    const partial = { requiredKeys: [] as [] };
    const item = fc.record(
      { type: either(fc.constantFrom('accelerometer', 'inclinometer')), value: fc.jsonValue() },
      partial,
    );
    const device = fc.record(
      {
        type: either(fc.constant('T')),
        'serial number device': either(fc.constantFrom('D-1', 'D-2')),
        serial_number_device: either(fc.constantFrom('D-1', 'D-2')),
        data: either(fc.array(item, { maxLength: 3 })),
      },
      partial,
    );
    const datalogger = fc.record(
      {
        serial_number_datalogger: either(fc.constantFrom('DL-1', 'DL-2')),
        status_datalogger: either(fc.constant('ok')),
        devices: either(fc.array(device, { maxLength: 3 })),
      },
      partial,
    );
    const shaped = fc.record(
      {
        serial_number_gateway: either(fc.constant('GW-1')),
        timestamp: either(fc.constant('2026-12-03T15:00:00Z')),
        status: either(fc.constant('offline')),
        dataloggers: either(fc.array(datalogger, { maxLength: 3 })),
      },
      partial,
    );
    const json = fc.oneof(fc.jsonValue(), shaped);

    fc.assert(
      fc.property(json, (value) => failsOnlyWithAppErrors(jsonBytes(value))),
      { seed: 20261203, numRuns: 500 },
    );
  });
});
