import type { MikroORM } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import { buildApp } from './api/app.js';
import type { Config } from './config.js';
import { migrateToLatest, openOrm } from './db/orm.js';
import type { Logging } from './logger.js';
import { openRedis } from './redis.js';

/** A running engine: whichever roles this process was asked to run. */
export interface Engine {
  /** The HTTP address, when the api role runs. */
  address?: string;
  stop(): Promise<void>;
}

/** Starts the roles named in config.ROLES, after applying pending migrations. */
export async function startEngine(config: Config, logging: Logging): Promise<Engine> {
  const log = logging.root.child({ component: 'engine' });
  const orm = await openOrm(config, { logger: logging.root.child({ component: 'orm' }) });
  await applyMigrations(config, orm, log);
  const redis = openRedis(config.REDIS_URL, 'sitewire-engine');

  const stops: Array<() => Promise<unknown>> = [];
  let address: string | undefined;
  if (config.ROLES.includes('api')) {
    const app = await buildApp({ config, orm, redis, logger: logging.root });
    address = await app.listen({ host: config.HOST, port: config.PORT });
    stops.push(() => app.close());
  }

  log.info({ roles: config.ROLES, address }, 'engine started');
  return {
    ...(address ? { address } : {}),
    stop: () => stopAll(stops, orm, redis),
  };
}

async function applyMigrations(config: Config, orm: MikroORM, log: Logging['root']): Promise<void> {
  if (!config.MIGRATE_ON_START) return;

  const applied = await migrateToLatest(orm);
  log.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
}

async function stopAll(
  stops: Array<() => Promise<unknown>>,
  orm: MikroORM,
  redis: Redis,
): Promise<void> {
  for (const stop of stops.reverse()) await stop();
  await orm.close();
  redis.disconnect();
}
