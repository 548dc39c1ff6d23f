import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships ESM (.mjs, via "module") and CommonJS (via "main"). Node (tsx, npm start)
    // and the dependencies that vitest leaves to Node load the CommonJS build; without this
    // alias vitest would give our own source the ESM build, and graphql's instanceof checks
    // fail across the two ("Cannot use GraphQLObjectType from another module or realm").
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // The SDK warns once per process that its 2027 releases need Node 22; tests run on 20 too.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The fault and chaos suites (npm run test:chaos) are separate: see vitest.chaos.config.ts.
    exclude: ['test/chaos/**', 'node_modules/**'],
  },
});
