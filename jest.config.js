/** One jest config for the whole workspace: each app/package keeps its tests in `test/`. */
const path = require('path');
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias}$`] = path.join(__dirname, target);
}

module.exports = {
  testEnvironment: '<rootDir>/packages/testkit/jest-environment.js',
  roots: ['<rootDir>/apps', '<rootDir>/packages', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper,
  testTimeout: 60_000,
  // Integration suites start their own redis-server and sandbox; two cores cannot run many at once.
  maxWorkers: process.env.CI ? 2 : '50%',
};
