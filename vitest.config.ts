import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Build dist/ first: the CLI tests run bin/eformer.js.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run files one at a time so onnxruntime sessions do not fight.
    fileParallelism: false,
  },
});
