import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { migrateToLatest, openOrm } from '../../src/db/orm.js';
import { uniqueName } from './config.js';

/** The server every test database lives on; the same one `npm start` uses by default. */
export const TEST_SERVER_URL =
  process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

/** A migrated database private to one test file. */
export interface TestDatabase {
  name: string;
  url: string;
  orm: MikroORM;
  /** Closes the ORM and drops the database. */
  drop(): Promise<void>;
}

/** Creates a uniquely named database, applies every migration and opens the ORM on it. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `sitewire_test_${uniqueName(label)}`.slice(0, 63);
  const url = `${TEST_SERVER_URL}/${name}`;
  const orm = await openOrm({ DATABASE_URL: url }, { poolSize: 5 });
  await migrateToLatest(orm);

  return {
    name,
    url,
    orm,
    drop: async () => {
      await orm.close(true);
      await dropDatabase(name);
    },
  };
}

/** Drops a database, closing any connection left open to it. */
export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${TEST_SERVER_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}
