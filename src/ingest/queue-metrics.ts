import type { JobType, Queue } from 'bullmq';
import type { Metrics } from '../observability/metrics.js';

/** Job states whose counts are exported as sitewire_queue_jobs{queue,state}. */
export const EXPORTED_JOB_STATES: JobType[] = [
  'waiting',
  'active',
  'delayed',
  'failed',
  'prioritized',
];

/**
 * Sets the queue depth gauges (jobs per state, age of the oldest waiting job) from Redis.
 * Meant to run on each /metrics scrape, so the numbers are fresh without a poller; a few
 * Redis round trips per queue.
 */
export async function collectQueueMetrics(queues: Queue[], metrics: Metrics): Promise<void> {
  for (const queue of queues) {
    const counts = await queue.getJobCounts(...EXPORTED_JOB_STATES);
    for (const state of EXPORTED_JOB_STATES) {
      metrics.queueDepth.set({ queue: queue.name, state }, counts[state] ?? 0);
    }

    const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
    const age = oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1_000) : 0;
    metrics.queueOldestWaitingSeconds.set({ queue: queue.name }, age);
  }
}
