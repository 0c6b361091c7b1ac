import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultRig, type FaultRig } from '../support/fault-rig.js';

const MESSAGES = 600;
const PER_SECOND = 100;
const OUTAGE_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Two engine processes with every role share four sites; each scenario publishes at QoS 1,
// takes one service away in the middle and checks that sent = stored, with no duplicates.
describe('faults: a shared service restarts while messages flow', () => {
  let rig: FaultRig;

  beforeAll(async () => {
    rig = await startFaultRig('services');
    await rig.startEngine('engine-a');
    await rig.createSites(4);
    await rig.startEngine('engine-b');
    await rig.waitForSubscribed();
  });

  afterAll(async () => {
    await rig?.dispose();
  });

  const scenario = async (name: string, outage: () => Promise<void>, back: () => Promise<void>) => {
    const before = await rig.storedCount();
    const publication = rig.publish(MESSAGES, PER_SECOND);
    await sleep(2_000);
    await outage();
    await sleep(OUTAGE_MS);
    await back();
    const backAt = Date.now();

    const sent = await publication.done;
    const storedAt = await rig.waitForStored(before + sent, 120_000);
    console.log(`${name}: sent ${sent}, all stored ${storedAt - backAt} ms after it came back`);

    expect((await rig.storedCount()) - before).toBe(sent);
    expect(await rig.distinctStored()).toBe(before + sent);
  };

  it('loses and duplicates nothing when the broker restarts', async () => {
    await scenario(
      'broker restart',
      () => rig.broker.stop(),
      () => rig.broker.start(),
    );
  });

  it('loses and duplicates nothing when Redis is killed and restarted', async () => {
    await scenario(
      'redis restart',
      () => rig.redis.stop(),
      () => rig.redis.start(),
    );
  });

  it('loses and duplicates nothing when PostgreSQL restarts', async () => {
    await scenario(
      'postgresql restart',
      () => rig.postgres.stop('fast'),
      () => rig.postgres.start(),
    );
  });
});
