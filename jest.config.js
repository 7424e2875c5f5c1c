/**
 * Jest runs our ESM TypeScript through SWC (types are checked by `npm run typecheck`, not here).
 * `npm test` starts Node with --experimental-vm-modules, which Jest needs for native ESM.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Generous: a test or hook (starting a server runs every migration on a fresh PGlite) must not fail
  // because the machine is busy; a hang still ends the run. Speed lives in bench/, not in timeouts.
  testTimeout: 90_000,
  // Two cores here: one worker per core keeps argon2 and PGlite from starving each other.
  maxWorkers: 2,
};
