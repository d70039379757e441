// Jest's node environment, plus: at teardown (after every hook of the suite), kill the processes the suite started
// that are still alive (packages/testkit/src/children.ts tracks them). A suite that timed out leaves none behind.
const { TestEnvironment } = require('jest-environment-node');

class TestEnvironmentThatCleansUp extends TestEnvironment {
  async teardown() {
    for (const pid of this.global.__mkLiveChildren ?? []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await super.teardown();
  }
}

module.exports = TestEnvironmentThatCleansUp;
