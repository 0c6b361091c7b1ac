import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterTotal, startIngestHarness, type IngestHarness } from '../support/ingest-harness.js';
import { waitFor } from '../support/mqtt-source.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { nthSecond, telemetryTopic, temperatureMessage } from './telemetry-payloads.js';

const PENDING_LIMIT = 30;

describe('ingest across a Redis outage', () => {
  let redis: PrivateRedis;
  let h: IngestHarness;

  const readingsOf = async (gateway: string) => {
    const [row] = await h.rows<{ n: number }>(
      `select count(*)::int as n from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number = $1`,
      [`DEV-${gateway}-temp`],
    );
    return row?.n ?? 0;
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
    h = await startIngestHarness({
      label: 'redis_outage',
      topics: [{ pattern: 'gateway/+/dataloggers/telemetry' }],
      env: {
        REDIS_URL: redis.url,
        PENDING_MESSAGES_LIMIT: String(PENDING_LIMIT),
        ENQUEUE_RETRY_CAP_MS: '300',
      },
    });
  });

  afterAll(async () => {
    await redis?.start().catch(() => undefined);
    await h?.stop();
    await redis?.dispose();
  });

  it('stores every QoS 1 message published while Redis was down, once, with memory bounded', async () => {
    for (let i = 0; i < 20; i += 1) {
      await h.publish(telemetryTopic('GW-R1'), temperatureMessage('GW-R1', nthSecond(i), i));
    }
    await waitFor(async () => (await readingsOf('GW-R1')) === 20);

    await redis.stop();
    for (let i = 20; i < 120; i += 1) {
      await h.publish(telemetryTopic('GW-R1'), temperatureMessage('GW-R1', nthSecond(i), i));
    }
    // QoS 0 traffic on top: beyond the pending limit it is dropped and counted, by design.
    for (let i = 0; i < 50; i += 1) {
      const payload = temperatureMessage('GW-R0', nthSecond(i), i);
      await h.publish(telemetryTopic('GW-R0'), payload, 0);
    }
    await waitFor(
      async () => (await counterTotal(h.metrics.messagesReceived)) >= 20 + PENDING_LIMIT,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    expect(await readingsOf('GW-R1')).toBe(20);
    expect(h.pipeline.pending.count).toBeLessThanOrEqual(PENDING_LIMIT);
    expect(await counterTotal(h.metrics.redisErrors, { operation: 'enqueue' })).toBeGreaterThan(0);
    await redis.start();
    await waitFor(async () => (await readingsOf('GW-R1')) === 120, 30_000);

    const dropped = await counterTotal(h.metrics.messagesDropped, { reason: 'backpressure' });
    expect(dropped).toBeGreaterThan(0);
    await waitFor(async () => (await readingsOf('GW-R0')) === 50 - dropped, 15_000);
    expect(h.pipeline.pending.highWater).toBeLessThanOrEqual(PENDING_LIMIT);

    // QoS 1 messages turned away at the limit came back through a resumed session; whatever
    // the number of deliveries, each message is stored once.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await readingsOf('GW-R1')).toBe(120);
    const received = await counterTotal(h.metrics.messagesReceived);
    const accounted =
      (await counterTotal(h.metrics.messagesRouted)) +
      (await counterTotal(h.metrics.messagesSkipped)) +
      (await counterTotal(h.metrics.messagesDropped));
    expect(accounted).toBe(received);
  }, 90_000);
});
