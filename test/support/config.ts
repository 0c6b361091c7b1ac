import { parseConfig, type Config } from '../../src/config.js';

/** A configuration for tests: quiet logs, local services, overridable per test. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return parseConfig({
    LOG_LEVEL: 'silent',
    SECRET_KEY: 'test-secret-key-0123456789',
    ...overrides,
  });
}

/** A name unique to this process and moment, safe for databases, prefixes and topics. */
export function uniqueName(label: string): string {
  const random = Math.random().toString(36).slice(2, 8);
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  return `${clean}_${process.pid}_${random}`;
}
