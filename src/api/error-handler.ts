import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError, isAppError, type ErrorCode } from '../errors.js';

/** The HTTP status each engine error code maps to; unlisted codes are 500. */
export const HTTP_STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CONFLICT: 409,
  DB_CONFLICT: 409,
  PAYLOAD_INVALID: 400,
  PAYLOAD_TOO_LARGE: 413,
  DB_UNAVAILABLE: 503,
  REDIS_UNAVAILABLE: 503,
};

/** One problem with a request: where (`body`, `querystring`, `params`), which field, why. */
export interface InputIssue {
  in: string;
  path: string;
  message: string;
}

/** Bad input found by a handler rather than by the schema, with every problem named. */
export class InputValidationError extends AppError {
  readonly issues: InputIssue[];

  constructor(issues: InputIssue[]) {
    super('VALIDATION_FAILED', 'invalid request');
    this.issues = issues;
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  code: string;
  issues?: InputIssue[];
}

/** Fastify validates these parts in this order and stops at the first that fails. */
const VALIDATED_PARTS = [
  { part: 'params', read: (request: FastifyRequest) => request.params },
  { part: 'body', read: (request: FastifyRequest) => request.body },
  { part: 'querystring', read: (request: FastifyRequest) => request.query },
] as const;

/** Builds the app's error handler: every failure becomes an ErrorBody, never a bare 500. */
export function createErrorHandler(log: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = describeError(error, request);
    if (status >= 500) {
      log.error({ err: error, method: request.method, url: request.routeOptions.url }, 'failed');
    }
    return reply.code(status).send(body);
  };
}

function describeError(
  error: FastifyError,
  request: FastifyRequest,
): { status: number; body: ErrorBody } {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const part = error.validationContext ?? 'body';
    const issues = collectInputIssues(request, part);
    if (issues.length === 0) issues.push(...fromValidation(part, error.validation ?? []));
    return { status: 400, body: { error: 'invalid request', code: 'VALIDATION_FAILED', issues } };
  }
  if (isAppError(error)) {
    return { status: HTTP_STATUS_BY_CODE[error.code] ?? 500, body: appErrorBody(error) };
  }
  if (isUniqueViolation(error)) {
    return { status: 409, body: { error: 'already exists', code: 'CONFLICT' } };
  }

  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { error: error.message, code: error.code ?? 'BAD_REQUEST' } };
  }
  return { status: 500, body: { error: 'internal error', code: 'INTERNAL' } };
}

function appErrorBody(error: AppError): ErrorBody {
  return error instanceof InputValidationError
    ? { error: error.message, code: error.code, issues: error.issues }
    : { error: error.message, code: error.code };
}

/**
 * Names every problem of the request, not only those of the part Fastify stopped at: the
 * parts validated after the failing one are still raw, so they are checked here too.
 */
function collectInputIssues(request: FastifyRequest, failedPart: string): InputIssue[] {
  const schema = request.routeOptions.schema as Record<string, unknown> | undefined;
  const start = VALIDATED_PARTS.findIndex((entry) => entry.part === failedPart);
  const issues: InputIssue[] = [];
  for (const { part, read } of VALIDATED_PARTS.slice(Math.max(start, 0))) {
    const partSchema = schema?.[part];
    if (!(partSchema instanceof z.ZodType)) continue;
    const result = partSchema.safeParse(read(request));
    if (result.success) continue;
    issues.push(...result.error.issues.map((issue) => toInputIssue(part, issue)));
  }
  return issues;
}

/** The issues Fastify reported, when checking the parts again found none. */
function fromValidation(
  part: string,
  validation: Array<{ instancePath?: string; message?: string }>,
): InputIssue[] {
  return validation.map((entry) => ({
    in: part,
    path: (entry.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.'),
    message: entry.message ?? 'invalid',
  }));
}

/** Formats a zod issue as an InputIssue located in `part`. */
export function toInputIssue(part: string, issue: z.core.$ZodIssue): InputIssue {
  return { in: part, path: issue.path.map(String).join('.'), message: issue.message };
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'UniqueConstraintViolationException' ||
      (error as { code?: unknown }).code === '23505')
  );
}
