import { rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { parseConfig } from '../src/config.js';
import { createFleet } from '../src/simulator/fleet.js';
import { addInsertClock, dropDatabase, recreateDatabase, seedSites } from './lib/bench-database.js';
import { startBenchBroker } from './lib/broker.js';
import { monitorBroker } from './lib/broker-monitor.js';
import { round, type BenchContext, type BenchProfile } from './lib/context.js';
import { startEngineProcess } from './lib/engine-process.js';
import { sleep } from './lib/net.js';
import { formatTable, writeReport, type BenchReport } from './lib/report.js';
import { publishPaced, waitForStored } from './lib/traffic.js';
import { runConnectionsPhase } from './phases/connections.phase.js';
import { runControlPhase } from './phases/control.phase.js';
import { runLatencyPhase } from './phases/latency.phase.js';
import { runLimitsPhase } from './phases/limits.phase.js';
import { runOverloadPhase } from './phases/overload.phase.js';
import { runThroughputPhase } from './phases/throughput.phase.js';

const PROFILES: Record<'quick' | 'full', BenchProfile> = {
  quick: {
    name: 'quick',
    sites: 4,
    gatewaysPerSite: 50,
    bareMessages: 20_000,
    copyMessages: 5_000,
    stepSeconds: 4,
    stepGraceMs: 2_000,
    firstRate: 1_000,
    rateFactor: 1.4,
    maxSteps: 6,
    refineSteps: 2,
    latencySeconds: 5,
    controlFlips: 10,
    overloadSeconds: 8,
    connections: 200,
  },
  full: {
    name: 'full',
    sites: 8,
    gatewaysPerSite: 100,
    bareMessages: 60_000,
    copyMessages: 20_000,
    stepSeconds: 15,
    stepGraceMs: 3_000,
    firstRate: 1_000,
    rateFactor: 1.25,
    maxSteps: 12,
    refineSteps: 3,
    latencySeconds: 20,
    controlFlips: 40,
    overloadSeconds: 60,
    connections: 1_000,
  },
};

const DATABASE_NAME = 'sitewire_bench';
const RESULTS_FOLDER = 'bench/results';

/** `npm run bench [-- --quick]`: see the README's Performance section. */
async function main(): Promise<void> {
  const profile = withFleetOverride(PROFILES[process.argv.includes('--quick') ? 'quick' : 'full']);
  const report = newReport(profile);
  const cleanup: Array<() => Promise<unknown>> = [];
  const cleanUp = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  };
  process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));

  try {
    const context = await setUp(profile, report, cleanup);
    await runPhases(context, report);
  } catch (error) {
    report.errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.stderr.write(`bench failed: ${String(error)}\n`);
  } finally {
    await cleanUp();
  }

  report.finishedAt = new Date().toISOString();
  const file = writeReport(report, RESULTS_FOLDER);
  process.stdout.write(
    `\n${formatTable(report)}\n\nload average ${loadavg()
      .map((v) => round(v, 2))
      .join(' ')}; written to ${file}\n`,
  );
  process.exitCode = report.errors.length ? 1 : 0;
}

function newReport(profile: BenchProfile): BenchReport {
  return {
    profile: profile.name,
    fleet: { sites: profile.sites, gateways: profile.sites * profile.gatewaysPerSite },
    startedAt: new Date().toISOString(),
    finishedAt: '',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: round(totalmem() / 1_073_741_824, 1),
      node: process.version,
    },
    loadAtStart: loadavg().map((value) => round(value, 2)),
    engineSettings: {},
    errors: [],
  };
}

async function setUp(
  profile: BenchProfile,
  report: BenchReport,
  cleanup: Array<() => Promise<unknown>>,
): Promise<BenchContext> {
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const logFile = join(tmpdir(), `sitewire-bench-${stamp}.log`);
  const redisPrefix = `sitewire-bench-${process.pid}`;
  const gateways = profile.sites * profile.gatewaysPerSite;
  say(`bench ${profile.name}: ${gateways} gateways on ${profile.sites} sites; log ${logFile}`);

  const broker = await startBenchBroker();
  cleanup.push(() => broker.destroy());
  const databaseUrl = await recreateDatabase(DATABASE_NAME);
  // BENCH_KEEP_DATABASE=1 leaves sitewire_bench in place for a look after the run.
  if (!process.env.BENCH_KEEP_DATABASE) cleanup.push(() => dropDatabase(DATABASE_NAME));
  cleanup.push(() => deleteRedisKeys(redisPrefix));

  // The engine's rotating log files; its stdout and stderr go to logFile, which stays.
  const logDir = join(tmpdir(), `sitewire-bench-logs-${stamp}`);
  cleanup.push(() => rm(logDir, { recursive: true, force: true }));
  const engineEnv = {
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: redisPrefix,
    ROLES: 'supervisor,worker',
    LOG_LEVEL: 'warn',
    LOG_DIR: logDir,
    SECRET_KEY: 'sitewire-bench-secret-key-0123456789',
  };
  const config = parseConfig({ ...process.env, ...engineEnv });
  report.engineSettings = pickSettings(config);
  // BENCH_ENGINE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the engine.
  const nodeFlags = (process.env.BENCH_ENGINE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const engine = await startEngineProcess({ env: engineEnv, logFile, nodeFlags });
  cleanup.push(() => engine.stop());

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  cleanup.push(() => db.end());
  await addInsertClock(db);

  const siteCodes = Array.from(
    { length: profile.sites },
    (_, i) => `site_${String(i + 1).padStart(3, '0')}`,
  );
  const fleet = createFleet({ seed: 2026, siteCodes, gatewaysPerSite: profile.gatewaysPerSite });
  return {
    profile,
    broker,
    db,
    databaseUrl,
    engine,
    engineEnv,
    logFile,
    fleet,
    sites: [],
    expectedReadings: 0,
  };
}

async function runPhases(context: BenchContext, report: BenchReport): Promise<void> {
  const settings = report.engineSettings;
  const wanted = phasesWanted();
  if (wanted.has('limits')) {
    say('limits: bare subscriber and COPY');
    report.limits = await runLimitsPhase(context);
  }

  await configureSites(context);
  if (wanted.has('throughput')) {
    say('throughput: stepping the paced rate up');
    report.throughput = await runThroughputPhase(context);
  }
  const best = report.throughput?.best?.messagesPerSecond ?? 0;
  if (wanted.has('latency')) {
    say('latency at half the highest sustained rate');
    report.latency = await runLatencyPhase(context, Math.max(100, Math.round(best / 2)));
  }
  if (wanted.has('control')) {
    say('control: flag flips');
    report.control = await runControlPhase(context);
  }
  if (wanted.has('overload')) {
    say('overload: publisher outpacing the engine');
    // Two and a half times what the engine sustains: a backlog that grows for the whole phase.
    const rate = Math.max(1_000, Math.round(best * 2.5));
    const limit = Number(settings.PENDING_MESSAGES_LIMIT);
    report.overload = await runOverloadPhase(context, rate, limit);
  }

  await context.engine.stop();
  if (wanted.has('connections')) {
    say(`connections: ${context.profile.connections} sites in one process`);
    const rate = Number(settings.ADMISSION_RATE_PER_SECOND);
    report.connections = await runConnectionsPhase(context, rate);
  }
}

// BENCH_GATEWAYS_PER_SITE=2500 runs a fleet whose gateways each report seldom, as real ones
// do: every message then costs its tree's last-seen writes and a catalogue row.
function withFleetOverride(profile: BenchProfile): BenchProfile {
  const gateways = Number(process.env.BENCH_GATEWAYS_PER_SITE);
  if (!Number.isInteger(gateways) || gateways <= 0) return profile;
  return { ...profile, gatewaysPerSite: gateways };
}

const PHASES = ['limits', 'throughput', 'latency', 'control', 'overload', 'connections'];

// `--phases=throughput,latency` runs only those (for profiling); all by default.
function phasesWanted(): Set<string> {
  const option = process.argv.find((arg) => arg.startsWith('--phases='));
  return new Set(option ? option.slice('--phases='.length).split(',') : PHASES);
}

// Waits until the broker sees every site connected, then sends one message per gateway so
// the telemetry tree exists before the first step.
async function configureSites(context: BenchContext): Promise<void> {
  const codes = [...new Set(context.fleet.map((gateway) => gateway.siteCode))];
  const monitor = await monitorBroker(context.broker.url);
  try {
    context.sites = await seedSites(context.db, codes, context.broker.port);
    const deadline = Date.now() + 30_000;
    while (monitor.connected() < codes.length) {
      if (Date.now() > deadline) throw new Error('bench sites did not connect');
      await sleep(100);
    }
  } finally {
    await monitor.close();
  }

  const warmUp = await publishPaced(context.broker.url, context.fleet, 2_000, context.fleet.length);
  context.expectedReadings += warmUp.readings;
  const drained = await waitForStored(context.engine, context.expectedReadings, 60_000);
  if (drained === undefined) throw new Error('warm-up messages were not stored');
}

function pickSettings(config: ReturnType<typeof parseConfig>): Record<string, string | number> {
  return {
    BATCH_MAX_MESSAGES: config.BATCH_MAX_MESSAGES,
    BATCH_MAX_WAIT_MS: config.BATCH_MAX_WAIT_MS,
    WORKER_CONCURRENCY: config.WORKER_CONCURRENCY,
    PENDING_MESSAGES_LIMIT: config.PENDING_MESSAGES_LIMIT,
    ADMISSION_RATE_PER_SECOND: config.ADMISSION_RATE_PER_SECOND,
    ROLES: 'supervisor,worker',
  };
}

async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function say(text: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

await main();
