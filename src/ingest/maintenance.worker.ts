import type { MikroORM } from '@mikro-orm/postgresql';
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventPublisher } from '../events/event-bus.js';
import type { Metrics } from '../observability/metrics.js';
import { openRedis } from '../redis.js';
import { reportTransitions } from './ingest.worker.js';
import { MAINTENANCE_QUEUE } from './queue-names.js';
import { autocommitRunner } from './sql-runner.js';
import type { GatewayTransition } from './telemetry.writer.js';

/** Scheduler id and job name of the gateway silence sweep. */
export const GATEWAY_SWEEP_JOB = 'gateway-offline-sweep';

/** Scheduler id and job name of the log retention job. */
export const LOG_RETENTION_JOB = 'log-retention';

/** What the maintenance jobs need. */
export interface MaintenanceDeps {
  config: Config;
  orm: MikroORM;
  logging: { root: Logger };
  metrics?: Metrics;
  events?: EventPublisher;
}

/** Running maintenance: the schedulers and the worker that runs their jobs. */
export interface Maintenance {
  queue: Queue;
  worker: Worker;
  stop(): Promise<void>;
}

// A gateway is silent when nothing arrived for GATEWAY_OFFLINE_FACTOR heartbeat intervals.
const MARK_SILENT_GATEWAYS_OFFLINE = `
update gateway set is_online = false
where is_online
  and last_seen_at < now() - make_interval(secs => expected_heartbeat_interval * ?::float8)
returning serial_number, site_id`;

/**
 * Registers the maintenance job schedulers (BullMQ job schedulers: upserting them is
 * idempotent, so every instance may call this at start) and starts the worker running them.
 * Several instances share the queue, so each sweep runs once per interval, not once per
 * instance.
 */
export async function startMaintenance(deps: MaintenanceDeps): Promise<Maintenance> {
  const { config } = deps;
  const log = deps.logging.root.child({ component: 'maintenance' });
  const connection = openRedis(config.REDIS_URL, 'sitewire-maintenance');
  // Reconnection attempts while Redis is away; the worker's own `error` event reports them.
  connection.on('error', () => undefined);
  const prefix = config.REDIS_PREFIX;

  const queue = new Queue(MAINTENANCE_QUEUE, { connection, prefix });
  const keep = { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };
  const sweepEvery = config.GATEWAY_SWEEP_INTERVAL_MS;
  const pruneEvery = config.LOG_RETENTION_INTERVAL_MS;
  await queue.upsertJobScheduler(
    GATEWAY_SWEEP_JOB,
    { every: sweepEvery },
    { name: GATEWAY_SWEEP_JOB, opts: keep },
  );
  await queue.upsertJobScheduler(
    LOG_RETENTION_JOB,
    { every: pruneEvery },
    { name: LOG_RETENTION_JOB, opts: keep },
  );

  const worker = new Worker(MAINTENANCE_QUEUE, (job) => runMaintenanceJob(deps, log, job), {
    connection,
    prefix,
  });
  worker.on('error', (error) => log.warn({ err: error }, 'maintenance worker error'));
  log.info({ sweepEvery, pruneEvery }, 'maintenance started');

  return {
    queue,
    worker,
    stop: async () => {
      await worker.close();
      await queue.close();
      connection.disconnect();
    },
  };
}

async function runMaintenanceJob(deps: MaintenanceDeps, log: Logger, job: Job): Promise<void> {
  if (job.name === GATEWAY_SWEEP_JOB) {
    const silent = await sweepOfflineGateways(deps.orm, deps.config.GATEWAY_OFFLINE_FACTOR);
    await reportTransitions(deps, silent, 'no message within the expected interval');
    if (silent.length) log.info({ gateways: silent.length }, 'gateways marked offline');
    return;
  }

  if (job.name === LOG_RETENTION_JOB) {
    const pruned = await pruneLogs(deps.orm, deps.config.LOG_RETENTION_DAYS);
    log.info(pruned, 'old log rows pruned');
  }
}

/**
 * Marks offline every online gateway silent for `factor` times its expected heartbeat
 * interval, and returns them. The next message from one brings it back online (the ingest
 * write sets is_online from the message).
 */
export async function sweepOfflineGateways(
  orm: MikroORM,
  factor: number,
): Promise<GatewayTransition[]> {
  const rows = await autocommitRunner(orm)(MARK_SILENT_GATEWAYS_OFFLINE, [factor]);
  return rows.map((row) => ({
    serialNumber: String(row.serial_number),
    siteId: Number(row.site_id),
    isOnline: false,
  }));
}

const PRUNE = (table: string) => `
with pruned as (delete from ${table} where "timestamp" < ?::timestamptz returning 1)
select count(*)::int as n from pruned`;

/** Deletes connection and parsing log rows older than `days` days; returns the counts. */
export async function pruneLogs(
  orm: MikroORM,
  days: number,
): Promise<{ connectionLogs: number; parsingLogs: number }> {
  const run = autocommitRunner(orm);
  const cutoff = new Date(Date.now() - days * 86_400_000).toISOString();
  const [connection] = await run(PRUNE('mqtt_connection_log'), [cutoff]);
  const [parsing] = await run(PRUNE('mqtt_parsing_log'), [cutoff]);
  return { connectionLogs: Number(connection?.n ?? 0), parsingLogs: Number(parsing?.n ?? 0) };
}
