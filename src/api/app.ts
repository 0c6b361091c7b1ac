import type { MikroORM } from '@mikro-orm/postgresql';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';

/** What the HTTP layer needs from the rest of the engine. */
export interface AppDependencies {
  config: Config;
  orm: MikroORM;
  redis: Redis;
  logger: Logger;
}

/** How long a readiness probe waits for PostgreSQL or Redis before calling it down. */
const READINESS_TIMEOUT_MS = 2_000;

/** Builds the Fastify app: health and readiness probes. */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({ loggerInstance });

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks = await checkDependencies(deps);
    const ready = Object.values(checks).every((state) => state === 'up');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unready', checks });
  });

  await app.ready();
  return app;
}

/** Asks PostgreSQL and Redis for a sign of life, each bounded by READINESS_TIMEOUT_MS. */
export async function checkDependencies(
  deps: Pick<AppDependencies, 'orm' | 'redis'>,
): Promise<{ postgres: 'up' | 'down'; redis: 'up' | 'down' }> {
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
