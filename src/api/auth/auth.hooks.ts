import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeySchema } from '../../entities/index.js';
import { authenticateApiKey, principalForKeyId, type Principal } from './api-key.service.js';
import type { FailedAuthLimiter } from './failed-auth-limiter.js';
import { SESSION_COOKIE, decodeSession } from './session.js';

/** Who may call a route: anyone, any valid key, or admin keys only. */
export type RouteAccess = 'public' | 'viewer' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; routes that do not say are admin-only. */
    access?: RouteAccess;
    /** Also accept the key in the `token` query parameter (WebSocket clients in browsers). */
    tokenQuery?: boolean;
  }

  interface FastifyRequest {
    /** Who the request acts as; null on public routes called without credentials. */
    principal: Principal | null;
  }
}

/** One route as registered, with the access it requires. */
export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess;
  websocket: boolean;
  /** The route's request schemas (zod), when it has any. */
  schema: Record<string, unknown> | undefined;
}

/** What installAuth needs. */
export interface AuthOptions {
  orm: MikroORM;
  adminApiKey: string | undefined;
  limiter: FailedAuthLimiter;
}

/** How often a key's last_used_at is written at most, per key and instance. */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;

type Identification =
  | { principal: Principal }
  | { failure: 'missing' | 'invalid' }
  | { failure: 'limited'; retryAfterMs: number };

/**
 * Installs authentication on the root instance: every route declares its access in
 * `config.access` (undeclared means admin, except the docs and /metrics), every request to a
 * protected route is identified by API key or session cookie, and the routes are recorded in
 * the returned catalogue, which tests and the OpenAPI check iterate.
 */
export function installAuth(app: FastifyInstance, options: AuthOptions): RouteEntry[] {
  const catalogue: RouteEntry[] = [];
  const lastUsedWrites = new Map<number, number>();
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    const access = route.config?.access ?? defaultAccess(route.url);
    route.config = { ...route.config, access };
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const schema = route.schema as Record<string, unknown> | undefined;
      catalogue.push({ method, url: route.url, access, websocket: !!route.websocket, schema });
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;

    const identified = await identify(request, options);
    if ('failure' in identified) return refuse(request, reply, identified);
    if (access === 'admin' && identified.principal.role !== 'admin') {
      return reply.code(403).send({ error: 'this needs an admin key', code: 'FORBIDDEN' });
    }

    request.principal = identified.principal;
    noteUse(options.orm, identified.principal, lastUsedWrites);
  });

  return catalogue;
}

/** Routes added without `config.access`: the docs and the metrics path are public. */
const PUBLIC_BY_DEFAULT = [/^\/docs(\/|$)/, /^\/metrics$/];

function defaultAccess(url: string): RouteAccess {
  return PUBLIC_BY_DEFAULT.some((pattern) => pattern.test(url)) ? 'public' : 'admin';
}

async function identify(request: FastifyRequest, options: AuthOptions): Promise<Identification> {
  const presented = presentedKey(request);
  if (presented !== undefined) {
    const retryAfterMs = options.limiter.retryAfterMs(request.ip);
    if (retryAfterMs > 0) return { failure: 'limited', retryAfterMs };

    const em = options.orm.em.fork();
    const principal = await authenticateApiKey(em, presented, options.adminApiKey);
    if (principal) return { principal };
    options.limiter.recordFailure(request.ip);
    return { failure: 'invalid' };
  }

  const session = await sessionPrincipal(request, options);
  return session ? { principal: session } : { failure: 'missing' };
}

/** The key from `Authorization: Bearer`, `x-api-key`, or (where allowed) `?token=`. */
function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1] ?? '';
  }

  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  if (!request.routeOptions.config.tokenQuery) return undefined;
  const token = (request.query as Record<string, unknown> | undefined)?.token;
  return typeof token === 'string' ? token : undefined;
}

async function sessionPrincipal(
  request: FastifyRequest,
  options: AuthOptions,
): Promise<Principal | null> {
  const raw = request.cookies[SESSION_COOKIE];
  if (raw === undefined) return null;

  const unsigned = request.unsignCookie(raw);
  const claims = unsigned.valid && unsigned.value ? decodeSession(unsigned.value) : null;
  if (!claims) return null;
  // The key is looked up again so revoking it also ends its browser sessions.
  return principalForKeyId(options.orm.em.fork(), claims.keyId, options.adminApiKey);
}

function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  identified: Exclude<Identification, { principal: Principal }>,
): FastifyReply {
  if (identified.failure === 'limited') {
    const seconds = Math.ceil(identified.retryAfterMs / 1000);
    return reply
      .code(429)
      .header('retry-after', String(seconds))
      .send({ error: 'too many failed authentications', code: 'TOO_MANY_FAILED_AUTHENTICATIONS' });
  }
  if (identified.failure === 'missing' && wantsPage(request)) {
    return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`);
  }

  const error = identified.failure === 'missing' ? 'an API key is required' : 'unknown API key';
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer')
    .send({ error, code: 'UNAUTHENTICATED' });
}

/** A browser navigating to a page, which is better served by the login form than a 401. */
function wantsPage(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

function noteUse(orm: MikroORM, principal: Principal, writes: Map<number, number>): void {
  if (principal.keyId === 'env') return;

  const now = Date.now();
  if (now - (writes.get(principal.keyId) ?? 0) < LAST_USED_WRITE_INTERVAL_MS) return;
  writes.set(principal.keyId, now);
  // Bookkeeping only: a failed write must not fail or delay the request.
  orm.em
    .fork()
    .nativeUpdate(ApiKeySchema, { id: principal.keyId }, { lastUsedAt: new Date(now) })
    .catch(() => undefined);
}
