import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_QUEUE } from '../../src/ingest/queue-names.js';
import {
  RIG_ADMIN_KEY,
  RIG_LEASE_TTL_MS,
  startFaultRig,
  until,
  type FaultRig,
} from '../support/fault-rig.js';

const SITES = 100;
const MESSAGES = 1_000;
const PER_SECOND = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Engine processes sharing 100 site connections through leases. Each scenario publishes at
// QoS 1, takes an instance away in the middle and checks that sent = stored, no duplicates.
describe('faults: engine instances die or leave while messages flow', () => {
  let rig: FaultRig;
  let redis: Redis;
  let queue: Queue;

  beforeAll(async () => {
    rig = await startFaultRig('instances');
    await rig.startEngine('engine-a', 'api,supervisor');
    await rig.createSites(SITES);
    await rig.startEngine('worker-c', 'worker');
    await rig.waitForSubscribed();
    redis = new Redis(rig.redis.url, { maxRetriesPerRequest: null });
    queue = new Queue(INGEST_QUEUE, { connection: redis, prefix: rig.redisPrefix });
  });

  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await rig?.dispose();
  });

  const settle = async (name: string, before: number, sent: number, since: number) => {
    const storedAt = await rig.waitForStored(before + sent, 150_000);
    console.log(`${name}: sent ${sent}, all stored ${storedAt - since} ms after the fault`);
    expect((await rig.storedCount()) - before).toBe(sent);
    expect(await rig.distinctStored()).toBe(before + sent);
  };

  const ownedBy = async (instanceId: string) => (await rig.connectedOwners()).get(instanceId) ?? 0;

  it('loses and duplicates nothing when a worker is killed in the middle of a batch', async () => {
    const before = await rig.storedCount();
    const publication = rig.publish(MESSAGES, PER_SECOND);
    // worker-c is the only worker: an active job is a batch it is in the middle of.
    await until(
      async () => (await queue.getActiveCount()) > 0,
      30_000,
      () => 'an active job',
    );
    await rig.killEngine('worker-c');
    const killedAt = Date.now();
    await rig.startEngine('engine-b');

    const sent = await publication.done;
    await settle('worker SIGKILL mid-batch', before, sent, killedAt);
  });

  it('shares the 100 connections about evenly between two supervisors', async () => {
    await until(
      async () => (await ownedBy('engine-a')) + (await ownedBy('engine-b')) === SITES,
      4 * RIG_LEASE_TTL_MS,
      () => 'every connection connected under an owner',
    );
    await until(
      async () => Math.abs((await ownedBy('engine-a')) - (await ownedBy('engine-b'))) <= 2,
      6 * RIG_LEASE_TTL_MS,
      () => 'an even share',
    );
    const owners = await rig.connectedOwners();
    console.log(`shares: ${JSON.stringify(Object.fromEntries(owners))}`);
    expect(owners.get('engine-a')).toBeGreaterThanOrEqual(40);
    expect(owners.get('engine-b')).toBeGreaterThanOrEqual(40);

    const [row] = await rig.sql<{ site_id: number; owner_instance: string }>(
      'select site_id, owner_instance from mqtt_connection order by id limit 1',
    );
    const port = rig.engines.get('engine-a')!.port;
    const response = await fetch(`http://127.0.0.1:${port}/api/sites/${row!.site_id}/connection`, {
      headers: { authorization: `Bearer ${RIG_ADMIN_KEY}` },
    });
    expect(await response.json()).toMatchObject({ owner_instance: row!.owner_instance });
  });

  it('moves a killed instance’s connections within the lease time, losing nothing', async () => {
    const before = await rig.storedCount();
    const publication = rig.publish(MESSAGES, PER_SECOND);
    await sleep(3_000);
    await rig.killEngine('engine-a');
    const killedAt = Date.now();

    await until(
      async () => (await ownedBy('engine-b')) === SITES,
      4 * RIG_LEASE_TTL_MS,
      () => 'engine-b to own every connection',
    );
    const movedMs = Date.now() - killedAt;
    console.log(`engine SIGKILL: ${SITES} connections on engine-b ${movedMs} ms after the kill`);
    // Expiry (at most one TTL after the last renewal), one tick to notice, admission.
    expect(movedMs).toBeLessThan(RIG_LEASE_TTL_MS + 3_000);

    const sent = await publication.done;
    await settle('engine SIGKILL', before, sent, killedAt);
  });

  it('hands a gracefully stopped instance’s connections over at once, losing nothing', async () => {
    await rig.startEngine('engine-c');
    await until(
      async () => Math.abs((await ownedBy('engine-b')) - (await ownedBy('engine-c'))) <= 2,
      6 * RIG_LEASE_TTL_MS,
      () => 'an even share between engine-b and engine-c',
    );
    const before = await rig.storedCount();
    const publication = rig.publish(MESSAGES, PER_SECOND);
    await sleep(3_000);
    const stoppingAt = Date.now();
    await rig.stopEngine('engine-b');
    const stoppedAt = Date.now();

    await until(
      async () => (await ownedBy('engine-c')) === SITES,
      4 * RIG_LEASE_TTL_MS,
      () => 'engine-c to own every connection',
    );
    const movedMs = Date.now() - stoppedAt;
    console.log(
      `graceful stop: shutdown took ${stoppedAt - stoppingAt} ms, ` +
        `${SITES} connections on engine-c ${movedMs} ms after it`,
    );
    expect(movedMs).toBeLessThan(RIG_LEASE_TTL_MS);

    const sent = await publication.done;
    await settle('graceful stop', before, sent, stoppingAt);
  });
});
