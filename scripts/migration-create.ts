// Creates a migration from the difference between the entities and the migrated schema.
// Usage: npm run migration:create -- <name>. Uses a scratch database that it drops after.
import { parseConfig } from '../src/config.js';
import { migrateToLatest, openOrm } from '../src/db/orm.js';

const name = process.argv[2] ?? 'migration';
const baseUrl = new URL(parseConfig(process.env).DATABASE_URL);
const scratch = new URL(baseUrl);
scratch.pathname = `/sitewire_migration_scratch_${process.pid}`;

const orm = await openOrm({ DATABASE_URL: scratch.toString() });
try {
  await migrateToLatest(orm);
  const result = await orm.getMigrator().createMigration(undefined, false, false, name);
  console.log(result.fileName ? `created ${result.fileName}` : 'entities and migrations agree');
} finally {
  await orm.close();
  const admin = await openOrm({ DATABASE_URL: baseUrl.toString() });
  await admin.em.getConnection().execute(`drop database if exists "${scratch.pathname.slice(1)}"`);
  await admin.close();
}
