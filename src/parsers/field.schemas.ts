import { z } from 'zod';

/** Longest serial number the data model stores (gateway, datalogger, device). */
export const SERIAL_NUMBER_MAX_LENGTH = 100;

/** A string with at least one non-space character, at most `max` characters long. */
export function nonBlankString(max: number): z.ZodString {
  return z
    .string()
    .max(max)
    .refine((value) => value.trim().length > 0, 'must not be blank');
}

/** A gateway, datalogger or device serial number, as sent (not trimmed). */
export const SerialNumberSchema = nonBlankString(SERIAL_NUMBER_MAX_LENGTH);

/**
 * An ISO 8601 date-time with seconds and a timezone (`Z` or `+hh:mm`). A timestamp that does
 * not parse is a validation error: it never silently becomes "now".
 */
export const TimestampSchema = z.iso
  .datetime({ offset: true, error: 'expected an ISO 8601 date-time with a timezone' })
  // A second opinion from the Date parser; skipped after a format issue, which says enough.
  .refine((value) => !Number.isNaN(Date.parse(value)), {
    message: 'is not a real date-time',
    when: (payload) => payload.issues.length === 0,
  });

/** Whether a value is a plain JSON object, for checks that run on partly invalid payloads. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
