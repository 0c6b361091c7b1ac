/** A reading's value as a payload may send it: a number, a list of numbers or an object. */
export type ReadingValueInput = number | number[] | Record<string, unknown>;

/**
 * The stored form of a reading's value, always an object so queries read named fields.
 * Rules, in order:
 * - an object is kept as sent;
 * - a list of 3 from an `accelerometer` is `{x, y, z}`;
 * - a list of 2 or more from an `inclinometer` is `{pitch, roll}`, and any further values
 *   go, in order, to `extra` (present only when there are any);
 * - any other list of one is `{value}`, any other list (empty included) is `{values}`;
 * - a number is `{value}`.
 * Sensor types are compared trimmed and case-insensitively (`Accelerometer` counts).
 */
export function normaliseReadingValue(
  sensorType: string,
  value: ReadingValueInput,
): Record<string, unknown> {
  if (typeof value === 'number') return { value };
  if (!Array.isArray(value)) return value;

  const kind = sensorType.trim().toLowerCase();
  if (kind === 'accelerometer' && value.length === 3) {
    const [x, y, z] = value;
    return { x, y, z };
  }
  if (kind === 'inclinometer' && value.length >= 2) return inclination(value);
  if (value.length === 1) return { value: value[0] };
  return { values: value };
}

function inclination(value: number[]): Record<string, unknown> {
  const [pitch, roll, ...extra] = value;
  return extra.length > 0 ? { pitch, roll, extra } : { pitch, roll };
}
