import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // More forks than cores: the end-to-end files spend most of their minute waiting for real expiries, and four
    // forks let other files run meanwhile (on 2 cores: 7.4 min of vitest instead of about 12 with two).
    maxWorkers: 4,
    testTimeout: 60_000,
    // expect.poll waits up to 15 s (default 1 s): browser tests wait on pages that poll the API with backoff.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 120_000,
    setupFiles: ['test/setup/polyfills.ts'],
    globalSetup: ['test/setup/builds.ts'],
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_DEV: 'false' },
  },
});
