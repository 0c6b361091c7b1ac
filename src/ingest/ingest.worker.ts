import type { MikroORM } from '@mikro-orm/postgresql';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventPublisher } from '../events/event-bus.js';
import type { Metrics } from '../observability/metrics.js';
import { openRedis } from '../redis.js';
import { DataUpdateCoalescer } from './data-update.coalescer.js';
import { decodeJobMessage, type DecodedMessage, type IngestJobData } from './ingest-job.js';
import {
  quarantineAsDatabaseError,
  storeMessages,
  writeOwed,
  type StoreResult,
} from './message-store.js';
import type { ParserLookup } from './parser-lookup.js';
import type { QuarantineRow } from './parsing-log.writer.js';
import { INGEST_QUEUE } from './queue-names.js';
import { TelemetryCache } from './telemetry.cache.js';
import type { GatewayTransition } from './telemetry.writer.js';

/** What the ingest workers need. */
export interface IngestWorkerDeps {
  config: Config;
  orm: MikroORM;
  logging: { root: Logger; parsing: Logger };
  metrics: Metrics;
  registry: ParserLookup;
  /** Live events; none are sent when absent. */
  events?: EventPublisher;
}

/** Running ingest workers. */
export interface IngestWorkers {
  worker: Worker<IngestJobData>;
  /** Lets running jobs finish, sends pending events and closes the worker's Redis link. */
  stop(): Promise<void>;
}

/**
 * Starts a BullMQ worker on the ingest queue with WORKER_CONCURRENCY jobs at once. Each job
 * is parsed message by message and stored in one transaction; a database failure fails the
 * job so BullMQ retries it with backoff, and on the last attempt its messages are
 * quarantined as DB_ERROR with their raw payloads, ready for replay.
 */
export function startIngestWorkers(deps: IngestWorkerDeps): IngestWorkers {
  const { config } = deps;
  const log = deps.logging.root.child({ component: 'ingest-worker' });
  const connection = openRedis(config.REDIS_URL, 'sitewire-ingest-worker');
  // Reconnection attempts while Redis is away; the worker's own `error` event reports them.
  connection.on('error', () => undefined);
  const coalescer = new DataUpdateCoalescer(deps.events, config.DATA_UPDATE_THROTTLE_MS);
  const cache = new TelemetryCache(
    config.LAST_SEEN_WRITE_INTERVAL_MS,
    config.TELEMETRY_CACHE_MAX_ROWS,
  );
  // Owed writes go out at most once per interval, one flush at a time; the last one waits
  // for any still running, so nothing is owed when the worker stops.
  let flushing: Promise<void> | undefined;
  const flush = async (force: boolean) => {
    while (flushing) await flushing;
    flushing = flushOwed(deps, cache, log, force).finally(() => (flushing = undefined));
    await flushing;
  };
  const flushTimer = setInterval(
    () => {
      if (!flushing) void flush(false);
    },
    Math.max(20, config.LAST_SEEN_WRITE_INTERVAL_MS / 10),
  );
  flushTimer.unref();

  const worker = new Worker<IngestJobData>(
    INGEST_QUEUE,
    (job) => processIngestJob(deps, cache, coalescer, log, job),
    { connection, prefix: config.REDIS_PREFIX, concurrency: config.WORKER_CONCURRENCY },
  );
  worker.on('error', (error) => {
    deps.metrics.redisErrors.inc({ operation: 'worker' });
    log.warn({ err: error }, 'ingest worker error');
  });
  log.info({ concurrency: config.WORKER_CONCURRENCY }, 'ingest worker started');

  return {
    worker,
    stop: async () => {
      await worker.close();
      clearInterval(flushTimer);
      await flush(true);
      await coalescer.flush();
      connection.disconnect();
      log.info('ingest worker stopped');
    },
  };
}

/**
 * Writes what the batches owe in its own transaction, and announces the gateways it brought
 * back online; the writes stay owed if that fails.
 */
async function flushOwed(
  deps: IngestWorkerDeps,
  cache: TelemetryCache,
  log: Logger,
  force: boolean,
): Promise<void> {
  if (!(force ? cache.hasPending : cache.isFlushDue())) return;
  let transitions: GatewayTransition[];
  try {
    transitions = await writeOwed(deps.orm, cache);
  } catch (error) {
    deps.metrics.databaseErrors.inc({ operation: 'last_seen' });
    log.warn({ err: error }, 'last-seen times not written');
    return;
  }
  await reportTransitions(deps, transitions);
}

async function processIngestJob(
  deps: IngestWorkerDeps,
  cache: TelemetryCache,
  coalescer: DataUpdateCoalescer,
  log: Logger,
  job: Job<IngestJobData>,
): Promise<void> {
  const messages = decodeJob(job);

  let result: StoreResult;
  try {
    result = await storeMessages(deps.orm, deps.registry, messages, cache);
  } catch (error) {
    deps.metrics.databaseErrors.inc({ operation: 'ingest' });
    if (!isFinalAttempt(job)) {
      log.warn({ err: error, jobId: job.id, attempt: job.attemptsMade + 1 }, 'batch not stored');
      throw error;
    }

    log.error({ err: error, jobId: job.id, messages: messages.length }, 'batch given up');
    const quarantined = await quarantineAsDatabaseError(deps.orm, messages, error);
    await reportQuarantined(deps, quarantined);
    return;
  }

  await reportStored(deps, coalescer, job, result);
  log.debug({ jobId: job.id, messages: messages.length }, 'batch stored');
}

function decodeJob(job: Job<IngestJobData>): DecodedMessage[] {
  const encoded = Array.isArray(job.data?.messages) ? job.data.messages : undefined;
  const messages = encoded?.map(decodeJobMessage);
  // A job this code cannot read will not become readable by retrying it.
  if (!messages || messages.some((message) => message === null)) {
    throw new UnrecoverableError(`ingest job ${job.id} has unreadable data`);
  }
  return messages as DecodedMessage[];
}

function isFinalAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

async function reportStored(
  deps: IngestWorkerDeps,
  coalescer: DataUpdateCoalescer,
  job: Job<IngestJobData>,
  result: StoreResult,
): Promise<void> {
  const { metrics } = deps;
  const committedAt = Date.now();
  for (const message of result.persisted) {
    metrics.messagesPersisted.inc({ site_id: String(message.siteId) });
    metrics.ingestLagSeconds.observe((committedAt - message.receivedAt.getTime()) / 1_000);
  }

  metrics.readingsPersisted.inc(result.readingsInserted);
  metrics.batches.inc({ queue: INGEST_QUEUE });
  metrics.batchSize.observe({ queue: INGEST_QUEUE }, job.data.messages.length);
  for (const [siteId, activity] of result.batch.activity) coalescer.add(siteId, activity);

  await reportQuarantined(deps, result.quarantined);
  await reportTransitions(deps, result.gatewayTransitions);
}

async function reportQuarantined(deps: IngestWorkerDeps, rows: QuarantineRow[]): Promise<void> {
  for (const row of rows) {
    deps.metrics.messagesQuarantined.inc({
      site_id: String(row.siteId),
      error_type: row.errorType,
    });
    deps.logging.parsing.warn(
      {
        siteId: row.siteId,
        topic: row.topic,
        errorType: row.errorType,
        parsingLogId: row.id,
        reason: row.errorMessage,
      },
      'message quarantined',
    );
    await deps.events?.publish({
      type: 'parsing_error',
      siteId: row.siteId,
      topic: row.topic,
      errorType: row.errorType,
      message: row.errorMessage,
      parsingLogId: row.id,
      at: new Date().toISOString(),
    });
  }
}

/** Publishes gateway.online / gateway.offline for gateways whose flag a write changed. */
export async function reportTransitions(
  deps: Pick<IngestWorkerDeps, 'events'>,
  transitions: GatewayTransition[],
  reason?: string,
): Promise<void> {
  for (const transition of transitions) {
    await deps.events?.publish({
      type: transition.isOnline ? 'gateway.online' : 'gateway.offline',
      siteId: transition.siteId,
      serialNumber: transition.serialNumber,
      reason: reason ?? (transition.isOnline ? 'message received' : 'gateway reported offline'),
      at: new Date().toISOString(),
    });
  }
}
