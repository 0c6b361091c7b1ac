import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

/** Runs one SQL statement with `?` placeholders and returns its rows. */
export type SqlRunner = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

interface RawResult {
  rows?: Record<string, unknown>[];
}

/**
 * Runs `work` in one transaction on the ORM's pool, handing it a runner for set-based SQL.
 * Statements go through knex so values travel as bound parameters (MikroORM's own `execute`
 * would inline them into the SQL text).
 */
export async function inTransaction<T>(
  orm: MikroORM,
  work: (run: SqlRunner) => Promise<T>,
): Promise<T> {
  return orm.em.fork().transactional(async (em: EntityManager) => {
    const knex = em.getConnection().getKnex();
    const context: unknown = em.getTransactionContext();
    const run: SqlRunner = async (sql, params = []) => {
      const query = knex.raw(sql, params as never[]);
      if (context) query.transacting(context as never);
      const result = (await query) as RawResult;
      return result.rows ?? [];
    };
    return work(run);
  });
}

/** A runner outside any transaction, for single statements. */
export function autocommitRunner(orm: MikroORM): SqlRunner {
  const knex = orm.em.getConnection().getKnex();
  return async (sql, params = []) => {
    const result: RawResult = await knex.raw(sql, params as never[]);
    return result.rows ?? [];
  };
}
