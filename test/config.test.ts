import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_SECRET_KEY, parseConfig } from '../src/config.js';

describe('parseConfig', () => {
  it('fills every default from an empty environment', () => {
    const config = parseConfig({});

    expect(config.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/sitewire');
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.PORT).toBe(3000);
    expect(config.LOG_DIR).toBe('./logs');
    expect(config.RECONCILE_INTERVAL_MS).toBe(30_000);
    expect(config.ROLES).toEqual(['api', 'supervisor', 'worker']);
    expect(config.secretKey).toBe(DEVELOPMENT_SECRET_KEY);
    expect(config.usesDevelopmentSecret).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads roles as a comma separated list and treats blank values as unset', () => {
    const config = parseConfig({ ROLES: 'worker, api', PORT: '', SECRET_KEY: 'x'.repeat(32) });

    expect(config.ROLES).toEqual(['worker', 'api']);
    expect(config.PORT).toBe(3000);
    expect(config.usesDevelopmentSecret).toBe(false);
  });

  it('lists every problem of a bad environment in one error', () => {
    const attempt = () =>
      parseConfig({
        DATABASE_URL: 'not a url',
        PORT: 'eighty',
        ROLES: 'api,janitor',
        RECONCILE_INTERVAL_MS: '-5',
        SECRET_KEY: 'short',
      });

    expect(attempt).toThrow(ConfigError);
    const problems = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    })();
    const fields = problems.map((problem) => problem.split(':')[0]);
    expect(fields).toEqual(
      expect.arrayContaining([
        'DATABASE_URL',
        'PORT',
        'ROLES.1',
        'RECONCILE_INTERVAL_MS',
        'SECRET_KEY',
      ]),
    );
    expect(problems).toHaveLength(5);
  });
});
