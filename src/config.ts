import { hostname } from 'node:os';
import { z } from 'zod';

const ROLE_NAMES = ['api', 'supervisor', 'worker'] as const;

/** A process role: which parts of the engine this process runs. */
export type Role = (typeof ROLE_NAMES)[number];

/** Well known, deliberately useless key so a development setup runs without configuration. */
export const DEVELOPMENT_SECRET_KEY = 'sitewire-development-secret-key-change-me';

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const rolesFromEnv = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((role) => role.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(ROLE_NAMES)).min(1, 'name at least one role'));

const positiveInt = z.coerce.number().int().positive();

/**
 * The environment the engine reads, with defaults. Every duration is in milliseconds unless
 * its name says otherwise.
 */
export const EnvironmentSchema = z.object({
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/sitewire'),
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().min(1).default('sitewire'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  SECRET_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_DIR: z.string().min(1).default('./logs'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  RECONCILE_INTERVAL_MS: positiveInt.default(30_000),
  /** Running jobs get this long to finish at shutdown before the worker is closed anyway. */
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(15_000),
  ROLES: rolesFromEnv.default(['api', 'supervisor', 'worker']),
  SENTRY_DSN: z.url().optional(),
  ENVIRONMENT: z.string().min(1).default('development'),
  APP_VERSION: z.string().min(1).default('0.1.0'),
  MIGRATE_ON_START: booleanFromEnv.default(true),
  RETRY_BASE_MS: positiveInt.default(1_000),
  RETRY_CAP_MS: positiveInt.default(60_000),
  CONNECT_TIMEOUT_MS: positiveInt.default(10_000),
  KEEPALIVE_SECONDS: positiveInt.default(30),
  SILENCE_FACTOR: z.coerce.number().positive().default(3),
  ADMISSION_RATE_PER_SECOND: positiveInt.default(50),
  BATCH_MAX_MESSAGES: positiveInt.default(500),
  BATCH_MAX_WAIT_MS: positiveInt.default(100),
  WORKER_CONCURRENCY: positiveInt.default(2),
  PENDING_MESSAGES_LIMIT: positiveInt.default(20_000),
  GATEWAY_OFFLINE_FACTOR: z.coerce.number().positive().default(3),
  LOG_RETENTION_DAYS: positiveInt.default(30),
  /** Attempts of an ingest job before its messages are logged as DB_ERROR. */
  INGEST_JOB_ATTEMPTS: positiveInt.default(8),
  /** First retry delay of a failed ingest job; doubles on each attempt. */
  INGEST_BACKOFF_MS: positiveInt.default(1_000),
  /** Longest wait between two attempts to put a batch into Redis while it is unreachable. */
  ENQUEUE_RETRY_CAP_MS: positiveInt.default(5_000),
  /** How often the topic catalogue's in-memory counts are written. */
  CATALOGUE_FLUSH_MS: positiveInt.default(1_000),
  /** Distinct topics held in memory before the catalogue is written early. */
  CATALOGUE_MAX_TOPICS: positiveInt.default(1_000),
  /** Shortest interval between two data_update events of one site. */
  DATA_UPDATE_THROTTLE_MS: positiveInt.default(500),
  /** How often gateways are checked for silence (marked offline). */
  GATEWAY_SWEEP_INTERVAL_MS: positiveInt.default(30_000),
  /** How often old connection and parsing log rows are pruned. */
  LOG_RETENTION_INTERVAL_MS: positiveInt.default(3_600_000),
  /** How long stopping the pipeline waits for pending batches to reach Redis. */
  PIPELINE_STOP_TIMEOUT_MS: positiveInt.default(10_000),
  MQTT_PROTOCOL_VERSION: z.coerce
    .number()
    .pipe(z.union([z.literal(4), z.literal(5)]))
    .default(4),
  MQTT_SESSION_EXPIRY_SECONDS: positiveInt.default(7 * 24 * 3600),
  HEARTBEAT_WRITE_INTERVAL_MS: positiveInt.default(5_000),
  /**
   * Longest lag of gateways', dataloggers' and devices' last_seen_at and sensors'
   * last_reading behind the stored messages: a worker writes them for rows it already knows
   * at most this often, since rewriting every sensor row for every reading cost more than
   * inserting the readings. A gateway going offline, or changing site, is written at once.
   */
  LAST_SEEN_WRITE_INTERVAL_MS: positiveInt.default(1_000),
  /**
   * Rows of each telemetry table (gateway, datalogger, device, sensor) a worker remembers,
   * about 230 bytes each. A fleet with more sensors than this gets few hits (the oldest row
   * is forgotten first, and traffic cycles through them all): every message then upserts its
   * whole tree.
   */
  TELEMETRY_CACHE_MAX_ROWS: positiveInt.default(500_000),
  /**
   * This process's name among the supervisors sharing one Redis; shown as a connection's
   * owner. Default `<hostname>-<pid>`. A stable name lets a restarted process take its own
   * leases back at once instead of waiting for them to expire: never give two live processes
   * the same one.
   */
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - only, at most 100')
    .default(`${hostname()}-${process.pid}`),
  /**
   * Lifetime of a connection lease (ms, default 15000): how long a crashed instance's
   * connections wait before another instance takes them over. Renewed every fifth of it.
   */
  LEASE_TTL_MS: z.coerce.number().int().min(1_000).default(15_000),
  SILENCE_CHECK_INTERVAL_MS: positiveInt.default(5_000),
});

/** The validated, frozen configuration every component receives. */
export type Config = Readonly<z.output<typeof EnvironmentSchema>> & {
  readonly secretKey: string;
  readonly usesDevelopmentSecret: boolean;
};

/** Thrown at boot when the environment is unusable; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (process.env by default) into a frozen Config, or throws ConfigError. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = EnvironmentSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }

  const secretKey = result.data.SECRET_KEY ?? DEVELOPMENT_SECRET_KEY;
  return Object.freeze({
    ...result.data,
    secretKey,
    usesDevelopmentSecret: result.data.SECRET_KEY === undefined,
  });
}

let loaded: Config | undefined;

/** The process's configuration, read from process.env once. */
export function loadConfig(): Config {
  loaded ??= parseConfig(process.env);
  return loaded;
}
