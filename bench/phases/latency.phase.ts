import { load, round, type BenchContext } from '../lib/context.js';
import { publishPaced, waitForStored } from '../lib/traffic.js';

/** Publish-to-commit latency of every reading published during the phase. */
export interface LatencyResult {
  rate: number;
  readings: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  load: number;
}

/**
 * Publishes at `rate` (half the highest sustained rate) and measures, per reading, from its
 * payload timestamp (the simulator stamps each message with the wall clock as it publishes)
 * to the clock inside the transaction that inserted it (bench_inserted_at). Same machine,
 * same clock. The commit follows the insert by the rest of the batch's statements, a few ms.
 */
export async function runLatencyPhase(context: BenchContext, rate: number): Promise<LatencyResult> {
  const from = new Date();
  const sent = await publishPaced(
    context.broker.url,
    context.fleet,
    rate,
    Math.round(rate * context.profile.latencySeconds),
  );
  context.expectedReadings += sent.readings;
  await waitForStored(context.engine, context.expectedReadings, 120_000);

  const result = await context.db.query<{ p50: number; p99: number; max: number; n: string }>(
    `select percentile_cont(0.5) within group (order by lag) as p50,
            percentile_cont(0.99) within group (order by lag) as p99,
            max(lag) as max, count(*) as n
     from (select extract(epoch from bench_inserted_at - ts) * 1000 as lag
           from sensor_reading where ts >= $1) x`,
    [from],
  );
  const row = result.rows[0]!;
  return {
    rate,
    readings: Number(row.n),
    p50Ms: round(Number(row.p50), 1),
    p99Ms: round(Number(row.p99), 1),
    maxMs: round(Number(row.max), 1),
    load: load(),
  };
}
