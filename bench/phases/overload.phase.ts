import { engineRssMb, load, round, type BenchContext } from '../lib/context.js';
import { countReadings } from '../lib/bench-database.js';
import { publishPaced, waitForStored } from '../lib/traffic.js';

/** A publisher outpacing the engine, then the drain. */
export interface OverloadResult {
  targetRate: number;
  publishedPerSecond: number;
  messages: number;
  readings: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssBoundMb: number;
  withinBound: boolean;
  drainSeconds: number | null;
  storedInDatabase: number;
  expectedInDatabase: number;
  lossless: boolean;
  load: number;
}

// What one held message may cost: the payload Buffer, its base64 copy in the job, the
// routed wrapper and the job's JSON. Generous on purpose: the point is that growth stops.
const BYTES_PER_PENDING_MESSAGE = 8 * 1_500;

/**
 * Publishes for overloadSeconds at `rate` (well above the highest sustained rate), sampling
 * the engine's RSS every 250 ms. The bound is the RSS before the phase plus
 * PENDING_MESSAGES_LIMIT messages held in memory (the pipeline's own limit; beyond it QoS 1
 * messages stay unacknowledged with the broker). Then waits for every reading.
 */
export async function runOverloadPhase(
  context: BenchContext,
  rate: number,
  pendingLimit: number,
): Promise<OverloadResult> {
  const rssBeforeMb = engineRssMb(context);
  let rssPeakMb = rssBeforeMb;
  const sampler = setInterval(() => (rssPeakMb = Math.max(rssPeakMb, engineRssMb(context))), 250);

  const sent = await publishPaced(
    context.broker.url,
    context.fleet,
    rate,
    Math.round(rate * context.profile.overloadSeconds),
  );
  context.expectedReadings += sent.readings;
  const drain = await waitForStored(context.engine, context.expectedReadings, 600_000);
  clearInterval(sampler);

  const stored = await countReadings(context.db);
  const rssBoundMb = round(rssBeforeMb + (pendingLimit * BYTES_PER_PENDING_MESSAGE) / 1_048_576);
  return {
    targetRate: rate,
    publishedPerSecond: round(sent.messages / sent.seconds),
    messages: sent.messages,
    readings: sent.readings,
    rssBeforeMb,
    rssPeakMb,
    rssBoundMb,
    withinBound: rssPeakMb <= rssBoundMb,
    drainSeconds: drain === undefined ? null : round(drain, 1),
    storedInDatabase: stored,
    expectedInDatabase: context.expectedReadings,
    lossless: stored === context.expectedReadings,
    load: load(),
  };
}
