import { execFileSync } from "node:child_process";

// Tests that spawn the real CLI (SIGTERM, kill -9, replicas) run dist/cli.js: build it once per run.
export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
