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

/** The one-line summary of a list of issues: `2 problems: a.b: required; c: expected ...`. */
export function describeIssues(issues: readonly PayloadIssue[]): string {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  const details = issues.map((issue) => `${issue.path || '(payload)'}: ${issue.message}`);
  return `payload is invalid (${count}): ${details.join('; ')}`;
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
