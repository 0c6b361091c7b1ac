import type { MikroORM } from '@mikro-orm/postgresql';
import type { DecodedMessage } from './ingest-job.js';
import { parseMessages, type ParsedMessages } from './message-parsing.js';
import type { ParserLookup } from './parser-lookup.js';
import { insertParsingLogs, type Quarantined, type QuarantineRow } from './parsing-log.writer.js';
import { IngestBatch } from './record-collector.js';
import { inTransaction, type SqlRunner } from './sql-runner.js';
import { StaleCacheError, type CacheSession, type TelemetryCache } from './telemetry.cache.js';
import { flushPending, writeTelemetry, type GatewayTransition } from './telemetry.writer.js';

/** What storing a job's messages did. */
export interface StoreResult {
  /** Messages whose records were committed. */
  persisted: DecodedMessage[];
  quarantined: QuarantineRow[];
  readingsInserted: number;
  gatewayTransitions: GatewayTransition[];
  /** Per-site activity of the committed messages, for data_update events. */
  batch: IngestBatch;
}

/**
 * Parses the messages and commits every valid one plus every quarantine row in ONE
 * transaction. A database error that no retry can fix (a value the schema refuses) sends the
 * batch down a slower path, one message per transaction, so only the offending message is
 * quarantined as DB_ERROR. Any other database error (connection lost, deadlock, shutdown) is
 * thrown for the queue to retry the whole job: nothing of it was committed.
 *
 * With a cache, a batch whose cached ids turned out stale (a row deleted behind it, seen as
 * a foreign-key violation or a row an upsert did not return) is first retried at once with
 * the cache emptied and every row upserted; only if that fails too is the error handled as
 * above.
 */
export async function storeMessages(
  orm: MikroORM,
  parsers: ParserLookup,
  messages: DecodedMessage[],
  cache?: TelemetryCache,
): Promise<StoreResult> {
  const parsed = parseMessages(parsers, messages);
  try {
    return await writeWithCache(orm, parsed, cache);
  } catch (error) {
    if (!isPermanentDatabaseError(error)) throw error;
    return storeOneByOne(orm, parsers, parsed);
  }
}

async function writeWithCache(
  orm: MikroORM,
  parsed: ParsedMessages,
  cache?: TelemetryCache,
): Promise<StoreResult> {
  if (!cache) return inTransaction(orm, (run) => writeParsed(run, parsed));
  try {
    return await writeInSession(orm, parsed, cache.begin(true));
  } catch (error) {
    if (!(error instanceof StaleCacheError) && sqlState(error) !== FOREIGN_KEY_VIOLATION) {
      throw error;
    }
    cache.invalidate();
    return writeInSession(orm, parsed, cache.begin(false));
  }
}

async function writeInSession(
  orm: MikroORM,
  parsed: ParsedMessages,
  session: CacheSession,
): Promise<StoreResult> {
  const result = await inTransaction(orm, (run) => writeParsed(run, parsed, session));
  session.cache?.commit(session);
  return result;
}

/**
 * Writes what the cache's batches owe (gateways' newest fields, last-seen times, sensors'
 * last readings) in one transaction of its own, and returns the gateways it brought back
 * online. The writes stay owed if it fails; call when `cache.isFlushDue()`, or with traffic
 * stopped when `cache.hasPending`.
 */
export async function writeOwed(
  orm: MikroORM,
  cache: TelemetryCache,
): Promise<GatewayTransition[]> {
  const writes = cache.takePending();
  try {
    return await inTransaction(orm, (run) => flushPending(run, writes));
  } catch (error) {
    cache.restore(writes);
    throw error;
  }
}

const FOREIGN_KEY_VIOLATION = '23503';

/** Quarantines every message as DB_ERROR, keeping raw payloads for replay. */
export async function quarantineAsDatabaseError(
  orm: MikroORM,
  messages: DecodedMessage[],
  error: unknown,
): Promise<QuarantineRow[]> {
  const reason = error instanceof Error ? error.message : String(error);
  const entries = messages.map((message) => ({
    message,
    errorType: 'DB_ERROR' as const,
    errorMessage: `not stored after every retry: ${reason}`,
    error,
  }));
  return inTransaction(orm, (run) => insertParsingLogs(run, entries));
}

async function writeParsed(
  run: SqlRunner,
  parsed: ParsedMessages,
  session?: CacheSession,
): Promise<StoreResult> {
  const written = await writeTelemetry(run, parsed.batch, session);
  const quarantined = await insertParsingLogs(run, parsed.quarantined);
  return { ...written, persisted: parsed.valid, quarantined, batch: parsed.batch };
}

async function storeOneByOne(
  orm: MikroORM,
  parsers: ParserLookup,
  parsed: ParsedMessages,
): Promise<StoreResult> {
  const result: StoreResult = {
    persisted: [],
    quarantined: [],
    readingsInserted: 0,
    gatewayTransitions: [],
    batch: new IngestBatch(),
  };
  const rejected: Quarantined[] = [...parsed.quarantined];

  for (const message of parsed.valid) {
    const single = parseMessages(parsers, [message]);
    try {
      const stored = await inTransaction(orm, (run) => writeParsed(run, single));
      mergeInto(result, stored);
    } catch (error) {
      if (!isPermanentDatabaseError(error)) throw error;
      const errorMessage = error instanceof Error ? error.message : String(error);
      rejected.push({ message, errorType: 'DB_ERROR', errorMessage, error });
    }
  }

  result.quarantined = await inTransaction(orm, (run) => insertParsingLogs(run, rejected));
  return result;
}

function mergeInto(result: StoreResult, stored: StoreResult): void {
  result.persisted.push(...stored.persisted);
  result.readingsInserted += stored.readingsInserted;
  result.gatewayTransitions.push(...stored.gatewayTransitions);
  for (const [siteId, activity] of stored.batch.activity) {
    const known = result.batch.activity.get(siteId);
    if (!known) {
      result.batch.activity.set(siteId, activity);
      continue;
    }
    known.messages += activity.messages;
    known.readings += activity.readings;
    for (const gateway of activity.gateways) known.gateways.add(gateway);
  }
}

/**
 * True for SQLSTATE classes a retry cannot fix: data exceptions (22), integrity violations
 * (23) and statement errors (42). Connection failures (08), shutdowns (57), deadlocks and
 * serialisation failures (40) and anything without a state are worth retrying.
 */
export function isPermanentDatabaseError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && ['22', '23', '42'].includes(state.slice(0, 2));
}

function sqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    const candidate = current as { code?: unknown; sqlState?: unknown; cause?: unknown };
    for (const value of [candidate.sqlState, candidate.code]) {
      if (typeof value === 'string' && /^[0-9A-Z]{5}$/.test(value)) return value;
    }
    current = candidate.cause;
  }
  return undefined;
}
