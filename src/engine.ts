import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { startIngestPipeline, type IngestPipeline } from '../pipelines/ingest.pipeline.js';
import { buildApp, checkDependencies } from './api/app.js';
import type { Config } from './config.js';
import {
  startConnectionSupervisor,
  type ConnectionSupervisor,
} from './connections/connection-supervisor.js';
import { LeaseStore } from './connections/lease-store.js';
import { migrateToLatest, openOrm } from './db/orm.js';
import { EventPublisher } from './events/event-bus.js';
import { startIngestWorkers, type IngestWorkers } from './ingest/ingest.worker.js';
import { startMaintenance, type Maintenance } from './ingest/maintenance.worker.js';
import { openIngestQueue } from './ingest/ingest-queue.js';
import { collectQueueMetrics } from './ingest/queue-metrics.js';
import { replayParsingLogs } from './ingest/parsing-log.replay.js';
import type { Logging } from './logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { registerMetricsRoute, type ScrapeHook } from './observability/metrics.routes.js';
import { createDefaultRegistry } from './parsers/index.js';
import type { ParserRegistry } from './parsers/parser-registry.js';
import { openRedis } from './redis.js';

/** A running engine: whichever roles this process was asked to run. */
export interface Engine {
  /** The HTTP address (full API with the api role, probes and metrics otherwise). */
  address: string;
  metrics: Metrics;
  supervisor?: ConnectionSupervisor;
  pipeline?: IngestPipeline;
  workers?: IngestWorkers;
  /** Stops taking messages, flushes and acknowledges them, finishes jobs, closes links. */
  stop(): Promise<void>;
}

interface Shared {
  config: Config;
  logging: Logging;
  orm: MikroORM;
  redis: Redis;
  metrics: Metrics;
  events: EventPublisher;
  registry: ParserRegistry;
}

/**
 * Starts the roles named in config.ROLES after applying pending migrations. Every process
 * serves HTTP on PORT: the whole API with the api role, otherwise only /healthz, /readyz
 * and /metrics, so every process can be probed and scraped.
 */
export async function startEngine(config: Config, logging: Logging): Promise<Engine> {
  const log = logging.root.child({ component: 'engine' });
  const orm = await openOrm(config, { logger: logging.root.child({ component: 'orm' }) });
  await applyMigrations(config, orm, log);
  const redis = openRedis(config.REDIS_URL, 'sitewire-engine');
  redis.on('error', (error) => log.debug({ err: error }, 'redis connection error'));
  const metrics = createMetrics({ defaults: true });
  const shared: Shared = {
    config,
    logging,
    orm,
    redis,
    metrics,
    events: new EventPublisher(redis, config.REDIS_PREFIX),
    registry: createDefaultRegistry(),
  };

  const has = (role: Config['ROLES'][number]) => config.ROLES.includes(role);
  const leases = has('supervisor') ? openLeases(config) : undefined;
  const supervisor = leases ? await startConnectionSupervisor({ ...shared, leases }) : undefined;
  const pipeline = supervisor ? await startPipeline(shared, supervisor) : undefined;
  const workers = has('worker') ? startIngestWorkers(shared) : undefined;
  const maintenance = has('worker') ? await startMaintenance(shared) : undefined;
  const app = await startHttp(shared, supervisor);

  log.info({ roles: config.ROLES, address: app.address }, 'engine started');
  return {
    address: app.address,
    metrics,
    ...(supervisor ? { supervisor } : {}),
    ...(pipeline ? { pipeline } : {}),
    ...(workers ? { workers } : {}),
    stop: async () => {
      await stopEngine(shared, { supervisor, pipeline, workers, maintenance, app: app.app });
      leases?.close();
    },
  };
}

// Every supervisor takes connection leases, even alone: a second instance started later
// then shares the connections instead of opening the same client ids.
function openLeases(config: Config): LeaseStore {
  return new LeaseStore({
    redisUrl: config.REDIS_URL,
    prefix: config.REDIS_PREFIX,
    instanceId: config.INSTANCE_ID,
    ttlMs: config.LEASE_TTL_MS,
    commandTimeoutMs: Math.max(200, Math.floor(config.LEASE_TTL_MS / 5)),
  });
}

async function applyMigrations(config: Config, orm: MikroORM, log: Logging['root']): Promise<void> {
  if (!config.MIGRATE_ON_START) return;

  const applied = await migrateToLatest(orm);
  log.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
}

/**
 * Routes are reloaded before the supervisor subscribes to a new topic, so its first messages
 * are parsed. The pipeline turns QoS 1/2 messages away unacknowledged when it holds too many;
 * the broker resends them only to a resumed session, which the pipeline asks for once it has
 * room.
 */
async function startPipeline(
  shared: Shared,
  supervisor: ConnectionSupervisor,
): Promise<IngestPipeline> {
  const pipeline = await startIngestPipeline({ ...shared, messages$: supervisor.messages$ });
  supervisor.beforeSubscribing(() => pipeline.reloadRoutes());
  pipeline.redeliveryNeeded$.subscribe((connectionId) =>
    supervisor.resumeSession(connectionId, 'resuming the session for held messages'),
  );
  return pipeline;
}

async function startHttp(
  shared: Shared,
  supervisor: ConnectionSupervisor | undefined,
): Promise<{ app: FastifyInstance; address: string }> {
  const { config, logging, orm, redis, registry, metrics } = shared;
  const app = config.ROLES.includes('api')
    ? await buildApp({
        config,
        orm,
        redis,
        logger: logging.root,
        registry,
        replay: (selection) => replayParsingLogs({ orm, registry }, selection),
        ...(supervisor
          ? {
              inspection: supervisor.inspection,
              connectionHealth: (id: number) => supervisor.connectionHealth(id),
            }
          : {}),
      })
    : await buildProbeApp(shared);

  const scrape = scrapeHooks(shared);
  registerMetricsRoute(app, metrics, scrape.hooks);
  app.addHook('onClose', () => scrape.close());
  const address = await app.listen({ host: config.HOST, port: config.PORT });
  return { app, address };
}

/** Health, readiness and metrics only, for processes without the api role. */
async function buildProbeApp(shared: Shared): Promise<FastifyInstance> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks = await checkDependencies(shared);
    const ready = checks.postgres === 'up' && checks.redis === 'up';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unready', checks });
  });
  return app;
}

function scrapeHooks(shared: Shared): { hooks: ScrapeHook[]; close(): Promise<void> } {
  const queue = openIngestQueue(shared.config, shared.redis);
  const hook = () => collectQueueMetrics([queue], shared.metrics);
  return { hooks: [hook], close: () => queue.close() };
}

interface Running {
  supervisor: ConnectionSupervisor | undefined;
  pipeline: IngestPipeline | undefined;
  workers: IngestWorkers | undefined;
  maintenance: Maintenance | undefined;
  app: FastifyInstance;
}

/**
 * The order matters: the pipeline stops reading and acknowledges what it put in Redis while
 * the MQTT clients are still open; only then are the clients closed (without unsubscribing,
 * so the broker keeps the session and everything unacknowledged); workers finish running
 * jobs within SHUTDOWN_TIMEOUT_MS; the HTTP server and the shared links close last.
 */
async function stopEngine(shared: Shared, running: Running): Promise<void> {
  const log = shared.logging.root.child({ component: 'engine' });
  await running.pipeline?.stop();
  await running.supervisor?.stop();
  await withTimeout(
    Promise.all([running.workers?.stop(), running.maintenance?.stop()]),
    shared.config.SHUTDOWN_TIMEOUT_MS,
    () => log.warn({}, 'jobs still running at shutdown deadline'),
  );
  await running.app.close();
  await shared.orm.close();
  shared.redis.disconnect();
  log.info({}, 'engine stopped');
}

async function withTimeout(work: Promise<unknown>, ms: number, onTimeout: () => void) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
  });
  await Promise.race([work, deadline]);
  clearTimeout(timer);
}
