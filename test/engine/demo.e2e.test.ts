import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/config.js';
import { waitUntil } from '../support/connection-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnEngine, type EngineProcess } from '../support/engine-process.js';
import { freePort } from '../support/private-broker.js';

// `npm run demo` on its own database: within seconds readings are stored, the catalogue
// fills (configured and unconfigured topics) and malformed payloads are quarantined.
describe('npm run demo', () => {
  let database: TestDatabase;
  let logDir: string;
  let demo: EngineProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('demo');
    logDir = await mkdtemp(join(tmpdir(), 'sitewire-demo-logs-'));
  });

  afterAll(async () => {
    await demo?.stop('SIGKILL');
    await database?.drop();
    await rm(logDir, { recursive: true, force: true });
  });

  const count = async (query: string) =>
    (await database.orm.em.getConnection().execute<Array<{ n: number }>>(query))[0]!.n;

  it('shows data flowing, the catalogue filling and a quarantined payload', async () => {
    demo = spawnEngine(
      {
        DATABASE_URL: database.url,
        REDIS_PREFIX: `sitewire-test-${uniqueName('demo')}`,
        PORT: String(await freePort()),
        DEMO_BROKER_PORT: String(await freePort()),
        LOG_DIR: logDir,
      },
      'demo',
    );

    await waitUntil(() => demo!.output().includes('sitewire demo is running'), 60_000, 'start');
    await waitUntil(
      async () => (await count('select count(*)::int as n from mqtt_parsing_log')) > 0,
      60_000,
      'a quarantined payload',
    );

    expect(demo.output()).toContain('demo-admin-key-not-for-production');
    expect(await count('select count(*)::int as n from sensor_reading')).toBeGreaterThan(0);
    expect(await count('select count(*)::int as n from gateway')).toBe(4);
    const catalogue = await database.orm.em
      .getConnection()
      .execute<Array<{ topic_path: string; is_processable: boolean }>>(
        'select topic_path, is_processable from discovered_topic',
      );
    expect(catalogue.some((row) => row.topic_path.includes('/weather/'))).toBe(true);
    expect(catalogue.some((row) => row.is_processable)).toBe(true);
    expect(await demo.stop('SIGTERM')).toBe(0);
  }, 150_000);
});
