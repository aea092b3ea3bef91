import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'shared/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts its own nats-server and database; two at a time suits a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
    pool: 'forks',
  },
});
