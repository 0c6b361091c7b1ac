import { loadConfig } from './config.js';
import { migrateToLatest, openOrm } from './db/orm.js';
import { createPlainLogger } from './logger.js';

// One-shot migration run (`npm run migrate`, and the compose file's `migrate` service): creates
// the database when missing, applies pending migrations and exits.
const config = loadConfig();
const log = createPlainLogger(config.LOG_LEVEL === 'silent' ? 'silent' : 'info');
const orm = await openOrm(config);
try {
  const applied = await migrateToLatest(orm);
  log.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
} finally {
  await orm.close();
}
