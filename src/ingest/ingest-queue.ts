import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { IngestJobData } from './ingest-job.js';
import { INGEST_QUEUE } from './queue-names.js';

/**
 * Options of every ingest job. A failing job is retried with exponential backoff (database
 * outages); finished jobs are trimmed so Redis memory stays flat, failed ones are kept longer
 * for inspection in Bull Board.
 */
export function ingestJobOptions(
  config: Pick<Config, 'INGEST_JOB_ATTEMPTS' | 'INGEST_BACKOFF_MS'>,
): JobsOptions {
  return {
    attempts: config.INGEST_JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.INGEST_BACKOFF_MS },
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 10_000 },
  };
}

/** The ingest queue on the given connection, under the configured key prefix. */
export function openIngestQueue(
  config: Pick<Config, 'REDIS_PREFIX' | 'INGEST_JOB_ATTEMPTS' | 'INGEST_BACKOFF_MS'>,
  connection: Redis,
): Queue<IngestJobData> {
  return new Queue<IngestJobData>(INGEST_QUEUE, {
    connection,
    prefix: config.REDIS_PREFIX,
    defaultJobOptions: ingestJobOptions(config),
  });
}
