import { execFileSync } from "node:child_process";

// Tests that spawn the real CLI (SIGTERM, kill -9, replicas) run dist/cli.js: build it once per run.
// --noCheck: type errors are reported by `npm run typecheck`; emitting here keeps the two concerns apart.
export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json", "--noCheck"], { stdio: "inherit" });
  // The console page's scripts (served from dist/web/ at /ui/js/): the browser tests load them.
  execFileSync("npx", ["tsc", "-p", "tsconfig.web.json", "--noCheck"], { stdio: "inherit" });
}
