import { AppError, type ErrorContext } from '../errors.js';
import type { Parser } from './parser.js';
import {
  PayloadInvalidError,
  formatIssuePath,
  hasUnstorableText,
  issuesFromZod,
  payloadErrorMap,
  storableText,
  type PayloadIssue,
} from './payload-issue.js';

/** Largest payload parsed by default, in bytes (1 MiB); larger ones are refused unread. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a payload may have; the documented payloads need 8.
 * Deeper JSON parses, but recursive code downstream does not survive it: JSON.stringify,
 * which writes readings and raw_metadata to the database, overflows the stack near 4,000.
 */
export const MAX_PAYLOAD_DEPTH = 64;

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
 * JSON, nesting and storable values, the parser's schema, then its topic checks. Throws an
 * AppError: PAYLOAD_TOO_LARGE, PAYLOAD_NOT_JSON (also for invalid UTF-8) or PAYLOAD_INVALID
 * (a PayloadInvalidError that lists every failing path).
 */
export function parsePayload<T>(
  bytes: Uint8Array,
  parser: Parser<T>,
  topic: string,
  options: ParsePayloadOptions = {},
): T {
  const context: ErrorContext = { parserName: parser.parserName, topic };
  const text = decodeText(bytes, options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, context);
  const json = parseJson(text, context);
  const valueIssues = isStorable(json, 1, mayHoldUnstorableText(text))
    ? []
    : inspectJson(json, context);

  const result = validate(parser, json, context);
  const schemaIssues = result.success ? [] : issuesFromZod(result.error);
  if (!result.success || valueIssues.length > 0) {
    throw new PayloadInvalidError(mergeIssues(valueIssues, schemaIssues), context);
  }

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

/**
 * Strict UTF-8 never decodes to an unpaired surrogate and JSON.parse refuses a raw NUL, so a
 * string or key can only hold either through a `\u` escape in the text.
 */
function mayHoldUnstorableText(text: string): boolean {
  return text.includes('\\u');
}

/**
 * The quick verdict on what inspectJson checks: true when nothing is nested too deep and
 * every number and (when `checkText`) every string and key can be stored as sent. Recursion
 * stops at MAX_PAYLOAD_DEPTH, so it cannot overflow the stack; on false, inspectJson names
 * each problem.
 */
function isStorable(value: unknown, depth: number, checkText: boolean): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'string') return !checkText || !hasUnstorableText(value);
  if (typeof value !== 'object' || value === null) return true;
  if (depth > MAX_PAYLOAD_DEPTH) return false;

  if (Array.isArray(value)) {
    for (const item of value) if (!isStorable(item, depth + 1, checkText)) return false;
    return true;
  }
  for (const key in value) {
    if (checkText && hasUnstorableText(key)) return false;
    const child = (value as Record<string, unknown>)[key];
    if (!isStorable(child, depth + 1, checkText)) return false;
  }
  return true;
}

interface JsonNode {
  value: unknown;
  depth: number;
  key: string;
  parent: JsonNode | undefined;
}

/**
 * Walks the decoded JSON without recursion. Refuses nesting deeper than MAX_PAYLOAD_DEPTH at
 * once, and returns an issue for every value the database cannot store as sent: a number too
 * large for a double (`1e400`, 400 digits), which JSON.parse makes Infinity and the writers
 * would store as null, and a string or key holding NUL or an unpaired surrogate, which
 * PostgreSQL refuses: the batch's transaction would fail and the message end as a DB_ERROR,
 * where the sender's mistake is a validation error.
 */
function inspectJson(json: unknown, context: ErrorContext): PayloadIssue[] {
  const issues: PayloadIssue[] = [];
  const pending: JsonNode[] = [{ value: json, depth: 1, key: '', parent: undefined }];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const problem = unstorable(node);
    if (problem !== undefined) issues.push({ path: nodePath(node), message: problem });

    const { value, depth } = node;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_PAYLOAD_DEPTH) {
      const message = `is nested deeper than ${MAX_PAYLOAD_DEPTH} levels of arrays and objects`;
      throw new PayloadInvalidError([{ path: '', message }], context);
    }
    // Reversed so that issues come out in document order.
    for (const [key, child] of Object.entries(value).reverse()) {
      pending.push({ value: child, depth: depth + 1, key, parent: node });
    }
  }
  return issues;
}

function unstorable({ value, key }: JsonNode): string | undefined {
  if (hasUnstorableText(key)) return 'key holds a NUL character or an unpaired surrogate';
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return 'number out of range (beyond ±1.8e308)';
  }
  if (typeof value === 'string' && hasUnstorableText(value)) {
    return 'holds a NUL character or an unpaired surrogate';
  }
  return undefined;
}

/**
 * Both lists of issues; a number out of range fails zod's number checks too, so each path
 * the walk reported is named once.
 */
function mergeIssues(valueIssues: PayloadIssue[], schemaIssues: PayloadIssue[]): PayloadIssue[] {
  const reported = new Set(valueIssues.map((issue) => issue.path));
  return [...valueIssues, ...schemaIssues.filter((issue) => !reported.has(issue.path))];
}

function nodePath(node: JsonNode): string {
  const keys: string[] = [];
  for (let at: JsonNode | undefined = node; at?.parent !== undefined; at = at.parent) {
    keys.push(at.key);
  }
  return formatIssuePath(keys.reverse());
}

/**
 * Runs the parser's schema. zod gathers nested issues with `push(...issues)`, which overflows
 * the stack past about a hundred thousand issues under one field (`"data": [0, 0, ...]`
 * fits 400,000 of them in 1 MiB): that RangeError is the payload's fault, not a crash.
 */
function validate<T>(parser: Parser<T>, json: unknown, context: ErrorContext) {
  try {
    return parser.schema.safeParse(json, { error: payloadErrorMap });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const message = 'has too many problems to check';
    throw new PayloadInvalidError([{ path: '', message }], context);
  }
}

/** Decodes bounded, strict UTF-8; the first step of parsePayload. */
function decodeText(bytes: Uint8Array, maxBytes: number, context: ErrorContext): string {
  if (bytes.byteLength > maxBytes) {
    const message = `payload is ${bytes.byteLength} bytes; the limit is ${maxBytes}`;
    throw new AppError('PAYLOAD_TOO_LARGE', message, { context });
  }
  return decodeUtf8(bytes, context);
}

function parseJson(text: string, context: ErrorContext): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    // V8 quotes the text around the error, which can hold a NUL byte.
    const reason = storableText(cause instanceof Error ? cause.message : String(cause));
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
