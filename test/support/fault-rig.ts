import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { startPrivateBroker, type PrivateBroker } from './private-broker.js';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js';
import { freePort, startPrivateRedis, type PrivateRedis } from './private-redis.js';

/** Lease lifetime of the rig's engines: short, so take-overs fit in a test. */
export const RIG_LEASE_TTL_MS = 5_000;

const REDIS_PREFIX = 'sitewire-faults';

/** The admin API key every rig engine accepts. */
export const RIG_ADMIN_KEY = 'faults-admin-key-0123456789';

/** One engine process of the rig. */
export interface RigEngine {
  instanceId: string;
  roles: string;
  port: number;
  child: ChildProcess;
  /** Output kept for a failure message. */
  output: string[];
}

/** Private services, engine processes, a QoS 1 publisher and SQL counts, for fault tests. */
export interface FaultRig {
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  broker: PrivateBroker;
  databaseUrl: string;
  redisPrefix: string;
  engines: Map<string, RigEngine>;
  /** Starts an engine process and waits until it answers on /healthz. */
  startEngine(instanceId: string, roles?: string): Promise<RigEngine>;
  /** Kills an engine with SIGKILL, as a crash would. */
  killEngine(instanceId: string): Promise<void>;
  /** Stops an engine with SIGTERM (graceful shutdown) and waits for it to exit. */
  stopEngine(instanceId: string): Promise<void>;
  /** Creates `count` sites whose connections point at the private broker. */
  createSites(count: number): Promise<number[]>;
  /** Waits until every connection is connected and subscribed. */
  waitForSubscribed(timeoutMs?: number): Promise<void>;
  /** Publishes `count` telemetry messages at QoS 1 at about `perSecond`, spread over sites. */
  publish(count: number, perSecond: number): Publication;
  /** Readings stored: every message carries one reading with a timestamp of its own. */
  storedCount(): Promise<number>;
  /** Distinct message timestamps stored; equal to storedCount when nothing is duplicated. */
  distinctStored(): Promise<number>;
  /** Waits until `expected` readings are stored; resolves to when the count was reached. */
  waitForStored(expected: number, timeoutMs: number): Promise<number>;
  sql<T>(query: string, params?: unknown[]): Promise<T[]>;
  /** Connected connections per owning instance. */
  connectedOwners(): Promise<Map<string, number>>;
  /** Kills every engine, ends the publisher, stops and removes every private service. */
  dispose(): Promise<void>;
}

/** A publication in progress. */
export interface Publication {
  /** Resolves with the number of messages the broker acknowledged once all are sent. */
  done: Promise<number>;
  /** How many messages have been handed to the client so far. */
  issued(): number;
}

/** Starts the private PostgreSQL cluster, Redis and Mosquitto of a fault scenario. */
export async function startFaultRig(label: string): Promise<FaultRig> {
  const [postgres, redis, broker] = await Promise.all([
    startPrivatePostgres(),
    startPrivateRedis(),
    startPrivateBroker({ persistence: true }),
  ]);
  const logDir = await mkdtemp(join(tmpdir(), `sitewire-faults-${label}-`));
  const databaseUrl = `${postgres.serverUrl}/sitewire_faults`;
  const engines = new Map<string, RigEngine>();
  const publishers: MqttClient[] = [];
  let pool: pg.Pool | undefined;
  const db = () => {
    if (pool) return pool;
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    // A PostgreSQL restart ends idle clients; the next query opens a new one.
    pool.on('error', () => undefined);
    return pool;
  };
  const sql = async <T>(query: string, params: unknown[] = []) => {
    const result = await db().query(query, params);
    return result.rows as T[];
  };
  const context = { databaseUrl, redisUrl: redis.url, logDir, brokerPort: broker.port };
  // Message timestamps never repeat within a rig, so scenarios sharing it add up.
  let nextSequence = 0;

  const rig: FaultRig = {
    postgres,
    redis,
    broker,
    databaseUrl,
    redisPrefix: REDIS_PREFIX,
    engines,
    startEngine: async (instanceId, roles = 'api,supervisor,worker') => {
      const engine = await spawnEngine(context, instanceId, roles);
      engines.set(instanceId, engine);
      return engine;
    },
    killEngine: async (instanceId) => {
      await endProcess(engines.get(instanceId)?.child, 'SIGKILL');
      engines.delete(instanceId);
    },
    stopEngine: async (instanceId) => {
      await endProcess(engines.get(instanceId)?.child, 'SIGTERM');
      engines.delete(instanceId);
    },
    createSites: (count) => createSites(sql, broker.port, count),
    waitForSubscribed: (timeoutMs = 60_000) => waitForSubscribed(sql, timeoutMs),
    publish: (count, perSecond) => {
      const client = mqtt.connect({
        host: '127.0.0.1',
        port: broker.port,
        clientId: `faults-publisher-${label}-${publishers.length}`,
        clean: false,
        reconnectPeriod: 250,
      });
      client.on('error', () => undefined);
      publishers.push(client);
      const first = nextSequence;
      nextSequence += count;
      return publishTelemetry(client, sql, { first, count, perSecond });
    },
    storedCount: async () => Number((await sql<{ n: string }>(COUNT_READINGS))[0]!.n),
    distinctStored: async () => Number((await sql<{ n: string }>(COUNT_DISTINCT))[0]!.n),
    waitForStored: async (expected, timeoutMs) => {
      await until(
        async () => (await rig.storedCount().catch(() => -1)) >= expected,
        timeoutMs,
        () => `${expected} stored readings`,
      );
      return Date.now();
    },
    sql,
    connectedOwners: async () => {
      const rows = await sql<{ owner: string | null; n: string }>(
        `select owner_instance as owner, count(*) as n from mqtt_connection
         where status = 'connected' group by owner_instance`,
      );
      return new Map(rows.map((row) => [row.owner ?? '', Number(row.n)]));
    },
    dispose: async () => {
      await Promise.all([...engines.values()].map((engine) => endProcess(engine.child, 'SIGKILL')));
      engines.clear();
      for (const client of publishers) client.end(true);
      await pool?.end().catch(() => undefined);
      await Promise.all([postgres.dispose(), redis.dispose(), broker.destroy()]);
      await rm(logDir, { recursive: true, force: true });
    },
  };
  return rig;
}

const COUNT_READINGS = 'select count(*) as n from sensor_reading';
const COUNT_DISTINCT = `select count(distinct (s.serial_number, r.ts)) as n
  from sensor_reading r join sensor s on s.id = r.sensor_id`;

interface EngineContext {
  databaseUrl: string;
  redisUrl: string;
  logDir: string;
  brokerPort: number;
}

// `node --import tsx` rather than `npx tsx`: a signal must reach the engine itself, not a
// wrapper process that would leave it running.
async function spawnEngine(
  context: EngineContext,
  instanceId: string,
  roles: string,
): Promise<RigEngine> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...engineEnvironment(context, instanceId, roles, port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const engine = { instanceId, roles, port, child, output };

  await until(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`engine ${instanceId} exited:\n${output.join('')}`);
      return healthy(port);
    },
    60_000,
    () => `engine ${instanceId} to answer:\n${output.join('')}`,
  );
  return engine;
}

function engineEnvironment(
  context: EngineContext,
  instanceId: string,
  roles: string,
  port: number,
): Record<string, string> {
  return {
    DATABASE_URL: context.databaseUrl,
    REDIS_URL: context.redisUrl,
    REDIS_PREFIX,
    ROLES: roles,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn',
    LOG_DIR: join(context.logDir, instanceId),
    INSTANCE_ID: instanceId,
    SECRET_KEY: 'faults-secret-key-0123456789',
    ADMIN_API_KEY: RIG_ADMIN_KEY,
    LEASE_TTL_MS: String(RIG_LEASE_TTL_MS),
    RECONCILE_INTERVAL_MS: '5000',
    RETRY_BASE_MS: '200',
    RETRY_CAP_MS: '2000',
    CONNECT_TIMEOUT_MS: '3000',
    ADMISSION_RATE_PER_SECOND: '200',
    INGEST_BACKOFF_MS: '250',
    INGEST_JOB_ATTEMPTS: '12',
    ENQUEUE_RETRY_CAP_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    NODE_ENV: 'test',
  };
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    return response.ok;
  } catch {
    return false;
  }
}

async function endProcess(child: ChildProcess | undefined, signal: NodeJS.Signals) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

type Sql = <T>(query: string, params?: unknown[]) => Promise<T[]>;

async function createSites(sql: Sql, brokerPort: number, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const [site] = await sql<{ id: number }>(`insert into site (name) values ($1) returning id`, [
      `fault-site-${Date.now()}-${i}`,
    ]);
    const [connection] = await sql<{ id: number }>(
      `insert into mqtt_connection (site_id, broker_host, broker_port, client_id_prefix,
         discovery_pattern)
       values ($1, '127.0.0.1', $2, 'faults', '') returning id`,
      [site!.id, brokerPort],
    );
    await sql(
      `insert into mqtt_topic (mqtt_connection_id, topic_pattern, qos_level)
       values ($1, $2, 1)`,
      [connection!.id, `site_${site!.id}/gateway/+/dataloggers/telemetry`],
    );
    ids.push(site!.id);
  }
  return ids;
}

async function waitForSubscribed(sql: Sql, timeoutMs: number): Promise<void> {
  let summary: unknown[] = [];
  await until(
    async () => {
      summary = await sql<{ status: string; subscribed: boolean; owner: string; n: string }>(
        `select c.status, t.subscription_count > 0 as subscribed, c.owner_instance as owner,
           count(*) as n
         from mqtt_connection c join mqtt_topic t on t.mqtt_connection_id = c.id
         group by 1, 2, 3`,
      );
      const [row] = await sql<{ waiting: string }>(
        `select count(*) as waiting from mqtt_connection c join mqtt_topic t
           on t.mqtt_connection_id = c.id
         where c.status <> 'connected' or t.subscription_count = 0`,
      );
      return Number(row!.waiting) === 0;
    },
    timeoutMs,
    () => `every connection connected and subscribed: ${JSON.stringify(summary)}`,
  );
}

const BASE_TIME = Date.parse('2026-01-01T00:00:00Z');

function publishTelemetry(
  client: MqttClient,
  sql: Sql,
  plan: { first: number; count: number; perSecond: number },
): Publication {
  const { first, count, perSecond } = plan;
  let issued = 0;
  const done = (async () => {
    const sites = (await sql<{ id: number }>('select id from site order by id')).map((s) => s.id);
    const acks: Array<Promise<unknown>> = [];
    const startedAt = Date.now();
    for (let i = 0; i < count; i += 1) {
      const siteId = sites[i % sites.length]!;
      const payload = telemetryOf(siteId, first + i);
      acks.push(client.publishAsync(topicOf(siteId), payload, { qos: 1 }));
      issued += 1;
      const due = startedAt + ((i + 1) * 1000) / perSecond;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
    await Promise.all(acks);
    return count;
  })();
  return { done, issued: () => issued };
}

function topicOf(siteId: number): string {
  return `site_${siteId}/gateway/GW-F${siteId}/dataloggers/telemetry`;
}

// One reading per message, its timestamp unique to the message: stored readings count
// delivered messages, and a duplicate delivery can only land on the same (sensor, ts).
function telemetryOf(siteId: number, sequence: number): string {
  return JSON.stringify({
    serial_number_gateway: `GW-F${siteId}`,
    timestamp: new Date(BASE_TIME + sequence * 1000).toISOString(),
    dataloggers: [
      {
        serial_number_datalogger: `DL-F${siteId}`,
        status_datalogger: 'ok',
        devices: [
          {
            type: 'TMP-01',
            'serial number device': `DEV-F${siteId}`,
            data: [{ type: 'temperature', value: sequence }],
          },
        ],
      },
    ],
  });
}

/** Polls `check` every 100 ms until it holds, failing after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
}
