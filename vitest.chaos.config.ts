import { defineConfig } from 'vitest/config';

/**
 * The fault and chaos suites (npm run test:chaos): SDK faults injected at a rate, DynamoDB
 * Local killed and restarted mid-run, hundreds of racing orders. Same alias, environment and
 * DynamoDB Local (global setup) as vitest.config.ts; only test/chaos/**.
 */
export default defineConfig({
  resolve: {
    // See vitest.config.ts: our source and graphql's dependants must share graphql's CommonJS build.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/chaos/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // One file at a time: these suites load the machine (and one kills a DynamoDB Local).
    fileParallelism: false,
  },
});
