import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { INGEST_QUEUE, MAINTENANCE_QUEUE } from '../../ingest/queue-names.js';
import { openRedis } from '../../redis.js';
import type { ApiContext } from '../api-context.js';

/** Where Bull Board is mounted. */
export const QUEUES_PATH = '/admin/queues';

/**
 * Mounts Bull Board at /admin/queues for the ingest and maintenance queues. Every route it
 * adds is admin-only (the auth hook's default). Without injected queues the app opens its
 * own, on a Redis connection it closes with the app.
 */
export async function registerQueueBoard(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const queues = ctx.queues ?? openDefaultQueues(app, ctx);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'sitewire queues' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH });
}

function openDefaultQueues(app: FastifyInstance, ctx: ApiContext): Queue[] {
  const connection = openRedis(ctx.config.REDIS_URL, 'sitewire-bull-board');
  connection.on('error', (error: unknown) => ctx.logger.debug({ err: error }, 'queue redis'));
  const queues = [INGEST_QUEUE, MAINTENANCE_QUEUE].map(
    (name) => new Queue(name, { connection, prefix: ctx.config.REDIS_PREFIX }),
  );
  app.addHook('onClose', async () => {
    await Promise.all(queues.map((queue) => queue.close()));
    // BullMQ never closes connections it was given.
    connection.disconnect();
  });
  return queues;
}
