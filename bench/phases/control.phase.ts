import { load, quantile, round, type BenchContext } from '../lib/context.js';
import { seedSites } from '../lib/bench-database.js';
import { sleep } from '../lib/net.js';
import { startObservedBroker, type ObservedBroker } from '../lib/observed-broker.js';

/** Time from a flag change in the database to the connection connected or closed. */
export interface ControlResult {
  flips: number;
  timedOut: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  load: number;
}

const FLIP_TIMEOUT_MS = 10_000;

/**
 * A site of its own on an in-process broker that reports connects and disconnects. Its
 * connection's is_active is flipped off and on, as the API's stop and start do; each flip is
 * timed from just before the UPDATE to the broker seeing the engine's CONNECT acknowledged,
 * or its connection closed.
 */
export async function runControlPhase(context: BenchContext): Promise<ControlResult> {
  const broker = await startObservedBroker();
  try {
    const connected = broker.next('bench-', true, 30_000);
    const [site] = await seedSites(context.db, ['control_site'], broker.port);
    if ((await connected) === undefined) throw new Error('control site did not connect');
    await sleep(500);
    return await flipRepeatedly(context, broker, site!.connectionId);
  } finally {
    await broker.close();
  }
}

async function flipRepeatedly(
  context: BenchContext,
  broker: ObservedBroker,
  connectionId: number,
): Promise<ControlResult> {
  const durations: number[] = [];
  let timedOut = 0;
  for (let flip = 0; flip < context.profile.controlFlips; flip += 1) {
    const active = flip % 2 === 1;
    const effect = broker.next('bench-', active, FLIP_TIMEOUT_MS);
    const started = performance.now();
    await context.db.query('update mqtt_connection set is_active = $1 where id = $2', [
      active,
      connectionId,
    ]);
    const at = await effect;
    if (at === undefined) timedOut += 1;
    else durations.push(at - started);
    await sleep(200);
  }

  durations.sort((a, b) => a - b);
  return {
    flips: context.profile.controlFlips,
    timedOut,
    p50Ms: round(quantile(durations, 0.5), 1),
    p99Ms: round(quantile(durations, 0.99), 1),
    maxMs: round(durations.at(-1) ?? NaN, 1),
    load: load(),
  };
}
