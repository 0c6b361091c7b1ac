import type { SimulatedGateway } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/gateway-simulator.js';
import { metricSum, type EngineProcess } from './engine-process.js';
import { sleep } from './net.js';

/** What one paced publish did. */
export interface PublishResult {
  messages: number;
  readings: number;
  /** From the first telemetry publish to the last broker acknowledgement. */
  seconds: number;
  failed: number;
}

/** Publishes `count` QoS 1 telemetry messages at `rate` per second and waits for every PUBACK. */
export async function publishPaced(
  brokerUrl: string,
  fleet: SimulatedGateway[],
  rate: number,
  count: number,
): Promise<PublishResult> {
  const simulator = await startSimulator({
    brokerUrl,
    fleet,
    messagesPerSecond: rate,
    qos: 1,
    maxMessages: count,
    maxInFlight: 2_000,
  });
  // After the connect and the fleet's status announcements: the rate is the telemetry's.
  const started = performance.now();
  const stats = await simulator.finished;
  const seconds = (performance.now() - started) / 1_000;
  await simulator.stop();
  return { messages: stats.published, readings: stats.readings, seconds, failed: stats.failed };
}

/** Readings the engine has committed and ingest jobs not yet finished, from its /metrics. */
export async function engineProgress(
  engine: EngineProcess,
): Promise<{ readings: number; jobs: number }> {
  const text = await engine.metrics();
  return {
    readings: metricSum(text, 'sitewire_readings_persisted_total'),
    jobs: metricSum(text, 'sitewire_queue_jobs', /state="(waiting|active|delayed|prioritized)"/),
  };
}

/**
 * Waits until the engine has committed `expected` readings in total and its queue is empty.
 * Returns the seconds it took, or undefined when `timeoutMs` passed first.
 */
export async function waitForStored(
  engine: EngineProcess,
  expected: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const progress = await engineProgress(engine).catch(() => undefined);
    if (progress && progress.readings >= expected && progress.jobs === 0) {
      return (performance.now() - started) / 1_000;
    }
    await sleep(100);
  }
  return undefined;
}
