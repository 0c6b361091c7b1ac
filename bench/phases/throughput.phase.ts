import { cpuPer10k, engineRssMb, load, round, sampleProcesses } from '../lib/context.js';
import type { BenchContext } from '../lib/context.js';
import { publishPaced, waitForStored } from '../lib/traffic.js';
import { countReadings } from '../lib/bench-database.js';

/** One paced step of the throughput search. */
export interface ThroughputStep {
  targetRate: number;
  messagesPerSecond: number;
  readingsPerSecond: number;
  messages: number;
  readings: number;
  /** Seconds after the last PUBACK until every reading was committed and the queue empty. */
  drainSeconds: number | null;
  sustained: boolean;
  cpuPer10kMessages: Record<string, number>;
  engineRssMb: number;
  load: number;
}

/** The throughput search: steps up the paced rate until a step is not stored in time. */
export interface ThroughputResult {
  steps: ThroughputStep[];
  best: ThroughputStep | undefined;
  storedInDatabase: number;
  expectedInDatabase: number;
}

// A step that has not drained after this long is a failed step; waiting on just keeps the
// next step's figures clean of the backlog.
const BACKLOG_WAIT_MS = 180_000;
const MIN_RATE = 100;

/**
 * Publishes stepSeconds of QoS 1 telemetry per step at rising rates. A step is sustained
 * when every reading was committed, with the queue empty, within stepGraceMs of the last
 * PUBACK. Its rate is the one the publisher achieved: on a loaded machine the simulator's
 * 10 ms pacing timer falls behind the target. Stops at the first failed step after one
 * passed, then halves the gap between the two refineSteps times; while none has passed,
 * the rate halves (a loaded machine may start too high).
 */
export async function runThroughputPhase(context: BenchContext): Promise<ThroughputResult> {
  const steps = await stepUp(context);
  await refine(context, steps);

  const stored = await countReadings(context.db);
  const best = steps
    .filter((step) => step.sustained)
    .reduce<ThroughputStep | undefined>(
      (top, step) => (top && top.messagesPerSecond >= step.messagesPerSecond ? top : step),
      undefined,
    );
  return { steps, best, storedInDatabase: stored, expectedInDatabase: context.expectedReadings };
}

async function stepUp(context: BenchContext): Promise<ThroughputStep[]> {
  const { profile } = context;
  const steps: ThroughputStep[] = [];
  let rate = profile.firstRate;
  for (let index = 0; index < profile.maxSteps; index += 1) {
    const step = await runAndPrint(context, Math.round(rate), steps);
    const passedBefore = steps.some((earlier) => earlier.sustained);
    if (!step.sustained && (passedBefore || rate <= MIN_RATE)) break;
    // Up while steps pass; down by half until the first one passes.
    rate = step.sustained ? rate * profile.rateFactor : Math.max(MIN_RATE, rate / 2);
  }
  return steps;
}

// Gaps narrower than this share of the rate are left: step-to-step noise is about as large.
const FINEST_GAP = 0.04;

async function refine(context: BenchContext, steps: ThroughputStep[]): Promise<void> {
  const last = steps.at(-1);
  let low = steps.filter((step) => step.sustained).at(-1)?.targetRate;
  if (!last || last.sustained || low === undefined || low > last.targetRate) return;

  let high = last.targetRate;
  for (let index = 0; index < context.profile.refineSteps; index += 1) {
    if (high - low < low * FINEST_GAP) return;
    const rate = Math.round((low + high) / 2);
    const step = await runAndPrint(context, rate, steps);
    if (step.sustained) low = rate;
    else high = rate;
  }
}

async function runAndPrint(
  context: BenchContext,
  rate: number,
  steps: ThroughputStep[],
): Promise<ThroughputStep> {
  const step = await runStep(context, rate);
  steps.push(step);
  printStep(step);
  return step;
}

async function runStep(context: BenchContext, rate: number): Promise<ThroughputStep> {
  const { profile } = context;
  const before = await sampleProcesses(context);
  const sent = await publishPaced(
    context.broker.url,
    context.fleet,
    rate,
    rate * profile.stepSeconds,
  );
  context.expectedReadings += sent.readings;
  const drain = await waitForStored(context.engine, context.expectedReadings, BACKLOG_WAIT_MS);
  const after = await sampleProcesses(context);

  const inTime = drain !== undefined && drain * 1_000 <= profile.stepGraceMs;
  return {
    targetRate: rate,
    messagesPerSecond: round(sent.messages / sent.seconds),
    readingsPerSecond: round(sent.readings / sent.seconds),
    messages: sent.messages,
    readings: sent.readings,
    drainSeconds: drain === undefined ? null : round(drain, 2),
    sustained: inTime && sent.failed === 0,
    cpuPer10kMessages: cpuPer10k(before, after, sent.messages),
    engineRssMb: engineRssMb(context),
    load: load(),
  };
}

function printStep(step: ThroughputStep): void {
  const verdict = step.sustained ? 'sustained' : 'NOT sustained';
  process.stdout.write(
    `  step ${step.targetRate} msg/s: published ${step.messagesPerSecond} msg/s, ` +
      `drained ${step.drainSeconds ?? '-'} s after, ${verdict} (load ${step.load})\n`,
  );
}
