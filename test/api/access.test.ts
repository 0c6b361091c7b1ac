import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, listRoutes, type RouteEntry } from '../../src/api/app.js';
import { createApiKey, revokeApiKey } from '../../src/api/auth/api-key.service.js';
import { createPlainLogger } from '../../src/logger.js';
import { openRedis } from '../../src/redis.js';
import { assertNoSecretIn, createApiHarness, type ApiHarness } from '../support/api-harness.js';
import { createConnection, createSite } from '../support/factories.js';

const PASSWORD = 'matrix-broker-password-5';

/** Routes whose success cannot be observed through inject(): a WebSocket and an SSE stream. */
const STREAMING = new Set(['GET /ws', 'GET /debug/machines/stream']);

/** A URL for the route with harmless, well-formed parameters (ids that do not exist). */
function urlFor(route: RouteEntry, value = '999999'): string {
  return route.url.replace(/:(\w+)/g, () => value).replace(/\*$/, 'x');
}

function partsOf(route: RouteEntry): string[] {
  return ['params', 'body', 'querystring'].filter((part) => route.schema?.[part] !== undefined);
}

const label = (route: RouteEntry) => `${route.method} ${route.url}`;

describe('access control and input checking', () => {
  let harness: ApiHarness;
  let app: FastifyInstance;
  let routes: RouteEntry[];
  let seededId: string;

  beforeAll(async () => {
    harness = await createApiHarness('access');
    app = await harness.build({ authFailureLimit: { maxFailures: 1000 } });
    routes = listRoutes(app);
    // A real connection with a password, so reads below have something to leak.
    const em = harness.database.orm.em.fork();
    const site = await createSite(em);
    const connection = await createConnection(em, site, {
      password: PASSWORD,
      secretKey: harness.config.secretKey,
    });
    harness.secrets.add(PASSWORD);
    harness.secrets.add(connection.passwordEncrypted!);
    seededId = String(site.id);
  });

  afterAll(async () => {
    await harness.close();
  });

  const send = (route: RouteEntry, headers: Record<string, string>, url = urlFor(route)) =>
    harness.inject(app, { method: route.method, url, headers });

  it('has a secret check that fails on a leaked password', () => {
    expect(() => assertNoSecretIn(['{"password":"p-1"}'], ['p-1'])).toThrow('secret');
    expect(() => assertNoSecretIn(['{"has_password":true}'], ['p-1'])).not.toThrow();
  });

  it('knows every route of the route table', () => {
    const names = routes.map(label);
    const table = [
      'GET /healthz',
      'GET /readyz',
      'GET /docs/json',
      'GET /api/sites',
      'POST /api/sites',
      'GET /api/sites/:siteId',
      'PATCH /api/sites/:siteId',
      'DELETE /api/sites/:siteId',
      'GET /api/sites/:siteId/connection',
      'PUT /api/sites/:siteId/connection',
      'POST /api/sites/:siteId/connection/start',
      'POST /api/sites/:siteId/connection/stop',
      'GET /api/sites/:siteId/connection/topics',
      'POST /api/sites/:siteId/connection/topics',
      'PATCH /api/topics/:topicId',
      'DELETE /api/topics/:topicId',
      'GET /api/sites/:siteId/discovered-topics',
      'POST /api/discovered-topics/:id/promote',
      'GET /api/connection-logs',
      'GET /api/parsing-logs',
      'POST /api/parsing-logs/replay',
      'GET /api/sites/:siteId/gateways',
      'GET /api/gateways/:serial',
      'GET /api/sensors/:sensorId/readings',
      'GET /api/parsers',
      'GET /ws',
      'GET /admin/queues',
      'GET /debug/machines',
      'GET /login',
      'POST /login',
    ];
    expect(names).toEqual(expect.arrayContaining(table));
  });

  it('refuses every protected route without a key or with an unknown key (401)', async () => {
    const protectedRoutes = routes.filter((route) => route.access !== 'public');
    expect(protectedRoutes.length).toBeGreaterThan(30);
    for (const route of protectedRoutes) {
      const missing = await send(route, {});
      expect(missing.statusCode, `${label(route)} without key`).toBe(401);
      expect(missing.json(), label(route)).toMatchObject({ code: 'UNAUTHENTICATED' });

      const unknown = await send(route, harness.auth('sw_not-a-real-key'));
      expect(unknown.statusCode, `${label(route)} unknown key`).toBe(401);
      const header = await send(route, { 'x-api-key': 'sw_not-a-real-key' });
      expect(header.statusCode, `${label(route)} unknown x-api-key`).toBe(401);
    }
  });

  it('refuses every admin route to a viewer key (403) and lets viewers read', async () => {
    for (const route of routes.filter((entry) => entry.access !== 'public')) {
      const response = await send(route, harness.auth(harness.keys.viewer));
      if (route.access === 'admin') {
        expect(response.statusCode, label(route)).toBe(403);
        expect(response.json()).toMatchObject({ code: 'FORBIDDEN' });
      } else if (!STREAMING.has(label(route))) {
        expect([401, 403], label(route)).not.toContain(response.statusCode);
      }
    }
  });

  it('lets admin keys, the env admin key and x-api-key through every protected route', async () => {
    const callable = routes.filter(
      (route) => route.access !== 'public' && !STREAMING.has(label(route)),
    );
    for (const route of callable) {
      for (const headers of [
        harness.auth(harness.keys.admin),
        harness.auth(harness.keys.envAdmin),
        { 'x-api-key': harness.keys.admin },
      ]) {
        // Reads go to the seeded site; writes to ids that do not exist, to change nothing.
        const url = urlFor(route, route.method === 'GET' ? seededId : '999999');
        const response = await send(route, headers, url);
        expect([401, 403, 500], label(route)).not.toContain(response.statusCode);
      }
    }
  });

  it('answers 400 naming every problem in every part, on every route with input', async () => {
    const withInput = routes.filter((route) => partsOf(route).length > 0);
    expect(withInput.length).toBeGreaterThan(20);
    for (const route of withInput) {
      const parts = partsOf(route);
      const numericParams = /:(siteId|topicId|id|sensorId)/.test(route.url);
      const badParts = parts.filter((part) => part !== 'params' || numericParams);
      if (badParts.length === 0) continue;

      const url =
        `${urlFor(route, numericParams ? 'not-a-number' : 'X')}` +
        (badParts.includes('querystring') ? '?unexpected_param=1' : '');
      const response = await harness.inject(app, {
        method: route.method,
        url,
        headers: harness.auth(harness.keys.admin),
        ...(badParts.includes('body') ? { payload: { unexpected_field: 1 } } : {}),
      });
      expect(response.statusCode, label(route)).toBe(400);
      const body = response.json();
      expect(body.code, label(route)).toBe('VALIDATION_FAILED');
      const named = new Set(body.issues.map((issue: { in: string }) => issue.in));
      expect([...named].sort(), label(route)).toEqual([...badParts].sort());
    }
  });

  it('names every failing field of a body, with its path', async () => {
    const response = await harness.inject(app, {
      method: 'PUT',
      url: '/api/sites/abc/connection',
      headers: harness.auth(harness.keys.admin),
      payload: { broker_port: 'x', use_tls: 'yes', discovery_pattern: 'a/#/b', extra: 1 },
    });
    expect(response.statusCode).toBe(400);
    const issues = response
      .json()
      .issues.map((issue: { in: string; path: string }) => `${issue.in}:${issue.path}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        'params:siteId',
        'body:broker_port',
        'body:use_tls',
        'body:discovery_pattern',
        'body:',
      ]),
    );
  });

  it('answers 4xx, never 500, to malformed JSON, wrong content type, huge body', async () => {
    const headers = harness.auth(harness.keys.admin);
    const malformed = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(malformed.statusCode).toBe(400);

    const wrongType = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...headers, 'content-type': 'text/plain' },
      payload: 'name=x',
    });
    expect(wrongType.statusCode).toBe(415);

    const huge = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.statusCode).toBe(413);

    const emptyJson = await harness.inject(app, {
      method: 'POST',
      url: '/api/sites',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: '',
    });
    expect(emptyJson.statusCode).toBe(400);

    const hugeId = await harness.inject(app, {
      method: 'GET',
      url: '/api/sites/99999999999999999999',
      headers,
    });
    expect(hugeId.statusCode).toBe(400);
    for (const response of [malformed, wrongType, huge, emptyJson, hugeId]) {
      expect(response.json()).toHaveProperty('error');
    }
  });

  it('lists every route in the OpenAPI document', async () => {
    const document = (await harness.inject(app, { method: 'GET', url: '/docs/json' })).json();
    const documented = routes.filter(
      (route) => !route.url.startsWith('/docs') && !route.url.startsWith('/admin/queues/'),
    );
    for (const route of documented) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      // Bull Board's entry route is documented with its trailing slash.
      const entry = document.paths[path] ?? document.paths[`${path}/`];
      expect(entry?.[route.method.toLowerCase()], label(route)).toBeDefined();
    }
    const put = document.paths['/api/sites/{siteId}/connection'].put;
    const schema = put.requestBody.content['application/json'].schema;
    expect(schema.properties).toHaveProperty('password');
    expect(document.components.securitySchemes).toHaveProperty('bearer');
    expect(document.paths['/healthz'].get.security).toEqual([]);
    expect(document.paths['/api/sites'].get.security).toBeUndefined();
  });

  it('keeps routes added after buildApp admin-only unless they are the metrics path', async () => {
    const redis = openRedis('redis://127.0.0.1:6379');
    const later = await buildApp({
      config: harness.config,
      orm: harness.database.orm,
      redis,
      logger: createPlainLogger('silent'),
    });
    later.get('/metrics', () => 'metrics');
    later.get('/internal', () => 'internal');

    const metrics = await harness.inject(later, { method: 'GET', url: '/metrics' });
    const internal = await harness.inject(later, { method: 'GET', url: '/internal' });
    const asViewer = await harness.inject(later, {
      method: 'GET',
      url: '/internal',
      headers: harness.auth(harness.keys.viewer),
    });
    expect([metrics.statusCode, internal.statusCode, asViewer.statusCode]).toEqual([200, 401, 403]);
    await later.close();
    redis.disconnect();
  });

  describe('rate limiting of failed authentications', () => {
    it('answers 429 to an address after repeated failures, even with a good key', async () => {
      const limited = await harness.build({
        authFailureLimit: { maxFailures: 3, windowMs: 60_000 },
      });
      const attempt = (key: string, remoteAddress: string) =>
        harness.inject(limited, {
          method: 'GET',
          url: '/api/sites',
          headers: harness.auth(key),
          remoteAddress,
        });

      for (let i = 0; i < 3; i += 1) {
        expect((await attempt(`sw_guess_${i}`, '10.0.0.7')).statusCode).toBe(401);
      }
      const blocked = await attempt('sw_guess_4', '10.0.0.7');
      expect(blocked.statusCode).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await attempt(harness.keys.viewer, '10.0.0.7')).statusCode).toBe(429);
      expect((await attempt(harness.keys.viewer, '10.0.0.8')).statusCode).toBe(200);

      const login = await harness.inject(limited, {
        method: 'POST',
        url: '/login',
        payload: { key: harness.keys.admin },
        remoteAddress: '10.0.0.7',
      });
      expect(login.statusCode).toBe(429);
    });
  });

  describe('browser sessions', () => {
    async function login(key: string) {
      const response = await harness.inject(app, {
        method: 'POST',
        url: '/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ key, next: '/admin/queues' }).toString(),
      });
      const cookie = response.cookies.find((entry) => entry.name === 'sitewire_session');
      return { response, cookie };
    }

    it('sends a browser without a session to the login page', async () => {
      const page = await harness.inject(app, {
        method: 'GET',
        url: '/debug/machines',
        headers: { accept: 'text/html' },
      });
      expect(page.statusCode).toBe(302);
      expect(page.headers.location).toBe('/login?next=%2Fdebug%2Fmachines');
      const form = await harness.inject(app, { method: 'GET', url: '/login' });
      expect(form.statusCode).toBe(200);
      expect(form.body).toContain('<form');
    });

    it('exchanges a key for a signed HTTP-only cookie that opens the admin pages', async () => {
      const { response, cookie } = await login(harness.keys.admin);
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe('/admin/queues');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      expect(cookie!.value).not.toContain(harness.keys.admin);

      const cookies = { sitewire_session: cookie!.value };
      const page = await harness.inject(app, { method: 'GET', url: '/debug/machines', cookies });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      const board = await harness.inject(app, { method: 'GET', url: '/admin/queues', cookies });
      expect(board.statusCode).toBe(200);

      const tampered = { sitewire_session: cookie!.value.replace(/^\d+/, '1') + 'x' };
      const refused = await harness.inject(app, {
        method: 'GET',
        url: '/debug/machines',
        cookies: tampered,
      });
      expect(refused.statusCode).toBe(401);
    });

    it('ends the session at logout', async () => {
      const { cookie } = await login(harness.keys.admin);
      const logout = await harness.inject(app, {
        method: 'POST',
        url: '/logout',
        cookies: { sitewire_session: cookie!.value },
      });
      expect(logout.statusCode).toBe(303);
      const cleared = logout.cookies.find((entry) => entry.name === 'sitewire_session');
      expect(cleared?.value).toBe('');
    });

    it('refuses unknown keys at login and keeps redirects on this site', async () => {
      const { response, cookie } = await login('sw_wrong');
      expect(response.statusCode).toBe(401);
      expect(cookie).toBeUndefined();

      const offsite = await harness.inject(app, {
        method: 'POST',
        url: '/login',
        payload: { key: harness.keys.admin, next: '//evil.example/' },
      });
      expect(offsite.headers.location).toBe('/debug/machines');
    });

    it('gives viewer sessions 403 on admin pages and ends sessions of revoked keys', async () => {
      const viewerSession = await login(harness.keys.viewer);
      const forbidden = await harness.inject(app, {
        method: 'GET',
        url: '/debug/machines',
        cookies: { sitewire_session: viewerSession.cookie!.value },
      });
      expect(forbidden.statusCode).toBe(403);

      const em = harness.database.orm.em.fork();
      const temporary = await createApiKey(em, { name: 'temporary', role: 'admin' });
      const { cookie } = await login(temporary.key);
      const cookies = { sitewire_session: cookie!.value };
      const open = await harness.inject(app, { method: 'GET', url: '/api/sites', cookies });
      expect(open.statusCode).toBe(200);

      await revokeApiKey(em, temporary.summary.id);
      const closed = await harness.inject(app, { method: 'GET', url: '/api/sites', cookies });
      expect(closed.statusCode).toBe(401);
      const byKey = await harness.inject(app, {
        method: 'GET',
        url: '/api/sites',
        headers: harness.auth(temporary.key),
      });
      expect(byKey.statusCode).toBe(401);
    });
  });
});
