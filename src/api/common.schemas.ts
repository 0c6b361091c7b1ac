import { z } from 'zod';

/** Largest id PostgreSQL's `integer` holds; larger path ids are bad input, not a 500. */
const MAX_INT_ID = 2_147_483_647;

/** A positive integer id from a path or query string. */
export const IdSchema = z.coerce.number().int().positive().max(MAX_INT_ID);

/** `true` or `false` in a query string. */
export const QueryBooleanSchema = z.enum(['true', 'false']).transform((value) => value === 'true');

/** An ISO 8601 timestamp with an offset (`Z` or `+01:00`) in a query string or body. */
export const TimestampSchema = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value));

/** Offset pagination: small, bounded pages of configuration lists. */
export const PageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('page size, 1-500'),
  offset: z.coerce.number().int().min(0).default(0).describe('rows to skip'),
});

/** A page of an offset-paginated list. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
  });
}

/** One problem with a request. */
export const InputIssueSchema = z.object({
  in: z.string().describe('params, body or querystring'),
  path: z.string(),
  message: z.string(),
});

/** Every error answer. */
export const ErrorBodySchema = z.object({
  error: z.string(),
  code: z.string().optional(),
  issues: z.array(InputIssueSchema).optional(),
});

/** Error answers every protected route may give, for the OpenAPI document. */
export const PROTECTED_ERRORS = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  429: ErrorBodySchema,
} as const;

/** A timestamp for a response: ISO 8601 or null. */
export function iso(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}

/** The same, for columns that are never null. */
export function isoRequired(value: Date): string {
  return value.toISOString();
}

/** ISO timestamp in a response schema. */
export const IsoSchema = z.string().describe('ISO 8601 timestamp');
