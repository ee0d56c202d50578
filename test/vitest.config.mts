import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Tests use real parts (Mosquitto, pcscd + vpcd, ptys, SQLite files, Chromium).
// The machine has 2 cores: two forks in parallel; suites that own a singleton
// resource (vpcd's fixed TCP port) serialise themselves inside one file.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
