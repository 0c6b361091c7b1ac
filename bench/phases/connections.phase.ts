import { startConnectCounter } from '../lib/connect-counter.js';
import { residentBytesOf } from '../lib/cpu.js';
import { seedSites } from '../lib/bench-database.js';
import { monitorBroker, type BrokerMonitor } from '../lib/broker-monitor.js';
import { load, round, type BenchContext } from '../lib/context.js';
import { startEngineProcess } from '../lib/engine-process.js';
import { sleep } from '../lib/net.js';

/** Many site connections in one engine process. */
export interface ConnectionsResult {
  connections: number;
  admissionRatePerSecond: number;
  connectSeconds: number | null;
  rssIdleMb: number;
  rssConnectedMb: number;
  kbPerConnection: number;
  reconnectSeconds: number | null;
  /** The most connection attempts that reached the broker within one second. */
  highestConnectRatePerSecond: number;
  highestReconnectRatePerSecond: number;
  load: number;
}

const CONNECT_TIMEOUT_MS = 120_000;

/**
 * A fresh engine (supervisor role only) with every earlier site switched off; then
 * `connections` sites are added in one transaction. Counted at the broker: the time until
 * all are connected (its $SYS client count, reported every second), the engine RSS they
 * added, and after a broker restart the time until all are back; connection attempts are
 * timed by a relay in front of the broker, for the highest rate within any one second.
 */
export async function runConnectionsPhase(
  context: BenchContext,
  admissionRate: number,
): Promise<ConnectionsResult> {
  const { db, profile } = context;
  const count = profile.connections;
  await db.query('update mqtt_connection set is_active = false');
  const monitor = await monitorBroker(context.broker.url);
  const counter = await startConnectCounter(context.broker.port);
  const engine = await startEngineProcess({
    env: { ...context.engineEnv, ROLES: 'supervisor' },
    logFile: context.logFile,
  });
  try {
    await sleep(2_000);
    const rssIdle = residentBytesOf(engine.pid);
    const codes = Array.from({ length: count }, (_, i) => `conn_${i + 1}`);

    const started = performance.now();
    await seedSites(db, codes, counter.port);
    const connectSeconds = await waitForCount(monitor, count, started);
    const connectRate = counter.highestRate(started);
    await sleep(2_000);
    const rssConnected = residentBytesOf(engine.pid);

    await context.broker.stop();
    await sleep(1_000);
    const restarted = performance.now();
    await context.broker.start();
    const reconnectSeconds = await waitForCount(monitor, count, restarted);

    return {
      connections: count,
      admissionRatePerSecond: admissionRate,
      connectSeconds,
      rssIdleMb: round(rssIdle / 1_048_576, 1),
      rssConnectedMb: round(rssConnected / 1_048_576, 1),
      kbPerConnection: round((rssConnected - rssIdle) / 1_024 / count, 1),
      reconnectSeconds,
      highestConnectRatePerSecond: connectRate,
      highestReconnectRatePerSecond: counter.highestRate(restarted),
      load: load(),
    };
  } finally {
    await engine.stop();
    await counter.close();
    await monitor.close();
  }
}

// Resolution: the broker reports once a second, so the figure is up to a second late.
async function waitForCount(
  monitor: BrokerMonitor,
  count: number,
  started: number,
): Promise<number | null> {
  while (performance.now() - started < CONNECT_TIMEOUT_MS) {
    const reached = monitor.history.find(
      (report) => report.at > started && report.connected >= count,
    );
    if (reached) return round((reached.at - started) / 1_000, 2);
    await sleep(100);
  }
  return null;
}
