import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { gatewayStatusParser } from '../../src/parsers/gateway-status.parser.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  safeParsePayload,
  type ParsePayloadResult,
} from '../../src/parsers/parse-payload.js';
import type { Parser, ParserSample } from '../../src/parsers/parser.js';
import {
  MAX_ISSUE_LIST_LENGTH,
  MAX_ISSUE_TEXT_LENGTH,
  PayloadInvalidError,
} from '../../src/parsers/payload-issue.js';
import {
  GATEWAY_STATUS_INVALID_SAMPLES,
  GATEWAY_STATUS_SAMPLES,
} from '../../src/parsers/samples/gateway-status.samples.js';
import {
  TELEMETRY_INVALID_SAMPLES,
  TELEMETRY_SAMPLES,
} from '../../src/parsers/samples/telemetry.samples.js';
import { telemetryParser } from '../../src/parsers/telemetry.parser.js';
import { FakePersistenceBatch, jsonBytes } from '../parsers/fake-persistence-batch.js';
import { FUZZ_TEST_OPTIONS, fuzzParameters } from './fuzz-parameters.js';

type Path = readonly (string | number)[];

interface Sample {
  parser: Parser;
  topic: string;
  payload: unknown;
}

const SHIPPED: {
  parser: Parser;
  valid: readonly ParserSample[];
  invalid: readonly ParserSample[];
}[] = [
  { parser: telemetryParser, valid: TELEMETRY_SAMPLES, invalid: TELEMETRY_INVALID_SAMPLES },
  {
    parser: gatewayStatusParser,
    valid: GATEWAY_STATUS_SAMPLES,
    invalid: GATEWAY_STATUS_INVALID_SAMPLES,
  },
];

const PARSERS = SHIPPED.map(({ parser }) => parser);

const VALID_SAMPLES: Sample[] = SHIPPED.flatMap(({ parser, valid }) =>
  valid.map(({ topic, payload }) => ({ parser, topic, payload })),
);

/** Every sample, valid or not: the starting points of the mutations. */
const ALL_SAMPLES: Sample[] = [
  ...VALID_SAMPLES,
  ...SHIPPED.flatMap(({ parser, invalid }) =>
    invalid.map(({ topic, payload }) => ({ parser, topic, payload })),
  ),
];

const REFUSAL_CODES: readonly string[] = [
  'PAYLOAD_NOT_JSON',
  'PAYLOAD_INVALID',
  'PAYLOAD_TOO_LARGE',
];

// The capped issue list plus its frame: "payload is invalid (N problems): " and "; and N more".
const MAX_MESSAGE_LENGTH = MAX_ISSUE_LIST_LENGTH + 100;

/** Text PostgreSQL text and jsonb refuse: NUL or an unpaired surrogate. */
function unstorable(text: string): boolean {
  return text.includes('\u0000') || /\p{Cs}/u.test(text);
}

const RECEIVED_AT = new Date('2026-12-03T15:00:02Z');

const OBJECT_PROTOTYPE_KEYS = Reflect.ownKeys(Object.prototype);
const ARRAY_PROTOTYPE_KEYS = Reflect.ownKeys(Array.prototype);

/**
 * Parses bytes and checks the outcome is clean: either a payload that `process` records into
 * a batch holding only storable values, or a refusal with a payload code and a clear, bounded
 * message. A throw from safeParsePayload fails the property by itself.
 */
function parseCleanly(
  bytes: Uint8Array,
  parser: Parser,
  topic: string,
): ParsePayloadResult<unknown> {
  const result = safeParsePayload(bytes, parser, topic);
  if (result.ok) expectProcessable(result.payload, parser, topic);
  else expect(refusalProblems(result.error)).toEqual([]);

  // Cheap enough for every run: a polluted prototype gains an own key.
  expect(Reflect.ownKeys(Object.prototype)).toHaveLength(OBJECT_PROTOTYPE_KEYS.length);
  expect(Reflect.ownKeys(Array.prototype)).toHaveLength(ARRAY_PROTOTYPE_KEYS.length);
  return result;
}

function parseEveryParser(bytes: Uint8Array, topic: string): void {
  for (const parser of PARSERS) parseCleanly(bytes, parser, topic);
}

/** What makes a refusal unclear: wrong class or code, an empty, unbounded or odd message. */
function refusalProblems(error: unknown): string[] {
  if (!(error instanceof AppError)) return [`not an AppError: ${String(error)}`];
  const { code, message } = error;
  const problems = [
    REFUSAL_CODES.includes(code) ? '' : `unexpected code ${code}`,
    typeof message === 'string' && message.trim() !== '' ? '' : 'empty message',
    message.length <= MAX_MESSAGE_LENGTH ? '' : `message of ${message.length} characters`,
    /\[object Object\]|: undefined\b|received undefined/.test(message) ? `vague: ${message}` : '',
    unstorable(message) ? 'message holds text PostgreSQL cannot store' : '',
  ];
  if (code === 'PAYLOAD_INVALID') problems.push(...issueProblems(error));
  return problems.filter((problem) => problem !== '');
}

function issueProblems(error: AppError): string[] {
  if (!(error instanceof PayloadInvalidError)) return ['PAYLOAD_INVALID without its issues'];
  if (error.issues.length === 0) return ['PAYLOAD_INVALID with no issue'];

  return error.issues.flatMap(({ path, message }) => {
    if (typeof path !== 'string' || message.trim() === '') return [`empty issue at ${path}`];
    // "expected number, received number" would be no explanation at all.
    return /expected (\w+), received \1$/.test(message) ? [`${path}: ${message}`] : [];
  });
}

function expectProcessable(payload: unknown, parser: Parser, topic: string): void {
  const batch = new FakePersistenceBatch();
  parser.process(payload, { siteId: 1, topic, receivedAt: RECEIVED_AT }, batch);

  const records = [
    ...batch.gateways,
    ...batch.dataloggers,
    ...batch.devices,
    ...batch.sensors,
    ...batch.readings,
  ];
  expect(batch.gateways.length).toBeGreaterThan(0);
  expect(unstorableValue(records, 'records')).toBeUndefined();
  expect(() => JSON.stringify(records)).not.toThrow();
}

/**
 * Where records hold a value the JSON-based database writers would alter or fail on: a
 * number JSON cannot carry, an invalid date, text PostgreSQL refuses, an odd prototype.
 */
function unstorableValue(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path}: ${value}`;
  if (typeof value === 'string') return unstorable(value) ? `${path}: text` : undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? `${path}: date` : undefined;
  if (value === null || value === undefined || typeof value === 'boolean') return undefined;
  if (typeof value !== 'object') return `${path}: ${typeof value}`;

  const prototype: unknown = Object.getPrototypeOf(value);
  const plain = Array.isArray(value) || prototype === Object.prototype || prototype === null;
  if (!plain) return `${path}: prototype`;
  for (const [key, child] of Object.entries(value)) {
    if (unstorable(key)) return `${path}.${key}: key`;
    const problem = unstorableValue(child, `${path}.${key}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function refusalOf(result: ParsePayloadResult<unknown>): AppError {
  if (result.ok) throw new Error('expected the payload to be refused');
  return result.error;
}

function issuePaths(result: ParsePayloadResult<unknown>): string[] {
  const error = refusalOf(result);
  expect(error).toBeInstanceOf(PayloadInvalidError);
  return (error as PayloadInvalidError).issues.map((issue) => issue.path);
}

/** Every path inside a JSON value, containers and leaves alike, the root excluded. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = [...prefix, Array.isArray(value) ? Number(key) : key];
    return [path, ...pathsOf(child, path)];
  });
}

/** Paths of every object inside a JSON value, the root included. */
function objectPathsOf(value: unknown): Path[] {
  const all = [[], ...pathsOf(value)];
  return all.filter((path) => {
    const node = valueAt(value, path);
    return typeof node === 'object' && node !== null && !Array.isArray(node);
  });
}

function valueAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], value);
}

/**
 * A copy of a JSON value with one own property set, `__proto__` included: defineProperty
 * creates the key itself where plain assignment would replace the object's prototype.
 */
function withValueAt(value: unknown, path: Path, replacement: unknown): unknown {
  const copy = structuredClone(value);
  if (path.length === 0) return replacement;

  const parent = valueAt(copy, path.slice(0, -1)) as Record<string, unknown>;
  defineOwn(parent, path.at(-1)!, replacement);
  return copy;
}

function defineOwn(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

const RAW_MARKER = '\u2063raw-token\u2063';

/** The JSON text of a value with the JSON text `token` spliced in at a path. */
function textWithRawToken(value: unknown, path: Path, token: string): string {
  return JSON.stringify(withValueAt(value, path, RAW_MARKER)).replace(
    JSON.stringify(RAW_MARKER),
    () => token,
  );
}

const sampleArb = fc.constantFrom(...ALL_SAMPLES);
const validSampleArb = fc.constantFrom(...VALID_SAMPLES);

/** A sample and one path inside it. */
const sampleAndPathArb = sampleArb.chain((sample) =>
  fc.constantFrom(...pathsOf(sample.payload)).map((path) => ({ sample, path })),
);

// Keys a schema does not know, including the ones prototype pollution works through.
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
];

const KNOWN_KEYS = new Set(
  ALL_SAMPLES.flatMap(({ payload }) => pathsOf(payload).map((path) => String(path.at(-1)))).concat([
    'status',
    'timestamp',
    'firmware_version',
    'uptime_seconds',
    'signal_strength_dbm',
  ]),
);

const unknownKeyArb = fc
  .oneof(
    fc.constantFrom(...HOSTILE_KEYS),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
  )
  .filter((key) => !KNOWN_KEYS.has(key) && !unstorable(key));

// Small enough that a value added anywhere stays well within MAX_PAYLOAD_DEPTH.
const smallJsonArb = fc.jsonValue({ maxDepth: 4 });

const HUGE_NUMBER_TOKENS = [
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '1e309',
  '-1e400',
  '1e-400',
  '4.9e-324',
  '-0',
  String(Number.MAX_SAFE_INTEGER + 2),
  '9007199254740993',
  '9'.repeat(400),
  `-${'1'.repeat(400)}`,
  `0.${'0'.repeat(399)}1`,
  `${'7'.repeat(400)}.5e-10`,
];

const NAN_LIKE_STRINGS = [
  'NaN',
  '-NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '+Infinity',
  'undefined',
  'null',
  '1e400',
  '0x1F',
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\u200b',
];

// Bare tokens JavaScript knows but JSON does not.
const NON_JSON_TOKENS = [
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  '+1',
  '.5',
  '1.',
  '01',
  '0x10',
];

const wrongValueArb = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, '', 'x', [], {}, [[]], [null], { a: 1 }),
  fc.constantFrom(...NAN_LIKE_STRINGS),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, Number.MIN_VALUE),
  smallJsonArb,
);

describe('safeParsePayload on random and mutated payloads', () => {
  it('covers every shipped parser', () => {
    const shipped = createDefaultRegistry()
      .list()
      .map((parser) => parser.parserName);
    expect(PARSERS.map((parser) => parser.parserName).sort()).toEqual(shipped.sort());
  });

  it('accepts every valid sample and records it into a batch', () => {
    for (const { parser, topic, payload } of VALID_SAMPLES) {
      expect(parseCleanly(jsonBytes(payload), parser, topic).ok).toBe(true);
    }
  });

  it('refuses arbitrary bytes cleanly', FUZZ_TEST_OPTIONS, () => {
    const topics = fc.constantFrom(...ALL_SAMPLES.map((sample) => sample.topic));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), topics, (bytes, topic) => {
        parseEveryParser(bytes, topic);
      }),
      fuzzParameters(300),
    );
  });

  it('refuses an empty payload as not JSON', () => {
    for (const { parser, topic } of VALID_SAMPLES) {
      expect(refusalOf(parseCleanly(new Uint8Array(0), parser, topic)).code).toBe(
        'PAYLOAD_NOT_JSON',
      );
    }
  });

  it('refuses every truncated sample as not JSON', FUZZ_TEST_OPTIONS, () => {
    const truncated = fc
      .tuple(sampleArb, fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([sample, pretty, fraction]) => {
        const bytes = Buffer.from(JSON.stringify(sample.payload, null, pretty ? 2 : undefined));
        const length = Math.min(bytes.length - 1, Math.floor(bytes.length * fraction));
        return { sample, bytes: bytes.subarray(0, length) };
      });

    fc.assert(
      fc.property(truncated, ({ sample, bytes }) => {
        const result = parseCleanly(bytes, sample.parser, sample.topic);
        expect(refusalOf(result).code).toBe('PAYLOAD_NOT_JSON');
      }),
      fuzzParameters(300),
    );
  });

  it('refuses a truncated multi-byte character as not JSON', () => {
    const { parser, topic, payload } = VALID_SAMPLES[0]!;
    const text = JSON.stringify(withValueAt(payload, ['note'], 'Zürich 😀 ✓'));
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(Buffer.from('😀')) + 2;
    const unfinished = Buffer.concat([bytes.subarray(0, cut), bytes.subarray(cut + 2)]);

    const error = refusalOf(parseCleanly(unfinished, parser, topic));
    expect(error.message).toBe('payload is not valid UTF-8');
  });

  it('refuses invalid UTF-8 anywhere in a sample cleanly', FUZZ_TEST_OPTIONS, () => {
    const invalidSequences = fc.constantFrom(
      [0xff],
      [0xc3, 0x28],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    );
    const corrupted = fc
      .tuple(sampleArb, invalidSequences, fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([sample, sequence, fraction]) => {
        const bytes = jsonBytes(sample.payload);
        const at = Math.floor(bytes.length * fraction);
        const spliced = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from(sequence),
          bytes.subarray(at),
        ]);
        return { sample, bytes: spliced };
      });

    fc.assert(
      fc.property(corrupted, ({ sample, bytes }) => {
        const error = refusalOf(parseCleanly(bytes, sample.parser, sample.topic));
        expect(error.message).toBe('payload is not valid UTF-8');
      }),
      fuzzParameters(200),
    );
  });

  it('refuses a payload just above the size limit, whatever it holds', FUZZ_TEST_OPTIONS, () => {
    const oversized = fc.tuple(sampleArb, fc.integer({ min: 1, max: 64 }));
    fc.assert(
      fc.property(oversized, ([sample, extra]) => {
        const body = jsonBytes(sample.payload);
        const bytes = Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES + extra, 0x20);
        body.copy(bytes);

        const error = refusalOf(parseCleanly(bytes, sample.parser, sample.topic));
        expect(error.code).toBe('PAYLOAD_TOO_LARGE');
      }),
      fuzzParameters(10),
    );
  });

  it('accepts a sample padded to exactly the size limit', () => {
    const { parser, topic, payload } = VALID_SAMPLES[0]!;
    const bytes = Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES, 0x20);
    jsonBytes(payload).copy(bytes);

    expect(parseCleanly(bytes, parser, topic).ok).toBe(true);
  });

  it('handles a wrong type at every path of every sample', () => {
    for (const sample of VALID_SAMPLES) {
      for (const path of pathsOf(sample.payload)) {
        for (const wrong of [null, true, 'NaN', [], {}]) {
          parseCleanly(
            jsonBytes(withValueAt(sample.payload, path, wrong)),
            sample.parser,
            sample.topic,
          );
        }
      }
    }
  });

  it('handles a random JSON value at a random path of a sample', FUZZ_TEST_OPTIONS, () => {
    fc.assert(
      fc.property(sampleAndPathArb, wrongValueArb, ({ sample, path }, wrong) => {
        const payload = withValueAt(sample.payload, path, wrong);
        parseCleanly(jsonBytes(payload), sample.parser, sample.topic);
      }),
      fuzzParameters(300),
    );
  });

  it('handles huge and tiny numbers spliced in at any path', FUZZ_TEST_OPTIONS, () => {
    const token = fc.constantFrom(...HUGE_NUMBER_TOKENS);
    fc.assert(
      fc.property(sampleAndPathArb, token, ({ sample, path }, raw) => {
        const text = textWithRawToken(sample.payload, path, raw);
        parseCleanly(Buffer.from(text), sample.parser, sample.topic);
      }),
      fuzzParameters(300),
    );
  });

  it(
    'refuses bare NaN, Infinity and other JavaScript-only tokens as not JSON',
    FUZZ_TEST_OPTIONS,
    () => {
      const token = fc.constantFrom(...NON_JSON_TOKENS);
      fc.assert(
        fc.property(sampleAndPathArb, token, ({ sample, path }, raw) => {
          const text = textWithRawToken(sample.payload, path, raw);
          const error = refusalOf(parseCleanly(Buffer.from(text), sample.parser, sample.topic));
          expect(error.code).toBe('PAYLOAD_NOT_JSON');
        }),
        fuzzParameters(200),
      );
    },
  );

  it(
    'keeps a valid sample valid when unknown fields are added at any level',
    FUZZ_TEST_OPTIONS,
    () => {
      const extended = validSampleArb.chain((sample) =>
        fc
          .array(
            fc.tuple(
              fc.constantFrom(...objectPathsOf(sample.payload)),
              unknownKeyArb,
              smallJsonArb,
            ),
            {
              minLength: 1,
              maxLength: 4,
            },
          )
          .map((additions) => {
            let payload = sample.payload;
            for (const [path, key, value] of additions) {
              payload = withValueAt(payload, [...path, key], value);
            }
            return { sample, payload };
          }),
      );

      fc.assert(
        fc.property(extended, ({ sample, payload }) => {
          const result = parseCleanly(jsonBytes(payload), sample.parser, sample.topic);
          expect(result.ok).toBe(true);
        }),
        fuzzParameters(200),
      );
    },
  );

  it('never lets __proto__ or constructor keys reach a prototype', () => {
    const attack = { polluted: 'yes', isOnline: false, serial_number_gateway: 'EVIL' };
    for (const sample of VALID_SAMPLES) {
      let payload = sample.payload;
      for (const path of objectPathsOf(sample.payload)) {
        payload = withValueAt(payload, [...path, '__proto__'], attack);
        payload = withValueAt(payload, [...path, 'constructor'], { prototype: attack });
      }
      const result = parseCleanly(jsonBytes(payload), sample.parser, sample.topic);

      expect(result.ok).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      for (const path of objectPathsOf(result.ok ? result.payload : undefined)) {
        const node = valueAt(result.ok ? result.payload : undefined, path) as object;
        expect(Object.getPrototypeOf(node)).toBe(Object.prototype);
        // Only the attack's own data, kept as sent in raw_metadata, may hold the key.
        if ('polluted' in node) expect(Object.hasOwn(node, 'polluted')).toBe(true);
      }
    }
  });

  it(
    'handles random unicode keys and values in place of a whole payload',
    FUZZ_TEST_OPTIONS,
    () => {
      const unicodeJson = fc.jsonValue({ maxDepth: 5, stringUnit: 'binary' });
      const topics = fc.constantFrom(...ALL_SAMPLES.map((sample) => sample.topic));
      fc.assert(
        fc.property(unicodeJson, topics, (value, topic) =>
          parseEveryParser(jsonBytes(value), topic),
        ),
        fuzzParameters(300),
      );
    },
  );

  it('handles NUL, unpaired surrogates and NaN-like strings at any path', FUZZ_TEST_OPTIONS, () => {
    const strings = fc.oneof(
      fc.constantFrom(...NAN_LIKE_STRINGS),
      fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udfff', 'a', '😀'), maxLength: 6 }),
    );
    fc.assert(
      fc.property(sampleAndPathArb, strings, ({ sample, path }, text) => {
        parseCleanly(
          jsonBytes(withValueAt(sample.payload, path, text)),
          sample.parser,
          sample.topic,
        );
      }),
      fuzzParameters(300),
    );
  });

  it('refuses deep nesting at any path cleanly, however deep', FUZZ_TEST_OPTIONS, () => {
    const nesting = fc.tuple(
      sampleAndPathArb,
      fc.constantFrom(MAX_PAYLOAD_DEPTH, 500, 5_000, 50_000),
      fc.constantFrom('array', 'object'),
    );
    fc.assert(
      fc.property(nesting, ([{ sample, path }, depth, kind]) => {
        const deep =
          kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : nestedObjects(depth);
        const text = textWithRawToken(sample.payload, path, deep);
        parseCleanly(Buffer.from(text), sample.parser, sample.topic);
      }),
      fuzzParameters(40),
    );
  });
});

function nestedObjects(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe('safeParsePayload at its limits', () => {
  const { parser, topic } = VALID_SAMPLES[0]!;

  function telemetryWith(fields: Record<string, unknown>): unknown {
    return { ...(VALID_SAMPLES[0]!.payload as object), ...fields };
  }

  it('refuses 5,000 levels of nesting as invalid instead of overflowing the stack', () => {
    for (const text of ['['.repeat(5_000) + ']'.repeat(5_000), nestedObjects(5_000)]) {
      const error = refusalOf(parseCleanly(Buffer.from(text), parser, topic));
      expect(error.message).toBe(
        'payload is invalid (1 problem): (payload): is nested deeper than 64 levels of arrays and objects',
      );
    }
  });

  it('refuses half a million levels of nesting, as deep as fits in the size limit', () => {
    const depth = DEFAULT_MAX_PAYLOAD_BYTES / 2 - 1;
    const text = '['.repeat(depth) + ']'.repeat(depth);
    expect(refusalOf(parseCleanly(Buffer.from(text), parser, topic)).code).toBe('PAYLOAD_INVALID');
  });

  it('accepts a reading value that nests the payload exactly 64 levels deep', () => {
    // The value sits 7 levels down: root, dataloggers, datalogger, devices, device, data, item.
    const value = nestedValue(MAX_PAYLOAD_DEPTH - 7);
    const payload = withValueAt(
      VALID_SAMPLES[0]!.payload,
      ['dataloggers', 0, 'devices', 0, 'data', 2, 'value'],
      value,
    );
    expect(parseCleanly(jsonBytes(payload), parser, topic).ok).toBe(true);
  });

  it('refuses a header field nested too deep to store in raw_metadata', () => {
    const payload = telemetryWith({ extra: nestedValue(MAX_PAYLOAD_DEPTH) });
    expect(refusalOf(parseCleanly(jsonBytes(payload), parser, topic)).code).toBe('PAYLOAD_INVALID');
  });

  it('refuses a reading of 1e400 instead of storing it as null', () => {
    const path = ['dataloggers', 0, 'devices', 0, 'data', 2, 'value'];
    const result = parseCleanly(
      Buffer.from(textWithRawToken(VALID_SAMPLES[0]!.payload, path, '1e400')),
      parser,
      topic,
    );
    expect(refusalOf(result).message).toBe(
      'payload is invalid (1 problem): dataloggers.0.devices.0.data.2.value: number out of range (beyond ±1.8e308)',
    );
  });

  it('names a 400-digit number out of range once, not twice', () => {
    const status = { serial_number_gateway: 'GW-0001', status: 'online', uptime_seconds: 0 };
    const text = textWithRawToken(status, ['uptime_seconds'], '9'.repeat(400));
    const result = parseCleanly(
      Buffer.from(text),
      gatewayStatusParser,
      'site_001/gateway/GW-0001/status',
    );
    expect(issuePaths(result)).toEqual(['uptime_seconds']);
  });

  it('refuses NUL and unpaired surrogates in strings and keys, which PostgreSQL cannot store', () => {
    const payload = telemetryWith({
      serial_number_gateway: 'GW-0001',
      'note\u0000': 1,
      site_name: 'north\ud800',
    });
    const result = parseCleanly(jsonBytes(payload), parser, topic);
    expect(issuePaths(result)).toEqual(['note\u0000', 'site_name']);
    expect(refusalOf(result).message).toContain('note\uFFFD: key holds a NUL character');
  });

  it('quotes no NUL from the text around a JSON syntax error', () => {
    const error = refusalOf(parseCleanly(Buffer.from('{"a":\u0000}'), parser, topic));
    expect(error.code).toBe('PAYLOAD_NOT_JSON');
    expect(error.message).toContain('\uFFFD');
    expect(error.message).not.toContain('\u0000');
  });

  it('refuses 250,000 problems under one field instead of overflowing the stack', () => {
    const zeros = Array(250_000).fill('0').join(',');
    const path = ['dataloggers', 0, 'devices', 0, 'data'];
    const text = textWithRawToken(VALID_SAMPLES[0]!.payload, path, `[${zeros}]`);

    const error = refusalOf(parseCleanly(Buffer.from(text), parser, topic));
    expect(error.message).toBe(
      'payload is invalid (1 problem): (payload): has too many problems to check',
    );
  });

  it('caps the summary of thousands of problems and counts the ones left out', () => {
    const items = Array.from({ length: 5_000 }, (_, index) => index);
    const payload = telemetryWith({ dataloggers: items });
    const error = refusalOf(parseCleanly(jsonBytes(payload), parser, topic)) as PayloadInvalidError;

    expect(error.issues).toHaveLength(5_000);
    expect(error.message.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(error.message).toMatch(/^payload is invalid \(5000 problems\): dataloggers\.0: /);
    expect(error.message).toMatch(/; and \d+ more$/);
  });

  it('cuts one very long problem to a bounded length', () => {
    const longType = 'y'.repeat(400_000);
    const data = [
      { type: longType, value: 1 },
      { type: longType, value: 2 },
    ];
    const payload = withValueAt(
      VALID_SAMPLES[0]!.payload,
      ['dataloggers', 0, 'devices', 0, 'data'],
      data,
    );
    const error = refusalOf(parseCleanly(jsonBytes(payload), parser, topic));

    expect(error.message.length).toBeLessThanOrEqual(3 * MAX_ISSUE_TEXT_LENGTH + 100);
    expect(error.message).toContain('…');
  });
});

function nestedValue(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = { level: value };
  return value;
}

describe('the validation message of a payload with several independent problems', () => {
  // Each mutation breaks one field of the specification sample in its own way.
  const MUTATIONS: { path: Path; value: unknown }[] = [
    { path: ['serial_number_gateway'], value: 42 },
    { path: ['timestamp'], value: 'yesterday' },
    { path: ['message_interval_seconds'], value: -1 },
    { path: ['mqtt_api_version'], value: 1.1 },
    { path: ['dataloggers', 0, 'status_datalogger'], value: null },
    { path: ['dataloggers', 0, 'serial_number_datalogger'], value: ' ' },
    { path: ['dataloggers', 0, 'devices', 0, 'type'], value: [] },
    { path: ['dataloggers', 0, 'devices', 0, 'data', 0, 'value', 1], value: 'a' },
    { path: ['dataloggers', 0, 'devices', 0, 'data', 1, 'type'], value: {} },
    { path: ['dataloggers', 0, 'devices', 0, 'data', 2, 'value'], value: true },
  ];
  const { parser, topic, payload } = VALID_SAMPLES[0]!;

  it('names exactly the N broken paths, for any N of them', FUZZ_TEST_OPTIONS, () => {
    const chosen = fc.subarray(MUTATIONS, { minLength: 1 });
    fc.assert(
      fc.property(chosen, (mutations) => {
        let broken = payload;
        for (const { path, value } of mutations) broken = withValueAt(broken, path, value);
        const result = parseCleanly(jsonBytes(broken), parser, topic);

        const expected = mutations.map(({ path }) => path.join('.'));
        expect(issuePaths(result).sort()).toEqual(expected.sort());
        const { message } = refusalOf(result);
        const count = mutations.length === 1 ? '1 problem' : `${mutations.length} problems`;
        expect(message).toContain(`(${count})`);
        for (const path of expected) expect(message).toContain(`${path}: `);
      }),
      fuzzParameters(100),
    );
  });
});
