import { defineConfig } from 'vitest/config';

// The fault scenarios start their own PostgreSQL, Redis, Mosquitto and engine processes, so
// they run one file at a time and get long timeouts; `npm run test:faults` runs them.
export const vitestFaultsConfig = defineConfig({
  test: {
    include: ['test/faults/**/*.faults.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});

// vitest loads the config module's default export; the rest of the code base uses named ones.
// eslint-disable-next-line no-restricted-syntax
export default vitestFaultsConfig;
