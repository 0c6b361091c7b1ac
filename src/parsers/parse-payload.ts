import { AppError, type ErrorContext } from '../errors.js';
import type { Parser } from './parser.js';
import { PayloadInvalidError, issuesFromZod, payloadErrorMap } from './payload-issue.js';

/** Largest payload parsed by default, in bytes (1 MiB); larger ones are refused unread. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** Options of parsePayload. */
export interface ParsePayloadOptions {
  /** Largest accepted payload in bytes; default DEFAULT_MAX_PAYLOAD_BYTES (1 MiB). */
  maxBytes?: number;
}

/** The outcome of safeParsePayload: the validated payload, or why it was refused. */
export type ParsePayloadResult<T> = { ok: true; payload: T } | { ok: false; error: AppError };

// fatal: invalid byte sequences throw instead of turning into U+FFFD, which would let a
// corrupted payload through with altered strings. A leading BOM is dropped, as JSON allows.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns a message's raw bytes into the parser's validated payload: size bound, strict UTF-8,
 * JSON, the parser's schema, then its topic checks. Throws an AppError: PAYLOAD_TOO_LARGE,
 * PAYLOAD_NOT_JSON (also for invalid UTF-8) or PAYLOAD_INVALID (a PayloadInvalidError that
 * lists every failing path).
 */
export function parsePayload<T>(
  bytes: Uint8Array,
  parser: Parser<T>,
  topic: string,
  options: ParsePayloadOptions = {},
): T {
  const context: ErrorContext = { parserName: parser.parserName, topic };
  const json = decodeJson(bytes, options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, context);

  const result = parser.schema.safeParse(json, { error: payloadErrorMap });
  if (!result.success) throw new PayloadInvalidError(issuesFromZod(result.error), context);

  const topicIssues = parser.checkTopic?.(result.data, topic) ?? [];
  if (topicIssues.length > 0) throw new PayloadInvalidError(topicIssues, context);
  return result.data;
}

/** parsePayload with the refusal as a value instead of a throw, for batch loops. */
export function safeParsePayload<T>(
  bytes: Uint8Array,
  parser: Parser<T>,
  topic: string,
  options: ParsePayloadOptions = {},
): ParsePayloadResult<T> {
  try {
    return { ok: true, payload: parsePayload(bytes, parser, topic, options) };
  } catch (error) {
    if (error instanceof AppError) return { ok: false, error };
    throw error;
  }
}

/** Decodes bounded, strict UTF-8 JSON; the parser-independent half of parsePayload. */
export function decodeJson(bytes: Uint8Array, maxBytes: number, context: ErrorContext): unknown {
  if (bytes.byteLength > maxBytes) {
    const message = `payload is ${bytes.byteLength} bytes; the limit is ${maxBytes}`;
    throw new AppError('PAYLOAD_TOO_LARGE', message, { context });
  }

  const text = decodeUtf8(bytes, context);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new AppError('PAYLOAD_NOT_JSON', `payload is not JSON: ${reason}`, { cause, context });
  }
}

function decodeUtf8(bytes: Uint8Array, context: ErrorContext): string {
  try {
    return UTF8.decode(bytes);
  } catch (cause) {
    throw new AppError('PAYLOAD_NOT_JSON', 'payload is not valid UTF-8', { cause, context });
  }
}
