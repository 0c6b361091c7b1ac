import type { z } from 'zod';
import { AppError, type ErrorContext } from '../errors.js';

/** One reason a payload was refused, at a dotted path (`dataloggers.0.devices.1.data.2.value`). */
export interface PayloadIssue {
  /** Dotted path from the payload's root; empty for the root itself. */
  path: string;
  message: string;
}

/**
 * A payload that is JSON but not what its parser accepts. It keeps every failing path and
 * reason, both in the message (for logs and the quarantine's error_message) and as a list.
 */
export class PayloadInvalidError extends AppError {
  readonly issues: readonly PayloadIssue[];

  constructor(issues: readonly PayloadIssue[], context: ErrorContext = {}) {
    super('PAYLOAD_INVALID', describeIssues(issues), { context });
    this.issues = issues;
  }
}

/** Longest text one issue contributes to a summary; longer ones are cut with `…`. */
export const MAX_ISSUE_TEXT_LENGTH = 200;

/**
 * Longest list of issues a summary spells out, in characters, before it ends with
 * `; and N more`. A large payload can fail at hundreds of thousands of paths, and the
 * summary ends up in logs and in a database column.
 */
export const MAX_ISSUE_LIST_LENGTH = 4_000;

/**
 * The one-line summary of a list of issues: `2 problems: a.b: required; c: expected ...`.
 * Every issue is named as long as the summary stays within its bound (see the limits above).
 */
export function describeIssues(issues: readonly PayloadIssue[]): string {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  const details: string[] = [];
  let length = 0;
  for (const issue of issues) {
    const detail = summarise(`${issue.path || '(payload)'}: ${issue.message}`);
    if (length + detail.length > MAX_ISSUE_LIST_LENGTH) break;
    details.push(detail);
    length += detail.length + 2;
  }

  const more = issues.length - details.length;
  if (more > 0) details.push(`and ${more} more`);
  return `payload is invalid (${count}): ${details.join('; ')}`;
}

/**
 * Whether text holds what PostgreSQL text and jsonb refuse: NUL, or an unpaired surrogate
 * (which a JSON payload can carry as `"\ud800"`).
 */
export function hasUnstorableText(text: string): boolean {
  return text.includes('\u0000') || /\p{Cs}/u.test(text);
}

/**
 * Text quoted from a payload, made safe for logs and the database: NUL and unpaired
 * surrogates become U+FFFD. Paths and messages quote the payload's keys and values.
 */
export function storableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(/\p{Cs}/gu, '\uFFFD');
}

function summarise(text: string): string {
  if (text.length <= MAX_ISSUE_TEXT_LENGTH) return storableText(text);
  return `${storableText(text.slice(0, MAX_ISSUE_TEXT_LENGTH - 1))}…`;
}

/** The path of a zod issue as dots: keys as written, array indexes as numbers. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.map((key) => String(key)).join('.');
}

/** Every issue of a failed zod parse, flattened to path and message. */
export function issuesFromZod(error: z.ZodError): PayloadIssue[] {
  return error.issues.map((issue) => ({
    path: formatIssuePath(issue.path),
    message: issue.message,
  }));
}

/**
 * Error messages for zod issues that read well in a quarantine log: a missing field says
 * `required`, a wrong type says what was expected and what arrived. Other issues keep zod's
 * own message.
 */
export const payloadErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'required';
  const expected = issue.expected === 'int' ? 'integer' : issue.expected;
  return `expected ${expected}, received ${describeJsonType(issue.input)}`;
};

/** The JSON name of a value's type: `null` and `array` are told apart from `object`. */
export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
