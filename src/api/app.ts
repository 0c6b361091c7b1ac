import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import type { MikroORM } from '@mikro-orm/postgresql';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { connectionMachine } from '../../machines/connection.machine.js';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { CredentialCipher } from '../crypto.js';
import { withZod, type ApiContext, type AppDependencies } from './api-context.js';
import { installAuth, type RouteEntry } from './auth/auth.hooks.js';
import { FailedAuthLimiter } from './auth/failed-auth-limiter.js';
import { deriveCookieSecret } from './auth/session.js';
import { createErrorHandler } from './error-handler.js';
import { EventHub } from './live/event-hub.js';
import { registerConnectionRoutes } from './routes/connections.routes.js';
import { registerDiscoveredTopicRoutes } from './routes/discovered-topics.routes.js';
import { registerLiveRoutes } from './routes/live.routes.js';
import { registerLogRoutes } from './routes/logs.routes.js';
import { registerLoginRoutes } from './routes/login.routes.js';
import { registerMachineRoutes } from './routes/machines.routes.js';
import { registerParserRoutes } from './routes/parsers.routes.js';
import { QUEUES_PATH, registerQueueBoard } from './routes/queues.routes.js';
import { registerSiteRoutes } from './routes/sites.routes.js';
import { registerTelemetryRoutes } from './routes/telemetry.routes.js';
import { registerTopicRoutes } from './routes/topics.routes.js';

export type {
  AppDependencies,
  ConnectionHealth,
  MachineDefinitions,
  ParserCatalogue,
  ParserDescription,
  ReplayFunction,
  ReplayResult,
  ReplaySelection,
} from './api-context.js';
export type { RouteEntry } from './auth/auth.hooks.js';

/** How long a readiness probe waits for PostgreSQL or Redis before calling it down. */
const READINESS_TIMEOUT_MS = 2_000;

/** Largest request body accepted, in bytes; larger ones get 413. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** Largest WebSocket message a client may send, in bytes. */
const WS_MAX_PAYLOAD_BYTES = 16 * 1024;

const catalogues = new WeakMap<FastifyInstance, RouteEntry[]>();

/**
 * Builds the Fastify app: health probes, the REST control API, the OpenAPI document and
 * docs, the live WebSocket stream, Bull Board, the machine visualizer and the login page.
 * The app is returned before `ready()`, so the caller may still add routes (`/metrics`);
 * `listen()` or `inject()` readies it.
 */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger.child(
    {},
    { serializers: { req: serializeRequest } },
  );
  const app = Fastify({ loggerInstance, bodyLimit: BODY_LIMIT_BYTES });
  const ctx: ApiContext = {
    ...deps,
    machines: deps.machines ?? { connection: connectionMachine, supervisor: supervisorMachine },
    cipher: new CredentialCipher(deps.config.secretKey),
  };
  const limiter = new FailedAuthLimiter(deps.authFailureLimit);
  const catalogue = await installFoundations(app, deps, limiter);

  registerHealthRoutes(app, deps);
  const hub = openEventHub(app, deps);
  const api = withZod(app);
  registerLoginRoutes(api, ctx, limiter);
  registerSiteRoutes(api, ctx);
  registerConnectionRoutes(api, ctx);
  registerTopicRoutes(api, ctx);
  registerDiscoveredTopicRoutes(api, ctx);
  registerLogRoutes(api, ctx);
  registerTelemetryRoutes(api, ctx);
  registerParserRoutes(api, ctx);
  registerLiveRoutes(api, hub);
  registerMachineRoutes(api, ctx);
  await registerQueueBoard(app, ctx);

  catalogues.set(app, catalogue);
  return app;
}

/** Compilers, error handling, plugins, authentication and the OpenAPI document, in order. */
async function installFoundations(
  app: FastifyInstance,
  deps: AppDependencies,
  limiter: FailedAuthLimiter,
): Promise<RouteEntry[]> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(createErrorHandler(deps.logger.child({ component: 'api' })));
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'Route not found', code: 'NOT_FOUND' }),
  );
  // The JSON API takes JSON (and the login form); text/plain bodies get 415, not a parse.
  app.removeContentTypeParser('text/plain');

  // Registered before the hooks below: its onRoute hook hides WebSocket routes from the
  // OpenAPI document, and documentHiddenEntries must run after it to list /ws again.
  await app.register(fastifyWebsocket, { options: { maxPayload: WS_MAX_PAYLOAD_BYTES } });
  await app.register(fastifyCookie, { secret: deriveCookieSecret(deps.config.secretKey) });
  const catalogue = installAuth(app, {
    orm: deps.orm,
    adminApiKey: deps.config.ADMIN_API_KEY,
    limiter,
  });
  documentHiddenEntries(app);
  await registerDocs(app, deps);
  return catalogue;
}

/**
 * Request log fields. The WebSocket endpoint accepts the API key as `?token=`, so that
 * parameter is blanked before a URL reaches a log line.
 */
export function serializeRequest(request: {
  method: string;
  url: string;
  host?: string;
  ip?: string;
}): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]'),
    host: request.host,
    remoteAddress: request.ip,
  };
}

/** Every route of an app built by buildApp, with the access it requires. */
export function listRoutes(app: FastifyInstance): RouteEntry[] {
  return [...(catalogues.get(app) ?? [])];
}

function registerHealthRoutes(app: FastifyInstance, deps: AppDependencies): void {
  const schema = { tags: ['health'] };
  app.get('/healthz', { config: { access: 'public' }, schema }, () => ({ status: 'ok' }));
  app.get('/readyz', { config: { access: 'public' }, schema }, async (_request, reply) => {
    const checks = await checkDependencies(deps);
    const ready = Object.values(checks).every((state) => state === 'up');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unready', checks });
  });
}

async function registerDocs(app: FastifyInstance, deps: AppDependencies): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sitewire control API',
        description: 'Sites, MQTT connections, topics, logs, telemetry and live events.',
        version: deps.config.APP_VERSION,
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
      security: [{ bearer: [] }, { apiKeyHeader: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
}

/**
 * Bull Board and @fastify/websocket hide their routes from the OpenAPI document; the Bull
 * Board entry page and the WebSocket endpoint are listed all the same. Public routes are
 * documented as needing no key.
 */
function documentHiddenEntries(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.websocket && route.schema) route.schema.hide = false;
    if (route.config?.access === 'public' && route.schema) route.schema.security = [];
    if (route.url !== QUEUES_PATH || route.method !== 'GET') return;
    // Changed in place: other onRoute hooks keep a reference to this schema object.
    route.schema ??= {};
    Object.assign(route.schema, {
      hide: false,
      tags: ['debugging'],
      summary: 'Bull Board: the ingest and maintenance queues (HTML page)',
    });
  });
}

function openEventHub(app: FastifyInstance, deps: AppDependencies): EventHub {
  // A connection in subscribe mode can do nothing else, so the hub gets its own.
  const subscriber = deps.redis.duplicate();
  subscriber.on('error', (error: unknown) => deps.logger.debug({ err: error }, 'event redis'));
  const hub = new EventHub(
    subscriber,
    deps.config.REDIS_PREFIX,
    deps.logger.child({ component: 'live' }),
    {
      pingIntervalMs: deps.live?.pingIntervalMs ?? 30_000,
      maxBufferedBytes: deps.live?.maxBufferedBytes ?? 1024 * 1024,
    },
  );
  app.addHook('onClose', () => hub.close());
  return hub;
}

/** Asks PostgreSQL and Redis for a sign of life, each bounded by READINESS_TIMEOUT_MS. */
export async function checkDependencies(deps: {
  orm: MikroORM;
  redis: Redis;
}): Promise<{ postgres: 'up' | 'down'; redis: 'up' | 'down' }> {
  const [postgres, redis] = await Promise.all([
    probe(() => deps.orm.em.getConnection().execute('select 1')),
    probe(() => deps.redis.ping()),
  ]);
  return { postgres, redis };
}

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), READINESS_TIMEOUT_MS);
  });

  try {
    await Promise.race([check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
