import { describe, expect, it } from 'vitest';
import { normaliseReadingValue } from '../../src/parsers/reading-value.normaliser.js';

describe('normaliseReadingValue', () => {
  it('keeps an object as sent', () => {
    const value = { lat: 45.1, lon: 9.2, nested: { a: [1, 2] } };
    expect(normaliseReadingValue('gnss', value)).toEqual(value);
  });

  it('names the three values of an accelerometer x, y and z', () => {
    expect(normaliseReadingValue('accelerometer', [0.01, -0.02, 9.81])).toEqual({
      x: 0.01,
      y: -0.02,
      z: 9.81,
    });
  });

  it('treats an accelerometer list of another length like any list', () => {
    expect(normaliseReadingValue('accelerometer', [1, 2])).toEqual({ values: [1, 2] });
    expect(normaliseReadingValue('accelerometer', [1, 2, 3, 4])).toEqual({ values: [1, 2, 3, 4] });
    expect(normaliseReadingValue('accelerometer', [5])).toEqual({ value: 5 });
  });

  it('names the first two values of an inclinometer pitch and roll', () => {
    expect(normaliseReadingValue('inclinometer', [1.2, -0.4])).toEqual({ pitch: 1.2, roll: -0.4 });
  });

  it('keeps further inclinometer values, in order, under extra', () => {
    expect(normaliseReadingValue('inclinometer', [1, 2, 3, 4])).toEqual({
      pitch: 1,
      roll: 2,
      extra: [3, 4],
    });
  });

  it('reads a one-value inclinometer list as a single value', () => {
    expect(normaliseReadingValue('inclinometer', [7])).toEqual({ value: 7 });
  });

  it('compares sensor types trimmed and in any case', () => {
    expect(normaliseReadingValue(' Accelerometer ', [1, 2, 3])).toEqual({ x: 1, y: 2, z: 3 });
    expect(normaliseReadingValue('INCLINOMETER', [1, 2])).toEqual({ pitch: 1, roll: 2 });
  });

  it('unwraps a list of one', () => {
    expect(normaliseReadingValue('strain', [120])).toEqual({ value: 120 });
  });

  it('keeps any other list under values, an empty one included', () => {
    expect(normaliseReadingValue('vibration', [1, 2, 3])).toEqual({ values: [1, 2, 3] });
    expect(normaliseReadingValue('spare', [])).toEqual({ values: [] });
  });

  it('wraps a number', () => {
    expect(normaliseReadingValue('temperature', 21.5)).toEqual({ value: 21.5 });
    expect(normaliseReadingValue('accelerometer', 0)).toEqual({ value: 0 });
  });
});
