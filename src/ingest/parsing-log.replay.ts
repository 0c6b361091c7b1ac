import type { MikroORM } from '@mikro-orm/postgresql';
import { RAW_PAYLOAD_LIMIT, type ParsingErrorType } from '../entities/index.js';
import type { DecodedMessage } from './ingest-job.js';
import { parseMessages } from './message-parsing.js';
import type { ParserLookup } from './parser-lookup.js';
import { autocommitRunner, inTransaction } from './sql-runner.js';
import { writeTelemetry } from './telemetry.writer.js';

/** Which quarantined messages to replay: explicit ids, or a filter (newest first). */
export type ReplaySelection =
  | { ids: number[] }
  | {
      siteId?: number;
      errorType?: ParsingErrorType;
      topic?: string;
      since?: Date;
      until?: Date;
      /** Include rows already replayed successfully; default false. */
      includeReplayed?: boolean;
      /** At most this many rows; default 1000. */
      limit?: number;
    };

/** The outcome of replaying one parsing log row. */
export interface ReplayOutcome {
  id: number;
  /** 'stored', or 'failed: <reason>'. */
  outcome: string;
}

/** The outcome of a replay request. */
export interface ReplayResult {
  replayed: number;
  stored: number;
  failed: number;
  outcomes: ReplayOutcome[];
}

/** What replaying needs. */
export interface ReplayDeps {
  orm: MikroORM;
  registry: ParserLookup;
}

const DEFAULT_REPLAY_LIMIT = 1_000;

interface LogRow {
  id: number;
  site_id: number;
  topic: string;
  parser_name: string;
  raw_payload: Buffer | null;
  raw_payload_truncated: boolean;
  qos: number;
  /** A string: the ORM's driver leaves timestamps undecoded. */
  received_at: string | Date | null;
}

/**
 * Runs quarantined messages again through the current parser registry (the row's parser by
 * name, or the registry's pick for its topic when the row names none) and records each
 * outcome on its row (replayed_at, replay_outcome). A message that now parses is stored
 * exactly as live traffic would be, together with its outcome in one transaction. A row whose
 * raw payload was cut at RAW_PAYLOAD_LIMIT bytes cannot replay: its outcome says so.
 */
export async function replayParsingLogs(
  deps: ReplayDeps,
  selection: ReplaySelection,
): Promise<ReplayResult> {
  const rows = await selectRows(deps.orm, selection);
  const result: ReplayResult = { replayed: 0, stored: 0, failed: 0, outcomes: [] };

  for (const row of rows) {
    const outcome = await replayRow(deps, row);
    result.replayed += 1;
    if (outcome === 'stored') result.stored += 1;
    else result.failed += 1;
    result.outcomes.push({ id: row.id, outcome });
  }
  return result;
}

async function replayRow(deps: ReplayDeps, row: LogRow): Promise<string> {
  const refusal = unreplayableReason(row);
  if (refusal) return recordOutcome(deps.orm, row.id, `failed: ${refusal}`);

  const message = messageOf(row);
  const parsed = parseMessages(deps.registry, [message]);
  const problem = parsed.quarantined[0];
  if (problem) return recordOutcome(deps.orm, row.id, `failed: ${problem.errorMessage}`);

  try {
    await inTransaction(deps.orm, async (run) => {
      await writeTelemetry(run, parsed.batch);
      await run(RECORD_OUTCOME, ['stored', row.id]);
    });
    return 'stored';
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return recordOutcome(deps.orm, row.id, `failed: database error: ${reason}`);
  }
}

function unreplayableReason(row: LogRow): string | undefined {
  if (row.raw_payload === null) return 'no raw payload was kept for this message';
  if (row.raw_payload_truncated) {
    return `raw payload was cut at ${RAW_PAYLOAD_LIMIT} bytes when quarantined; cannot replay`;
  }
  return undefined;
}

function messageOf(row: LogRow): DecodedMessage {
  return {
    siteId: row.site_id,
    connectionId: 0,
    topic: row.topic,
    qos: row.qos === 1 || row.qos === 2 ? row.qos : 0,
    retain: false,
    receivedAt: row.received_at === null ? new Date() : new Date(row.received_at),
    parserName: row.parser_name,
    payload: row.raw_payload ?? Buffer.alloc(0),
  };
}

const RECORD_OUTCOME = `
update mqtt_parsing_log set replayed_at = now(), replay_outcome = ? where id = ?`;

async function recordOutcome(orm: MikroORM, id: number, outcome: string): Promise<string> {
  await autocommitRunner(orm)(RECORD_OUTCOME, [outcome, id]);
  return outcome;
}

async function selectRows(orm: MikroORM, selection: ReplaySelection): Promise<LogRow[]> {
  const columns = `id, site_id, topic, parser_name, raw_payload, raw_payload_truncated, qos,
    received_at`;
  const run = autocommitRunner(orm);
  if ('ids' in selection) {
    const ids = selection.ids.map(Number).filter(Number.isSafeInteger);
    const sql = `select ${columns} from mqtt_parsing_log where id in
      (select jsonb_array_elements_text(?::jsonb)::bigint) order by id`;
    return normalise(await run(sql, [JSON.stringify(ids)]));
  }

  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    params.push(value);
  };
  if (selection.siteId !== undefined) add('site_id = ?', selection.siteId);
  if (selection.errorType !== undefined) add('error_type = ?', selection.errorType);
  if (selection.topic !== undefined) add('topic = ?', selection.topic);
  if (selection.since !== undefined) add('"timestamp" >= ?', selection.since);
  if (selection.until !== undefined) add('"timestamp" < ?', selection.until);
  if (!selection.includeReplayed) {
    where.push(`(replay_outcome is null or replay_outcome <> 'stored')`);
  }

  params.push(selection.limit ?? DEFAULT_REPLAY_LIMIT);
  const sql = `select ${columns} from mqtt_parsing_log
    ${where.length ? `where ${where.join(' and ')}` : ''}
    order by "timestamp" desc, id desc limit ?`;
  return normalise(await run(sql, params));
}

function normalise(rows: Record<string, unknown>[]): LogRow[] {
  return rows.map((row) => ({ ...(row as unknown as LogRow), id: Number(row.id) }));
}
