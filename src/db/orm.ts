import { fileURLToPath } from 'node:url';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, PostgreSqlDriver, type Options } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ENTITIES } from '../entities/index.js';

/** The migrations folder, resolved the same way from `.ts` sources and compiled `.js`. */
export const MIGRATIONS_PATH = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Options of openOrm beyond the configuration. */
export interface OrmOptions {
  logger?: Logger;
  /** Connection pool size; default 10. */
  poolSize?: number;
}

/** MikroORM options for the engine's PostgreSQL database. */
export function ormOptions(
  config: Pick<Config, 'DATABASE_URL'>,
  options: OrmOptions = {},
): Options {
  return {
    driver: PostgreSqlDriver,
    clientUrl: config.DATABASE_URL,
    entities: ENTITIES,
    extensions: [Migrator],
    // Creates a missing database at start-up, so `npm start` needs only a reachable server.
    ensureDatabase: true,
    // vitest and tsx resolve `.ts` migrations only through Node's own import().
    dynamicImportProvider: (id: string) => import(id),
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolSize ?? 10 },
    migrations: {
      path: MIGRATIONS_PATH,
      glob: '!(*.d).{js,ts}',
      snapshot: false,
      silent: true,
      transactional: true,
      allOrNothing: true,
      emit: 'ts',
      fileName: (timestamp: string, name?: string) =>
        `Migration${timestamp}_${(name ?? 'migration').replace(/\W+/g, '_')}`,
    },
    debug: false,
    ...(options.logger ? { logger: (message: string) => options.logger?.debug(message) } : {}),
  };
}

/** Opens the ORM (creating the database when missing). */
export async function openOrm(
  config: Pick<Config, 'DATABASE_URL'>,
  options: OrmOptions = {},
): Promise<MikroORM> {
  return MikroORM.init(ormOptions(config, options));
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((migration) => migration.name);
}
