// The hot-path changes, each measured against the build before it: every revision of CHANGES is checked out into a
// temporary git worktree and built, then all of them run side by side in one run (one simulator, one gateway process
// per revision, the bare pass-through as the yardstick) under the closed loop of the traffic-shapes section, taking
// turns in 1-s blocks (the order reversed every other block). Per revision: the gateway's CPU per call (from /proc)
// and calls/s, medians over rounds. Then where the CPU of a call goes now: this build and the bare pass-through run
// the unary loop under `node --cpu-prof`, and the self time of every sample is summed by the part of the work it
// belongs to (bench/cpu-profile.ts).

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { breakdown, readProfile, WORK_PARTS } from "./cpu-profile.js";
import { CLI, cpuSecondsOf, type Child } from "./processes.js";
import { machineLine } from "./proxy-latency.js";
import { int, type BenchSection } from "./section.js";
import { inTurn, median } from "./side-by-side.js";
import { bareProxy, closedLoop, gateway, simulator, TARGETS_AT_SATURATION, withChildren } from "./traffic-shapes.js";

const ROUNDS = Number(process.env["BENCH_CHANGES_ROUNDS"] ?? 10);
const WARMUP_SECONDS = 3;
const BLOCK_SECONDS = 1;
/** Seconds of unary load each profiled process runs under `--cpu-prof` (after its warm-up). */
const PROFILE_SECONDS = Number(process.env["BENCH_PROFILE_SECONDS"] ?? 8);

/** Each change of the hot path, by the commit that made it; the first row is the build before the first change. */
const CHANGES: Array<{ commit: string; change: string }> = [
  { commit: "26e6874", change: "before (the gateway as issue 16 left it)" },
  { commit: "5622015", change: "the console's turn view and the model route built field by field (no conditional spreads), no date string per turn" },
  { commit: "d4d135e", change: "one AbortController per attempt instead of a call-wide one forwarded to each" },
  { commit: "a532e09", change: "the body nesting check skips strings with indexOf instead of a for-of over every byte" },
  { commit: "d447ca5", change: "a parsed body walked for the resources it names instead of seven byte searches" },
];

const REPOSITORY = fileURLToPath(new URL("../../../", import.meta.url));

const progress = (line: string): void => {
  process.stdout.write(`hot-path changes: ${line}\n`);
};
const us = (ms: number): string => `${Math.round(ms * 1000)} µs`;

interface Build {
  cli: string;
  remove(): void;
}

/** `commit` checked out into a temporary worktree and built (server and console page), sharing node_modules. */
function build(commit: string): Build {
  const dir = mkdtempSync(join(tmpdir(), `gateway-${commit}-`));
  const git = (...args: string[]): string => execFileSync("git", ["-C", REPOSITORY, ...args], { encoding: "utf8" });
  git("worktree", "add", "--detach", dir, commit);
  const remove = (): void => {
    git("worktree", "remove", "--force", dir);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    symlinkSync(join(REPOSITORY, "node_modules"), join(dir, "node_modules"));
    const tsc = join(REPOSITORY, "node_modules", ".bin", "tsc");
    for (const project of ["tsconfig.build.json", "tsconfig.web.json"]) {
      if (existsSync(join(dir, project))) execFileSync(tsc, ["-p", project], { cwd: dir, stdio: "inherit" });
    }
    return { cli: join(dir, "dist", "cli.js"), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

interface Figures {
  cpuMs: number[];
  callsPerSecond: number[];
}

/** The revisions side by side (and the bare pass-through) under the closed loop of one request shape. */
async function revisionsSideBySide(builds: Build[], shape: (typeof TARGETS_AT_SATURATION)[number]): Promise<Figures[]> {
  return withChildren(async (start) => {
    const sim = await start(simulator([]));
    const proxies = [await start(bareProxy(sim.url)), ...(await Promise.all(builds.map((b) => start(gateway(sim.url, {}, b.cli)))))];
    const keys = proxies.map((_, i) => (i === 0 ? "upstream-key" : "bench-key"));
    const pools = proxies.map((p) => new Pool(p.url, { connections: 64 }));
    try {
      // Warmed up taking turns too: one warmed first and then left idle while the others warm up runs slower for a while.
      for (let second = 0; second < WARMUP_SECONDS; second++) {
        for (const i of inTurn([...proxies.keys()], second)) await closedLoop(pools[i]!, shape.path, keys[i]!, 1, shape.body);
      }
      const figures = proxies.map((): Figures => ({ cpuMs: [], callsPerSecond: [] }));
      for (let round = 0; round < ROUNDS; round++) {
        for (const i of inTurn([...proxies.keys()], round)) {
          const before = cpuSecondsOf(proxies[i]!.pid);
          const loop = await closedLoop(pools[i]!, shape.path, keys[i]!, BLOCK_SECONDS, shape.body);
          figures[i]!.cpuMs.push(((cpuSecondsOf(proxies[i]!.pid) - before) * 1000) / loop.calls);
          figures[i]!.callsPerSecond.push(loop.calls / loop.seconds);
        }
      }
      progress(`${shape.name}: ${figures.map((f, i) => `${i === 0 ? "bare" : CHANGES[i - 1]!.commit} ${us(median(f.cpuMs))}/call`).join(", ")}`);
      return figures;
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
    }
  });
}

/** Self time per part of the work and call: the unary loop through `proxy` under --cpu-prof. */
async function profile(startProxy: (upstream: string, nodeFlags: string[]) => Promise<Child>, key: string): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), "gateway-profile-"));
  try {
    let calls = 0;
    await withChildren(async (start) => {
      const sim = await start(simulator([]));
      const proxy = await start(startProxy(sim.url, ["--cpu-prof", `--cpu-prof-dir=${dir}`]));
      const pool = new Pool(proxy.url, { connections: 64 });
      const unary = TARGETS_AT_SATURATION.find((t) => t.name === "unary")!;
      try {
        calls += (await closedLoop(pool, unary.path, key, WARMUP_SECONDS + PROFILE_SECONDS, unary.body)).calls;
      } finally {
        await pool.close();
      }
    }); // the proxy writes its profile as it exits
    const parts = breakdown(readProfile(dir));
    return new Map([...parts].map(([part, ms]) => [part, ms / calls]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const hotPathChanges: BenchSection = {
  title: "Hot-path changes, before and after",
  async run() {
    const builds: Build[] = [];
    const results: Array<{ shape: string; figures: Figures[] }> = [];
    let gatewayParts: Map<string, number>;
    let bareParts: Map<string, number>;
    try {
      for (const { commit } of CHANGES) {
        progress(`building ${commit}`);
        builds.push(build(commit));
      }
      for (const shape of TARGETS_AT_SATURATION) results.push({ shape: shape.name, figures: await revisionsSideBySide(builds, shape) });
      gatewayParts = await profile((upstream, flags) => gateway(upstream, {}, CLI, flags), "bench-key");
      bareParts = await profile((upstream, flags) => bareProxy(upstream, flags), "upstream-key");
    } finally {
      for (const b of builds) b.remove();
    }
    const cpu = (figures: Figures): number => median(figures.cpuMs);
    const rows = CHANGES.map(({ commit, change }, i) => {
      const cells = results.map(({ figures }) => {
        const now = cpu(figures[i + 1]!);
        const delta = i === 0 ? "" : ` (${now >= cpu(figures[i]!) ? "+" : "−"}${us(Math.abs(now - cpu(figures[i]!)))})`;
        return `${us(now)}${delta}, ${int(median(figures[i + 1]!.callsPerSecond))}/s`;
      });
      return `| \`${commit}\` | ${change} | ${cells.join(" | ")} |`;
    });
    const bareRow = `| | bare pass-through (yardstick) | ${results.map(({ figures }) => `${us(cpu(figures[0]!))}, ${int(median(figures[0]!.callsPerSecond))}/s`).join(" | ")} |`;
    const totalOf = (parts: Map<string, number>): number => [...parts.values()].reduce((a, b) => a + b, 0);
    return [
      "Each change to the hot path, measured against the build before it in one run: every commit below is checked out",
      "into a temporary git worktree and built, then one gateway per commit and the bare pass-through run side by side in",
      `front of one simulator, under the closed loop of "Traffic shapes" (32 clients), taking turns in ${BLOCK_SECONDS}-s blocks`,
      `(the order reversed every other round), ${ROUNDS} rounds after ${WARMUP_SECONDS} s of warm-up each, in turns as well. Cell: the proxy's CPU per call (user + system`,
      "from /proc; in brackets the change against the row above), then its calls/s; medians over rounds. The 50 KB history",
      "is a chat of 40 turns re-sent whole, as an app's chat object does. Differences of a few percent are within the",
      "run-to-run noise of a shared 2-core machine; the nesting check shows on the history only, where it did its work.",
      "",
      `Command: \`npm run bench\`, or alone: \`npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/bench/run.js hot-path\`.`,
      machineLine(),
      "",
      `| commit | change | ${results.map((r) => r.shape).join(" | ")} |`,
      `|---|---|${results.map(() => "---:|").join("")}`,
      ...rows,
      bareRow,
      "",
      "### Where a unary call's CPU goes now",
      "",
      `This build and the bare pass-through, each under \`node --cpu-prof\` for ${WARMUP_SECONDS + PROFILE_SECONDS} s of the unary closed loop: the self time of`,
      "every sample summed by the part of the work it belongs to (bench/cpu-profile.ts; start-up and idle left out), per call.",
      "",
      "| part of the work | gateway | bare pass-through |",
      "|---|---:|---:|",
      ...WORK_PARTS.map((part) => `| ${part} | ${us(gatewayParts.get(part) ?? 0)} | ${us(bareParts.get(part) ?? 0)} |`),
      `| **all** | **${us(totalOf(gatewayParts))}** | **${us(totalOf(bareParts))}** |`,
    ].join("\n");
  },
};
