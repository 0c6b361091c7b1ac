import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startConnectionSupervisor,
  type ConnectionSupervisor,
} from '../../src/connections/connection-supervisor.js';
import { ConnectionStore } from '../../src/connections/connection-store.js';
import { LeaseStore } from '../../src/connections/lease-store.js';
import { EventPublisher } from '../../src/events/event-bus.js';
import { createPlainLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from '../support/config.js';
import { FAST_CONNECTION_SETTINGS, waitUntil } from '../support/connection-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createConnection, createSite } from '../support/factories.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';

const TTL_MS = 2_000;
const CONNECTIONS = 20;
const PREFIX = uniqueName('leases');
const TOPIC_PREFIX = `sw/${PREFIX}`;

describe('connection leases', () => {
  let database: TestDatabase;
  const redis = openRedis('redis://127.0.0.1:6379');
  const stores: LeaseStore[] = [];
  const running = new Set<ConnectionSupervisor>();

  const leaseStore = (instanceId: string) => {
    const store = new LeaseStore({
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: PREFIX,
      instanceId,
      ttlMs: TTL_MS,
      commandTimeoutMs: 400,
    });
    stores.push(store);
    return store;
  };

  const startInstance = async (instanceId: string) => {
    const config = testConfig({ DATABASE_URL: database.url, ...FAST_CONNECTION_SETTINGS });
    const logger = createPlainLogger('silent');
    const supervisor = await startConnectionSupervisor({
      config,
      orm: database.orm,
      logging: { root: logger, connection: logger },
      events: new EventPublisher(redis, PREFIX),
      metrics: createMetrics(),
      leases: leaseStore(instanceId),
    });
    supervisor.messages$.subscribe((message) => message.acknowledge());
    running.add(supervisor);
    return supervisor;
  };

  const stopInstance = async (supervisor: ConnectionSupervisor) => {
    running.delete(supervisor);
    await supervisor.stop();
  };

  const owners = async () => {
    const rows = await database.orm.em
      .getConnection()
      .execute<Array<{ owner_instance: string | null; n: string }>>(
        `select owner_instance, count(*) as n from mqtt_connection group by owner_instance`,
      );
    return new Map(rows.map((row) => [row.owner_instance, Number(row.n)]));
  };

  beforeAll(async () => {
    database = await createTestDatabase('leases');
    for (let i = 0; i < CONNECTIONS; i += 1) {
      const em = database.orm.em.fork();
      const site = await createSite(em);
      await createConnection(em, site, {
        clientIdPrefix: PREFIX.slice(0, 40),
        discoveryPattern: `${TOPIC_PREFIX}/${i}/#`,
      });
    }
  });

  afterAll(async () => {
    for (const supervisor of [...running]) await stopInstance(supervisor);
    for (const store of stores) store.close();
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await database?.drop();
  });

  it('shares the connections evenly between two instances and records each owner', async () => {
    const first = await startInstance('instance-a');
    expect(first.owned()).toHaveLength(CONNECTIONS);

    const second = await startInstance('instance-b');
    await waitUntil(() => second.owned().length === CONNECTIONS / 2, 4 * TTL_MS, 'a fair share');
    await waitUntil(() => first.owned().length === CONNECTIONS / 2, 4 * TTL_MS, 'hand-over');
    await waitUntil(
      async () => {
        const counts = await owners();
        return counts.get('instance-a') === 10 && counts.get('instance-b') === 10;
      },
      4 * TTL_MS,
      'owners written',
    );

    const both = new Set([...first.owned(), ...second.owned()]);
    expect(both.size).toBe(CONNECTIONS);
  });

  it('hands a stopped instance’s connections over at once, without waiting for the TTL', async () => {
    const [first, second] = [...running] as [ConnectionSupervisor, ConnectionSupervisor];
    const startedAt = Date.now();
    await stopInstance(first);

    await waitUntil(() => second.owned().length === CONNECTIONS, TTL_MS, 'take-over');
    expect(Date.now() - startedAt).toBeLessThan(TTL_MS);
    await waitUntil(
      async () => (await owners()).get('instance-b') === CONNECTIONS,
      TTL_MS,
      'owners written',
    );
  });

  it('takes over a silent instance’s connections only once their leases expired', async () => {
    const ghost = leaseStore('ghost');
    const [survivor] = [...running] as [ConnectionSupervisor];
    await stopInstance(survivor);
    const ids = (await database.orm.em
      .getConnection()
      .execute<Array<{ id: number }>>('select id from mqtt_connection order by id')) as Array<{
      id: number;
    }>;
    await ghost.heartbeat();
    const won = await ghost.acquire(
      ids.map((row) => row.id),
      CONNECTIONS,
    );
    expect(won).toHaveLength(CONNECTIONS);

    // The ghost never renews, as a process killed with SIGKILL would not.
    const startedAt = Date.now();
    const heir = await startInstance('heir');
    expect(heir.owned()).toHaveLength(0);
    await waitUntil(() => heir.owned().length === CONNECTIONS, 3 * TTL_MS, 'take-over');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(TTL_MS - 200);
  });

  it('never grants a held lease, and issues a larger fencing token to each new owner', async () => {
    const a = leaseStore('token-a');
    const b = leaseStore('token-b');
    const id = 1_000_000 + Math.floor(Math.random() * 1000);

    const [first] = await a.acquire([id], 1);
    expect(await b.acquire([id], 1)).toEqual([]);
    await a.release(new Map([[id, first!.token]]));
    const [second] = await b.acquire([id], 1);

    expect(second!.token).toBeGreaterThan(first!.token);
    expect(await a.renew(new Map([[id, first!.token]]))).toEqual([id]);
    expect(await b.renew(new Map([[id, second!.token]]))).toEqual([]);
  });

  it('refuses the status write of a stale owner', async () => {
    const store = new ConnectionStore(database.orm);
    const [{ id }] = (await database.orm.em
      .getConnection()
      .execute<Array<{ id: number }>>('select id from mqtt_connection order by id limit 1')) as [
      { id: number },
    ];
    await store.writeOwner(id, 'new-owner', 1_000_000);
    const columns = {
      retryCount: 0,
      nextRetryAt: null,
      lastConnectedAt: null,
      lastError: null,
    };

    await store.writeStatus(id, { ...columns, status: 'error' }, 999_999);
    await store.writeStatus(id, { ...columns, status: 'connecting' }, 1_000_000);
    await store.writeOwner(id, 'older-owner', 999_999);

    const [row] = await database.orm.em
      .getConnection()
      .execute<Array<{ status: string; owner_instance: string }>>(
        'select status, owner_instance from mqtt_connection where id = ?',
        [id],
      );
    expect(row).toEqual({ status: 'connecting', owner_instance: 'new-owner' });
  });
});

describe('connection leases while Redis is unreachable', () => {
  let database: TestDatabase;
  let redis: PrivateRedis;
  let supervisor: ConnectionSupervisor | undefined;
  let leases: LeaseStore | undefined;

  beforeAll(async () => {
    [database, redis] = await Promise.all([
      createTestDatabase('leases_outage'),
      startPrivateRedis(),
    ]);
    for (let i = 0; i < 3; i += 1) {
      const em = database.orm.em.fork();
      const site = await createSite(em);
      await createConnection(em, site, {
        clientIdPrefix: `${PREFIX.slice(0, 30)}-outage`,
        discoveryPattern: `${TOPIC_PREFIX}/outage/${i}/#`,
      });
    }
  });

  afterAll(async () => {
    await supervisor?.stop();
    leases?.close();
    await redis?.dispose();
    await database?.drop();
  });

  it('stops its clients before its leases can expire and be taken by another', async () => {
    const logger = createPlainLogger('silent');
    const events = openRedis(redis.url);
    events.on('error', () => undefined);
    leases = new LeaseStore({
      redisUrl: redis.url,
      prefix: PREFIX,
      instanceId: 'cut-off',
      ttlMs: TTL_MS,
      commandTimeoutMs: 400,
    });
    supervisor = await startConnectionSupervisor({
      config: testConfig({ DATABASE_URL: database.url, ...FAST_CONNECTION_SETTINGS }),
      orm: database.orm,
      logging: { root: logger, connection: logger },
      events: new EventPublisher(events, PREFIX),
      metrics: createMetrics(),
      leases,
    });
    supervisor.messages$.subscribe((message) => message.acknowledge());
    const connected = async () =>
      (await database.orm.em
        .getConnection()
        .execute<Array<{ n: string }>>(
          `select count(*) as n from mqtt_connection where status = 'connected'`,
        )) as Array<{ n: string }>;
    await waitUntil(async () => Number((await connected())[0]!.n) === 3, 5_000, 'connected');

    await redis.stop();
    const cutAt = Date.now();
    await waitUntil(() => supervisor!.owned().length === 0, TTL_MS, 'clients stopped');
    await waitUntil(async () => Number((await connected())[0]!.n) === 0, TTL_MS, 'stopped');

    // The last renewal was at most one tick before the cut; the lease lives a TTL after it.
    expect(Date.now() - cutAt).toBeLessThan(TTL_MS - 400);
    events.disconnect();
  });
});
