import { loadavg } from 'node:os';
import type pg from 'pg';
import type { SimulatedGateway } from '../../src/simulator/fleet.js';
import type { BenchSite } from './bench-database.js';
import type { BenchBroker } from './broker.js';
import { cpuUsedBetween, pidsNamed, residentBytesOf, sampleCpu, type CpuSample } from './cpu.js';
import type { EngineProcess } from './engine-process.js';

/** Sizes of a run: `--quick` finishes in about a minute, the full run in several. */
export interface BenchProfile {
  name: 'quick' | 'full';
  sites: number;
  gatewaysPerSite: number;
  bareMessages: number;
  copyMessages: number;
  stepSeconds: number;
  /** How long after the last PUBACK a step may take to commit everything and still pass. */
  stepGraceMs: number;
  firstRate: number;
  rateFactor: number;
  maxSteps: number;
  /** Steps halving the gap between the last sustained rate and the first one that was not. */
  refineSteps: number;
  latencySeconds: number;
  controlFlips: number;
  overloadSeconds: number;
  connections: number;
}

/** Everything the phases share. */
export interface BenchContext {
  profile: BenchProfile;
  broker: BenchBroker;
  db: pg.Client;
  databaseUrl: string;
  engine: EngineProcess;
  engineEnv: Record<string, string>;
  logFile: string;
  fleet: SimulatedGateway[];
  sites: BenchSite[];
  /** Readings published so far that the engine must have stored. */
  expectedReadings: number;
}

/**
 * CPU seconds so far of every process taking part. PostgreSQL twice: the backends serving
 * the bench database (the engine's pool), and every postgres process, which includes the WAL
 * writer and checkpointer but also other users of the server.
 */
export async function sampleProcesses(context: BenchContext): Promise<CpuSample> {
  const backends = await context.db.query<{ pid: number }>(
    `select pid from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid()`,
  );
  return sampleCpu({
    engine: () => [context.engine.pid],
    'postgres (bench db backends)': () => backends.rows.map((row) => row.pid),
    'postgres (all processes)': () => pidsNamed('postgres'),
    redis: () => pidsNamed('redis-server'),
    broker: () => [context.broker.pid()],
    'bench (publisher)': () => [process.pid],
  });
}

/** CPU seconds per 10,000 messages between two samples. */
export function cpuPer10k(
  before: CpuSample,
  after: CpuSample,
  messages: number,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(cpuUsedBetween(before, after))) {
    result[name] = round((seconds / messages) * 10_000, 2);
  }
  return result;
}

/** The engine's resident memory in MB. */
export function engineRssMb(context: BenchContext): number {
  return round(residentBytesOf(context.engine.pid) / 1_048_576, 1);
}

/** The 1-minute load average, to read each figure against. */
export function load(): number {
  return round(loadavg()[0]!, 2);
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The value at quantile q (0..1) of sorted numbers. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
