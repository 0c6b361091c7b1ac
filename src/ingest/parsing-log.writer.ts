import { AppError, describeException, isAppError } from '../errors.js';
import {
  PAYLOAD_SAMPLE_LIMIT,
  RAW_PAYLOAD_LIMIT,
  type ParsingErrorType,
} from '../entities/index.js';
import type { DecodedMessage } from './ingest-job.js';
import type { SqlRunner } from './sql-runner.js';

/** A message set aside in mqtt_parsing_log, and why. */
export interface Quarantined {
  message: DecodedMessage;
  errorType: ParsingErrorType;
  errorMessage: string;
  error: unknown;
}

/** A written quarantine row. */
export interface QuarantineRow {
  id: number;
  siteId: number;
  topic: string;
  errorType: ParsingErrorType;
  errorMessage: string;
}

const INSERT_PARSING_LOGS = `
insert into mqtt_parsing_log (site_id, topic, parser_name, error_type, error_message,
  exception_type, exception_traceback, payload_sample, raw_payload, raw_payload_truncated, qos,
  received_at)
select r.site_id, left(r.topic, 500), left(r.parser_name, 100), r.error_type, r.error_message,
  left(r.exception_type, 255), r.exception_traceback, r.payload_sample,
  decode(r.raw_payload, 'base64'), r.raw_payload_truncated, r.qos, r.received_at
from jsonb_to_recordset(?::jsonb) as r(ord int, site_id int, topic text, parser_name text,
    error_type text, error_message text, exception_type text, exception_traceback text,
    payload_sample text, raw_payload text, raw_payload_truncated boolean, qos smallint,
    received_at timestamptz)
order by r.ord
returning id`;

/**
 * Classifies a failure to parse one message. Non-JSON, schema, timestamp and size problems
 * are all VALIDATION_ERROR (the sender must change the payload); a parser crashing on a
 * valid payload is PARSE_ERROR (our code must change); anything else UNKNOWN_ERROR.
 */
export function classifyParseFailure(error: unknown): ParsingErrorType {
  if (
    isAppError(error, 'PAYLOAD_NOT_JSON') ||
    isAppError(error, 'PAYLOAD_INVALID') ||
    isAppError(error, 'PAYLOAD_TOO_LARGE')
  ) {
    return 'VALIDATION_ERROR';
  }
  if (isAppError(error, 'PARSER_NOT_FOUND') || isAppError(error, 'PARSER_FAILED')) {
    return 'PARSE_ERROR';
  }
  return error instanceof AppError ? 'PARSE_ERROR' : 'UNKNOWN_ERROR';
}

/** Builds the quarantine entry of a message whose parsing failed. */
export function quarantineFor(message: DecodedMessage, error: unknown): Quarantined {
  const text = error instanceof Error ? error.message : String(error);
  return { message, errorType: classifyParseFailure(error), errorMessage: text, error };
}

/** Inserts quarantine rows in one statement; returns them with their ids, in order. */
export async function insertParsingLogs(
  run: SqlRunner,
  entries: Quarantined[],
): Promise<QuarantineRow[]> {
  if (!entries.length) return [];

  const rows = entries.map((entry, ord) => parsingLogRow(entry, ord));
  const inserted = await run(INSERT_PARSING_LOGS, [JSON.stringify(rows)]);
  return entries.map((entry, index) => ({
    id: Number(inserted[index]?.id),
    siteId: entry.message.siteId,
    topic: entry.message.topic,
    errorType: entry.errorType,
    errorMessage: entry.errorMessage,
  }));
}

function parsingLogRow(entry: Quarantined, ord: number) {
  const { message } = entry;
  const exception = describeException(entry.error);
  const truncated = message.payload.length > RAW_PAYLOAD_LIMIT;
  const raw = truncated ? message.payload.subarray(0, RAW_PAYLOAD_LIMIT) : message.payload;
  return {
    ord,
    site_id: message.siteId,
    topic: message.topic,
    parser_name: message.parserName,
    error_type: entry.errorType,
    error_message: entry.errorMessage,
    exception_type: exception.type,
    exception_traceback: exception.traceback,
    payload_sample: payloadSample(message.payload),
    raw_payload: raw.toString('base64'),
    raw_payload_truncated: truncated,
    qos: message.qos,
    received_at: message.receivedAt.toISOString(),
  };
}

/** The start of a payload as text, for people; invalid UTF-8 and NULs become U+FFFD. */
export function payloadSample(payload: Buffer): string {
  const head = payload.subarray(0, PAYLOAD_SAMPLE_LIMIT * 4).toString('utf8');
  return head.slice(0, PAYLOAD_SAMPLE_LIMIT).replaceAll('\u0000', '\uFFFD');
}
