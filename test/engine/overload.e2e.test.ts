import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type Engine } from '../../src/engine.js';
import { createLogging, type Logging } from '../../src/logger.js';
import { createFleet } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/gateway-simulator.js';
import { testConfig, uniqueName } from '../support/config.js';
import { waitUntil } from '../support/connection-harness.js';
import { waitForSubscribedConnection } from '../support/connection-ready.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTelemetrySite } from '../support/factories.js';
import { startPrivateBroker, type PrivateBroker } from '../support/private-broker.js';

// A tiny in-memory limit and slow batches: the pipeline must turn QoS 1 messages away
// unacknowledged, then have the connection resume its session so the broker resends them.
describe('overload', () => {
  const code = uniqueName('over');
  let database: TestDatabase;
  let broker: PrivateBroker;
  let logDir: string;
  let logging: Logging;
  let engine: Engine;

  beforeAll(async () => {
    database = await createTestDatabase('overload');
    broker = await startPrivateBroker({ maxQueuedMessages: 100_000 });
    logDir = await mkdtemp(join(tmpdir(), 'sitewire-overload-logs-'));
    const config = testConfig({
      DATABASE_URL: database.url,
      REDIS_PREFIX: `sitewire-test-${code}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_DIR: logDir,
      PENDING_MESSAGES_LIMIT: '10',
      BATCH_MAX_MESSAGES: '1000',
      BATCH_MAX_WAIT_MS: '300',
      ROLES: 'supervisor,worker',
    });
    logging = await createLogging(config);
    engine = await startEngine(config, logging);

    await createTelemetrySite(database.orm.em.fork(), {
      brokerPort: broker.port,
      clientIdPrefix: `over-${process.pid}`,
      topicPrefix: code,
    });
  });

  afterAll(async () => {
    await engine?.stop();
    await logging?.close();
    await broker?.destroy();
    await database?.drop();
    await rm(logDir, { recursive: true, force: true });
  });

  it('stores every QoS 1 message it had to turn away, by resuming the session', async () => {
    const sql = database.orm.em.getConnection();
    await waitForSubscribedConnection(database.orm, 1);
    const fleet = createFleet({ seed: 3, siteCodes: [code], gatewaysPerSite: 2 });

    const simulator = await startSimulator({
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      fleet,
      messagesPerSecond: 400,
      qos: 1,
      maxMessages: 200,
      startTime: new Date('2026-12-03T00:00:00Z'),
    });
    const stats = await simulator.finished;
    await simulator.stop();

    const stored = async () =>
      (await sql.execute<Array<{ n: number }>>('select count(*)::int as n from sensor_reading'))[0]!
        .n;
    await waitUntil(async () => (await stored()) === stats.readings, 60_000, 'every reading');
    const turnedAway = await engine.metrics.messagesDropped.get();
    const unacked = turnedAway.values
      .filter((entry) => entry.labels.reason === 'backpressure_unacked')
      .reduce((sum, entry) => sum + entry.value, 0);
    expect(unacked).toBeGreaterThan(0);
    expect(engine.pipeline!.pending.highWater).toBeLessThanOrEqual(10);
  }, 120_000);
});
