import { configDefaults, defineConfig } from 'vitest/config';

// Integration tests share the two cores with PostgreSQL, Redis and brokers, so files run in
// a small fork pool and each test file isolates itself (own database, Redis prefix, topics).
export const vitestConfig = defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault scenarios start their own services and engines: `npm run test:faults`.
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});

// vitest loads the config module's default export; the rest of the code base uses named ones.
// eslint-disable-next-line no-restricted-syntax
export default vitestConfig;
