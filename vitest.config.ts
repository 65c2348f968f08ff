import { defineConfig } from 'vitest/config';

// Three projects so that a layer can be run alone:
//   unit    - pure logic, milliseconds each, no root needed
//   interop - real daemons (BIRD, FRR, GoBGP, ExaBGP), kernels and namespaces; needs root
//   e2e     - the whole lab; needs root
export default defineConfig({
  test: {
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**', 'test/e2e/**', 'test/**/*.netns.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts', 'test/**/*.netns.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real daemons compete for two cores; run files one after another.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
