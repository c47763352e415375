import { execFileSync } from "node:child_process";

// Tests that spawn the real CLI (SIGTERM, kill -9, replicas) run dist/cli.js: build it once per run.
// --noCheck: type errors are reported by `npm run typecheck`; emitting here keeps the two concerns apart.
export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json", "--noCheck"], { stdio: "inherit" });
}
