import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleet, readingsPerMessage } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/gateway-simulator.js';
import { uniqueName } from '../support/config.js';
import { waitUntil } from '../support/connection-harness.js';
import { waitForSubscribedConnection } from '../support/connection-ready.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnEngine, type EngineProcess } from '../support/engine-process.js';
import { createTelemetrySite } from '../support/factories.js';
import { startPrivateBroker, type PrivateBroker } from '../support/private-broker.js';

// SIGTERM while gateways publish at QoS 1: the engine flushes what it holds to Redis,
// acknowledges it, closes its session without unsubscribing, and exits 0; the broker keeps
// the rest for the next session. Once the engine is back, every message is stored once.
describe('graceful shutdown under traffic', () => {
  const code = uniqueName('stop');
  let database: TestDatabase;
  let broker: PrivateBroker;
  let logDir: string;
  let engine: EngineProcess | undefined;
  let env: Record<string, string>;

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) =>
    database.orm.em.getConnection().execute<T[]>(query, params);

  beforeAll(async () => {
    database = await createTestDatabase('shutdown');
    broker = await startPrivateBroker({ persistence: true, maxQueuedMessages: 100_000 });
    logDir = await mkdtemp(join(tmpdir(), 'sitewire-stop-logs-'));
    env = {
      DATABASE_URL: database.url,
      REDIS_PREFIX: `sitewire-test-${code}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_DIR: logDir,
      SECRET_KEY: 'test-secret-key-0123456789',
      ROLES: 'supervisor,worker',
    };

    await createTelemetrySite(database.orm.em.fork(), {
      brokerPort: broker.port,
      clientIdPrefix: `stop-${process.pid}`,
      topicPrefix: code,
    });
  });

  afterAll(async () => {
    await engine?.stop('SIGKILL');
    await broker?.destroy();
    await database?.drop();
    await rm(logDir, { recursive: true, force: true });
  });

  const storedReadings = async () =>
    (await sql<{ n: number }>('select count(*)::int as n from sensor_reading'))[0]!.n;

  it('loses nothing and stores nothing twice across a SIGTERM and a restart', async () => {
    engine = spawnEngine(env);
    await waitForSubscribedConnection(database.orm, 1, 60_000);
    const fleet = createFleet({ seed: 11, siteCodes: [code], gatewaysPerSite: 4 });
    const simulator = await startSimulator({
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      fleet,
      messagesPerSecond: 300,
      qos: 1,
      maxMessages: 1_500,
      startTime: new Date('2026-12-03T00:00:00Z'),
    });

    await waitUntil(() => simulator.stats().published >= 400, 20_000, 'traffic');
    const exitCode = await engine.stop('SIGTERM');
    expect(exitCode, engine.output()).toBe(0);
    const storedAtStop = await storedReadings();

    engine = spawnEngine(env);
    const stats = await simulator.finished;
    await simulator.stop();
    await waitUntil(async () => (await storedReadings()) >= stats.readings, 60_000, 'all');

    expect(storedAtStop).toBeGreaterThan(0);
    expect(stats.published).toBe(1_500);
    expect(await storedReadings()).toBe(stats.readings);
    const perGateway = await sql<{ gateway: string; messages: number }>(
      `select g.serial_number as gateway, count(distinct r.ts)::int as messages
       from sensor_reading r join sensor s on s.id = r.sensor_id join device d on d.id = s.device_id
       join datalogger dl on dl.id = d.datalogger_id join gateway g on g.id = dl.gateway_id
       group by g.serial_number`,
    );
    expect(perGateway.reduce((sum, row) => sum + row.messages, 0)).toBe(1_500);
    const [quarantined] = await sql<{ n: number }>(
      'select count(*)::int as n from mqtt_parsing_log',
    );
    expect(quarantined!.n).toBe(0);
    expect(fleet.reduce((sum, gateway) => sum + readingsPerMessage(gateway), 0)).toBeGreaterThan(0);

    expect(await engine.stop('SIGTERM'), engine.output()).toBe(0);
  }, 180_000);
});
