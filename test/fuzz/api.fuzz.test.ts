import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHarness, type ApiHarness } from '../support/api-harness.js';
import { FUZZ_TEST_OPTIONS, fuzzParameters } from './fuzz-parameters.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

// Every route that takes input, with the methods that accept a body.
const ROUTES: Array<{ method: Method; path: string }> = [
  { method: 'GET', path: '/api/sites' },
  { method: 'POST', path: '/api/sites' },
  { method: 'GET', path: '/api/sites/:id' },
  { method: 'PATCH', path: '/api/sites/:id' },
  { method: 'DELETE', path: '/api/sites/:id' },
  { method: 'GET', path: '/api/sites/:id/connection' },
  { method: 'PUT', path: '/api/sites/:id/connection' },
  { method: 'POST', path: '/api/sites/:id/connection/start' },
  { method: 'POST', path: '/api/sites/:id/connection/stop' },
  { method: 'GET', path: '/api/sites/:id/connection/topics' },
  { method: 'POST', path: '/api/sites/:id/connection/topics' },
  { method: 'PATCH', path: '/api/topics/:id' },
  { method: 'DELETE', path: '/api/topics/:id' },
  { method: 'GET', path: '/api/sites/:id/discovered-topics' },
  { method: 'POST', path: '/api/discovered-topics/:id/promote' },
  { method: 'GET', path: '/api/connection-logs' },
  { method: 'GET', path: '/api/parsing-logs' },
  { method: 'POST', path: '/api/parsing-logs/replay' },
  { method: 'GET', path: '/api/sites/:id/gateways' },
  { method: 'GET', path: '/api/gateways/:id' },
  { method: 'GET', path: '/api/sensors/:id/readings' },
];

// Input a careless implementation trips over: SQL and LIKE metacharacters, MQTT wildcards
// in the wrong places, NUL, unpaired surrogates, numbers out of range, prototype keys.
const HOSTILE = [
  "' or 1=1 --",
  "'; drop table site; --",
  '%',
  '_',
  '\\',
  '\u0000',
  'a/#/b',
  '#/a',
  'a+b/c',
  '+/+/#',
  '$SYS/#',
  '((((',
  '.*',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '\uD800',
  '𝕏',
  '1e309',
  '-1',
  '0',
  'NaN',
  '9'.repeat(40),
  '2026-13-45T99:99:99Z',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
];

const FIELDS = [
  'name',
  'is_active',
  'broker_host',
  'broker_port',
  'use_tls',
  'ca_cert',
  'username',
  'password',
  'client_id_prefix',
  'discovery_pattern',
  'topic_pattern',
  'qos_level',
  'description',
  'parser_name',
  'ids',
  'filter',
  'site_id',
  'level',
  'error_type',
  'since',
  'until',
  'from',
  'to',
  'limit',
  'offset',
  '__proto__',
  'constructor',
  'unknown_field',
];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);

const body = fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 8 }),
  fc.jsonValue({ maxDepth: 3 }),
);

const pathValue = fc.oneof(
  fc.integer({ min: 1, max: 5 }).map(String),
  fc.constantFrom(...HOSTILE),
  fc.string({ maxLength: 20 }),
);

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  id: pathValue,
  query: fc.dictionary(fc.constantFrom(...FIELDS), hostileString, { maxKeys: 4 }),
  body,
  raw: fc.option(fc.string({ maxLength: 60 }), { freq: 4 }),
});

describe('control API under random and hostile input', () => {
  let harness: ApiHarness;
  let app: FastifyInstance;

  beforeAll(async () => {
    harness = await createApiHarness('api_fuzz');
    app = await harness.build();
    const auth = harness.auth(harness.keys.admin);
    const site = await app.inject({
      method: 'POST',
      url: '/api/sites',
      headers: auth,
      payload: { name: 'fuzz-site' },
    });
    await app.inject({
      method: 'PUT',
      url: `/api/sites/${site.json<{ id: number }>().id}/connection`,
      headers: auth,
      payload: { broker_host: '127.0.0.1', client_id_prefix: 'fuzz', is_active: false },
    });
  });

  afterAll(async () => {
    await harness?.close();
  });

  const expectClientError = (status: number, payload: string, what: string) => {
    expect(status, `${what} -> ${status} ${payload.slice(0, 300)}`).toBeLessThan(500);
    if (status < 400) return;

    const parsed = JSON.parse(payload) as { error?: unknown };
    expect(typeof parsed.error, `${what}: ${payload.slice(0, 300)}`).toBe('string');
    expect(String(parsed.error).length).toBeGreaterThan(0);
  };

  it(
    'answers every request with a 2xx or a 4xx that says what is wrong, never a 5xx',
    FUZZ_TEST_OPTIONS,
    async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request, async (input) => {
          const url = `${input.route.path.replace(':id', pathSegment(input.id))}`;
          const options: InjectOptions = {
            method: input.route.method,
            url,
            query: input.query,
            headers: harness.auth(harness.keys.admin),
          };
          const hasBody = ['POST', 'PUT', 'PATCH'].includes(input.route.method);
          if (hasBody && input.raw !== null) {
            options.payload = input.raw;
            options.headers = { ...options.headers, 'content-type': 'application/json' };
          } else if (hasBody) {
            options.payload = input.body as NonNullable<InjectOptions['payload']>;
          }

          const response = await harness.inject(app, options);
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          expectClientError(response.statusCode, response.body, `${input.route.method} ${url}`);
        }),
        fuzzParameters(150),
      );

      // The input reached the handlers, not only the key check: some of it was accepted.
      const seen = [...statuses.keys()];
      expect(
        seen.some((status) => status < 300),
        JSON.stringify([...statuses]),
      ).toBe(true);
      expect(seen).toContain(400);
    },
  );

  it('refuses a body over the size limit with 413 and a message', async () => {
    const response = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...harness.auth(harness.keys.admin), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });

    expect(response.statusCode).toBe(413);
    expectClientError(response.statusCode, response.body, 'huge body');
  });

  it('refuses deeply nested JSON and other content types with a 4xx', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const nested = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...harness.auth(harness.keys.admin), 'content-type': 'application/json' },
      payload: deep,
    });
    const text = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...harness.auth(harness.keys.admin), 'content-type': 'text/plain' },
      payload: 'name=x',
    });

    expectClientError(nested.statusCode, nested.body, 'deep JSON');
    expect(nested.statusCode).toBeGreaterThanOrEqual(400);
    expectClientError(text.statusCode, text.body, 'text/plain');
    expect(text.statusCode).toBeGreaterThanOrEqual(400);
  });
});

// A URL cannot carry an unpaired surrogate: it becomes U+FFFD, as a client would send it.
function pathSegment(value: string): string {
  return encodeURIComponent(Buffer.from(value, 'utf8').toString('utf8'));
}
