import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Subject, takeUntil, type Observable, type Subscription } from 'rxjs';
import type { Config } from '../src/config.js';
import { encodeJobMessage, INGEST_JOB_NAME, type IngestJobData } from '../src/ingest/ingest-job.js';
import { openIngestQueue } from '../src/ingest/ingest-queue.js';
import type { ParserLookup } from '../src/ingest/parser-lookup.js';
import { startRouteRefresh } from '../src/ingest/topic-routes.loader.js';
import { TopicRoutes } from '../src/ingest/topic-routes.js';
import type { ReceivedMessage } from '../src/mqtt/received-message.js';
import type { Metrics } from '../src/observability/metrics.js';
import { PendingCounter } from './admit-within-limit.operator.js';
import {
  ingestFlow,
  type IngestHooks,
  type IngestLimits,
  type RoutedMessage,
} from './ingest.flow.js';
import { writeTopicStats } from './topic-catalogue.writer.js';

/** What the ingest pipeline needs. */
export interface IngestPipelineDeps {
  config: Config;
  orm: MikroORM;
  logging: { root: Logger };
  metrics: Metrics;
  registry: ParserLookup;
  /** Every received message of every connection. */
  messages$: Observable<ReceivedMessage>;
}

/** A running ingest pipeline. */
export interface IngestPipeline {
  /** Messages held in memory now, and the most ever held. */
  pending: PendingCounter;
  routes: TopicRoutes;
  /**
   * Ids of connections that had QoS 1/2 messages turned away at the pending limit, each
   * emitted once the pressure has eased (half the limit or less). Those messages were never
   * acknowledged, and a broker sends unacknowledged messages again only when the session is
   * resumed, so the connection's owner should reconnect it (same client id, persistent
   * session) when it sees its id here.
   */
  redeliveryNeeded$: Observable<number>;
  /** Reloads the configured topics now (they also reload on change and periodically). */
  reloadRoutes(): Promise<void>;
  /**
   * Stops reading, puts every held batch into Redis and acknowledges it, writes the last
   * catalogue counts, then closes its Redis and PostgreSQL connections. Waits at most
   * PIPELINE_STOP_TIMEOUT_MS: messages still held then stay unacknowledged, so the broker
   * sends their QoS 1/2 ones again to the next session.
   */
  stop(): Promise<void>;
}

/** An enqueue waits this long for Redis before it is abandoned and retried. */
const ENQUEUE_TIMEOUT_MS = 10_000;

/** First wait before retrying an enqueue or a catalogue write. */
const RETRY_BASE_MS = 100;

/** Distinct topics remembered for "no parser" warnings, so each is logged once. */
const WARNED_TOPICS_LIMIT = 10_000;

/**
 * Starts the ingest pipeline: topic catalogue, routing by the configured topics (reloaded on
 * `sitewire_config` notifications), batching into BullMQ jobs on INGEST_QUEUE under
 * REDIS_PREFIX, acknowledging each message only once its job is in Redis.
 */
export async function startIngestPipeline(deps: IngestPipelineDeps): Promise<IngestPipeline> {
  const { config } = deps;
  const log = deps.logging.root.child({ component: 'ingest-pipeline' });
  const routes = new TopicRoutes(deps.registry);
  const refresh = await startRouteRefresh({
    databaseUrl: config.DATABASE_URL,
    routes,
    logger: log,
    refreshIntervalMs: config.RECONCILE_INTERVAL_MS,
  });

  const connection = openPipelineRedis(config.REDIS_URL);
  const queue = openIngestQueue(config, connection);
  queue.on('error', () => undefined);
  const enqueue = batchEnqueuer(queue);
  const pending = new PendingCounter();

  const redelivery = new Subject<number>();
  const hooks = pipelineHooks(
    deps.metrics,
    log,
    pending,
    config.PENDING_MESSAGES_LIMIT,
    redelivery,
  );
  const stopping = new Subject<void>();
  const flow = ingestFlow(deps.messages$.pipe(takeUntil(stopping)), {
    decide: (message) => routes.decide(message.connectionId, message.topic),
    enqueue,
    writeCatalogue: (stats) => writeTopicStats(deps.orm, stats),
    pending,
    limits: limitsOf(config),
    hooks,
  });

  let subscription: Subscription | undefined;
  const finished = new Promise<void>((resolve) => {
    subscription = flow.subscribe({
      error: (error: unknown) => {
        log.error({ err: error }, 'ingest pipeline failed');
        resolve();
      },
      complete: () => resolve(),
    });
  });
  log.info({ pendingLimit: config.PENDING_MESSAGES_LIMIT }, 'ingest pipeline started');

  return {
    pending,
    routes,
    redeliveryNeeded$: redelivery.asObservable(),
    reloadRoutes: () => refresh.reload(),
    stop: async () => {
      stopping.next();
      const flushed = await settleWithin(finished, config.PIPELINE_STOP_TIMEOUT_MS);
      // Past the timeout the retries are abandoned; what is held stays unacknowledged.
      subscription?.unsubscribe();
      if (!flushed) log.warn({ held: pending.count }, 'pipeline stopped with messages unsent');
      redelivery.complete();
      await refresh.stop();
      await queue.close().catch(() => undefined);
      connection.disconnect();
      log.info('ingest pipeline stopped');
    },
  };
}

type BatchWithId = RoutedMessage[] & { jobId?: string };

/**
 * A Redis connection of the pipeline's own that fails commands after one reconnect attempt
 * instead of queueing them for ever, so a failed enqueue surfaces, is counted and retried
 * with backoff while the pending limit bounds what waits.
 */
function openPipelineRedis(url: string): Redis {
  const connection = new Redis(url, {
    maxRetriesPerRequest: 1,
    connectionName: 'sitewire-ingest-pipeline',
  });
  // Reconnection attempts; failed enqueues are what gets counted and logged.
  connection.on('error', () => undefined);
  return connection;
}

function batchEnqueuer(queue: Queue<IngestJobData>) {
  const instance = randomUUID();
  let sequence = 0;
  return (batch: RoutedMessage[]) => {
    // The id is fixed per batch, so a retry after a lost reply cannot create a second job.
    const jobId = ((batch as BatchWithId).jobId ??= `${instance}-${++sequence}`);
    const messages = batch.map(({ message, parserName }) =>
      encodeJobMessage({ ...message, parserName }),
    );
    return queue.add(INGEST_JOB_NAME, { messages }, { jobId });
  };
}

function limitsOf(config: Config): IngestLimits {
  return {
    pendingMessages: config.PENDING_MESSAGES_LIMIT,
    batchMaxMessages: config.BATCH_MAX_MESSAGES,
    batchMaxWaitMs: config.BATCH_MAX_WAIT_MS,
    catalogueFlushMs: config.CATALOGUE_FLUSH_MS,
    catalogueMaxTopics: config.CATALOGUE_MAX_TOPICS,
    retryBaseMs: RETRY_BASE_MS,
    retryCapMs: config.ENQUEUE_RETRY_CAP_MS,
    enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS,
  };
}

function pipelineHooks(
  metrics: Metrics,
  log: Logger,
  pending: PendingCounter,
  limit: number,
  redelivery: Subject<number>,
): Partial<IngestHooks> {
  const warnedTopics = new Set<string>();
  const site = (message: ReceivedMessage) => String(message.siteId);
  const redeliveries = redeliveryTracker(pending, limit, redelivery, log);
  return {
    received: (message) => metrics.messagesReceived.inc({ site_id: site(message) }),
    routed: (message) => {
      metrics.messagesRouted.inc({ site_id: site(message) });
      redeliveries.held(message.connectionId, 1);
    },
    skipped: (message, reason) => {
      metrics.messagesSkipped.inc({ site_id: site(message), reason });
      if (reason !== 'no_parser' || warnedTopics.has(message.topic)) return;
      if (warnedTopics.size < WARNED_TOPICS_LIMIT) warnedTopics.add(message.topic);
      log.warn({ siteId: message.siteId, topic: message.topic }, 'no parser for topic');
    },
    dropped: (message, reason) => {
      metrics.messagesDropped.inc({ site_id: site(message), reason });
      if (reason === 'backpressure_unacked') redeliveries.turnedAway(message.connectionId);
      log.debug({ siteId: message.siteId, topic: message.topic, reason }, 'message dropped');
    },
    enqueued: (batch) => {
      for (const { message } of batch) {
        metrics.messagesEnqueued.inc({ site_id: site(message) });
        redeliveries.held(message.connectionId, -1);
      }
      redeliveries.check();
    },
    enqueueRetry: (error, attempt) => {
      metrics.redisErrors.inc({ operation: 'enqueue' });
      log.warn({ err: error, attempt }, 'enqueue failed, retrying');
    },
    catalogueRetry: (error, attempt) => {
      metrics.databaseErrors.inc({ operation: 'catalogue' });
      log.warn({ err: error, attempt }, 'catalogue write failed, retrying');
    },
  };
}

/**
 * Decides when a connection that had QoS 1/2 messages turned away should resume its session.
 * Not before every message it still holds is acknowledged (a resumed session drops held
 * acks, and the broker would resend those messages first, so the same ones would fill the
 * limit again and again), and not before the pipeline has room (half the limit free).
 */
function redeliveryTracker(
  pending: PendingCounter,
  limit: number,
  redelivery: Subject<number>,
  log: Logger,
) {
  const heldBy = new Map<number, number>();
  const turnedAway = new Set<number>();
  return {
    held: (connectionId: number, change: number) => {
      const held = (heldBy.get(connectionId) ?? 0) + change;
      if (held > 0) heldBy.set(connectionId, held);
      else heldBy.delete(connectionId);
    },
    turnedAway: (connectionId: number) => turnedAway.add(connectionId),
    check: () => {
      if (!turnedAway.size || pending.count > limit / 2) return;

      for (const connectionId of turnedAway) {
        if (heldBy.has(connectionId)) continue;
        turnedAway.delete(connectionId);
        log.warn({ connectionId }, 'session resume needed for turned-away messages');
        redelivery.next(connectionId);
      }
    },
  };
}

async function settleWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([promise.then(() => true), timedOut]);
  clearTimeout(timer);
  return result;
}
