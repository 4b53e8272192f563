// The suite's limits, sized for the slowest machine it must pass on: a 2-core CI runner with
// two CPU-burning processes beside it (`npm run test:load` makes exactly that). No test may
// depend on how fast the machine is; a limit here only stops a test that is really stuck.

import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Kills, at the end of each file, any child process a beforeAll left running (tests/support).
    setupFiles: ["tests/support/setup.ts"],
    // The slowest tests train or run lth many times: the slowest single test took 61 s on a
    // 2-core machine with little else running, and its file 102 s with two busy loops beside
    // it (`npm run test:load`, whole suite 17 min). Ten minutes is six times that; a test that
    // takes longer is stuck, not slow. Hooks train too (beforeAll runs reference pipelines and
    // loads backends), so they get the same.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    teardownTimeout: 60_000,
    // Files run in child processes (vitest 4's default pool, stated here on purpose): tfjs
    // keeps one global backend per process, and a file's crash or leak stays in its process.
    pool: "forks",
    // Each test file keeps about two cores busy on its own: most start `lth run --jobs 2`
    // (a parent and two worker processes), and the tensor tests use a multi-threaded backend.
    // So one file at a time per two cores: on a 2-core machine the files run one after another
    // (vitest's own default there is one worker too, but it would count cores − 1 elsewhere
    // and oversubscribe: on 4 cores, 3 files × 2 cores), and on a bigger machine several at
    // once.
    maxWorkers: Math.max(1, Math.floor(availableParallelism() / 2)),
  },
});
