import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Suites start their own servers on ephemeral ports; files run in parallel on the 2 cores.
    pool: "forks",
  },
});
