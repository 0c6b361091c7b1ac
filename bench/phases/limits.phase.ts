import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { measureCopyRate } from '../lib/copy-baseline.js';
import { load, round, type BenchContext } from '../lib/context.js';
import { publishPaced } from '../lib/traffic.js';

/** The machine's own limits, measured in the same run as the engine's figures. */
export interface LimitsResult {
  bareSubscriberMessagesPerSecond: number;
  bareSubscriberReceived: number;
  bareSubscriberPublished: number;
  copyRowsPerSecond: number;
  copyRows: number;
  load: number;
}

/**
 * A bare mqtt.js subscriber (its own process, QoS 1) counting the fleet's telemetry while
 * the publisher goes as fast as the broker acknowledges, then PostgreSQL COPY of the same
 * reading rows. Runs before any site is configured, so the engine receives none of it.
 */
export async function runLimitsPhase(context: BenchContext): Promise<LimitsResult> {
  const { profile } = context;
  const subscriber = await startBareSubscriber(context.broker.url, profile.bareMessages);
  const published = await publishPaced(
    context.broker.url,
    context.fleet,
    1_000_000,
    profile.bareMessages,
  );
  const counted = await subscriber.result;
  const copy = await measureCopyRate(context.databaseUrl, context.fleet, profile.copyMessages);

  return {
    bareSubscriberMessagesPerSecond: round(counted.received / Math.max(counted.seconds, 1e-3)),
    bareSubscriberReceived: counted.received,
    bareSubscriberPublished: published.messages,
    copyRowsPerSecond: round(copy.rowsPerSecond),
    copyRows: copy.rows,
    load: load(),
  };
}

async function startBareSubscriber(
  url: string,
  expected: number,
): Promise<{ result: Promise<{ received: number; seconds: number }> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/lib/bare-subscriber.ts', url, String(expected), '60000'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.value !== 'ready') throw new Error('bare subscriber did not start');

  const result = (async () => {
    const line = await iterator.next();
    child.kill();
    return JSON.parse(String(line.value)) as { received: number; seconds: number };
  })();
  return { result };
}
