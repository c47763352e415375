// What a tenant's limits add to a call's latency. Four gateways in front of one simulator, all with the same key in a
// tenants file (GATEWAY_CONFIG): keys only (no limits) or with every limit set so high it never trips, on the memory
// store or on Redis (the shared server, a db and a key prefix of this bench's own, deleted afterwards). Redis without
// limits separates what the Redis store costs a unary call anyway from what the limits' script adds. The load is the
// latency bench's (bench/proxy-latency.ts): open loop, unary generateContent, the gateways side by side
// (bench/side-by-side.ts): they take turns in blocks of BLOCK_SECONDS (the order reversed every other block), so that
// drift and bursts of other work on the shared machine fall on all of them alike; ROUNDS rounds of SECONDS per gateway,
// each giving a p50 and a p99 per gateway; the table shows their medians over the rounds.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { deleteKeysUnder } from "./redis-keys.js";
import { machineLine, ms, RATE, TARGETS } from "./proxy-latency.js";
import { roundsTable, sideBySide, signed, type Round } from "./side-by-side.js";
import { int, type BenchSection } from "./section.js";

const ROUNDS = Number(process.env["BENCH_LIMIT_ROUNDS"] ?? 7);
const SECONDS = Number(process.env["BENCH_LIMIT_SECONDS"] ?? 3);
/** A round: each gateway in turn for a block, SECONDS / BLOCK_SECONDS times. */
const BLOCK_SECONDS = 1;
/** Per gateway at start: V8 has not optimised the hot paths of a fresh process yet. */
const WARMUP_SECONDS = 5;
const GATEWAY_KEY = "bench-key";
const TENANT = "bench";
const REDIS_URL = "redis://127.0.0.1:6379/15";
const PREFIX = `bench-limits-${process.pid}:`;
const UNARY = TARGETS.find((target) => target.name === "unary")!.path;

/** Every limit the tenants file knows, far above what the bench sends, so none ever trips. */
const LIMITS = {
  requestsPerMinute: 1_000_000_000,
  tokensPerMinute: 1_000_000_000_000,
  usdPerDay: 1_000_000,
  usdPerMonth: 1_000_000,
  concurrentRequests: 100_000,
};

interface Config {
  store: "memory" | "Redis";
  limits: boolean;
}

const CONFIGS: Config[] = [
  { store: "memory", limits: false },
  { store: "memory", limits: true },
  { store: "Redis", limits: false },
  { store: "Redis", limits: true },
];

const label = (config: Config): string => `${config.store}, ${config.limits ? "limits" : "no limits"}`;

function tenantsFile(limits: boolean): string {
  const lines = ["tenants:", `  ${TENANT}:`, `    keys: [${GATEWAY_KEY}]`];
  if (limits) lines.push("    limits:", ...Object.entries(LIMITS).map(([name, value]) => `      ${name}: ${value}`));
  return `${lines.join("\n")}\n`;
}

export const limitChecks: BenchSection = {
  title: "Tenant limit checks",
  async run() {
    const sectionStart = performance.now();
    const loadAtStart = loadavg()[0]!;
    const dir = mkdtempSync(join(tmpdir(), "bench-limits-"));
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const contenders = CONFIGS.map((config) => ({
      label: label(config),
      env: {
        GATEWAY_CONFIG: join(dir, `${config.limits ? "limits" : "keys"}.yaml`),
        ...(config.store === "Redis" ? { SESSION_STORE: REDIS_URL, SESSION_REDIS_PREFIX: PREFIX } : {}),
      },
    }));
    let rounds: Round[][];
    let summary: Round[];
    let redisVersion = "unknown";
    let limitKeys = 0;
    try {
      await redis.connect();
      if ((await deleteKeysUnder(redis, PREFIX)) > 0) throw new Error(`keys under ${PREFIX} already in ${REDIS_URL}`);
      redisVersion = /^redis_version:(\S+)/m.exec(await redis.info("server"))?.[1] ?? "unknown";
      for (const limits of [false, true]) writeFileSync(join(dir, `${limits ? "limits" : "keys"}.yaml`), tenantsFile(limits));
      ({ rounds, summary } = await sideBySide({
        name: "limit checks",
        contenders,
        key: GATEWAY_KEY,
        path: UNARY,
        rounds: ROUNDS,
        seconds: SECONDS,
        blockSeconds: BLOCK_SECONDS,
        warmupSeconds: WARMUP_SECONDS,
      }));
      // The limits on Redis were counted there (the script ran): their keys exist under the prefix.
      limitKeys = (await redis.keys(`${PREFIX}lim:*`)).length;
      if (limitKeys === 0) throw new Error(`no limit counters under ${PREFIX}lim: in ${REDIS_URL}: the limits were not checked on Redis`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (redis.status === "ready") {
        const deleted = await deleteKeysUnder(redis, PREFIX);
        process.stdout.write(`limit checks: deleted ${deleted} keys under ${PREFIX} in ${REDIS_URL}\n`);
      }
      redis.disconnect();
    }
    const seconds = (performance.now() - sectionStart) / 1000;

    const base = summary[0]!;
    const rows = CONFIGS.map((config, i) => {
      const s = summary[i]!;
      const added = (value: number): string => (i === 0 ? "(baseline)" : `**${signed(value)}**`);
      return (
        `| ${config.store} | ${config.limits ? "all five, never reached" : "none (keys only)"} | ${ms(s.p50)} | ${added(s.p50 - base.p50)} | ${ms(s.p99)} | ` +
        `${added(s.p99 - base.p99)} | ${ms(s.ownP50)} | ${i === 0 ? "(baseline)" : signed(s.ownP50 - base.ownP50)} | ${ms(s.cpuMs)} |`
      );
    });
    const checks = (store: Config["store"]): string => {
      const without = summary[CONFIGS.findIndex((c) => c.store === store && !c.limits)]!;
      const withLimits = summary[CONFIGS.findIndex((c) => c.store === store && c.limits)]!;
      return (
        `${store} **${signed(withLimits.p50 - without.p50)}** p50, ${signed(withLimits.p99 - without.p99)} p99, ` +
        `${signed(withLimits.ownP50 - without.ownP50)} gateway's own p50, ${signed(withLimits.cpuMs - without.cpuMs)} CPU per call`
      );
    };
    return [
      `Four gateways (\`node dist/cli.js serve\`, LOG_LEVEL=info) in front of one simulator (\`node dist/cli.js simulate\`: no time to`,
      "first token, replies of 20-80 tokens), each with the same key in a tenants file (GATEWAY_CONFIG): keys only, or with",
      "every limit the file knows set far above the load, so none trips:",
      `${Object.entries(LIMITS).map(([name, value]) => `${name} ${int(value)}`).join(", ")};`,
      `on the memory store, or on Redis ${redisVersion} (\`SESSION_STORE=${REDIS_URL}\`, the shared server, keys under a prefix of the`,
      "bench's own, deleted afterwards; one Lua script per admission, one when the call settles). Redis without limits",
      "separates what the Redis store costs a call anyway from what the limit checks add.",
      "",
      `Method: the latency bench's open-loop load, unary \`generateContent\` at ${RATE} requests/s from one client process over`,
      `keep-alive connections; ${WARMUP_SECONDS} s of warm-up per gateway, then ${ROUNDS} rounds of ${SECONDS} s per gateway (${int(RATE * SECONDS)} calls each),`,
      `the gateways taking turns in ${BLOCK_SECONDS}-s blocks (the order reversed every other block), so all see the same machine.`,
      "p50 and p99: each round's percentiles of the whole answer's latency, then their median over the rounds; added: against",
      "the memory store without limits. Gateway's own p50: its `Server-Timing` (gateway − upstream), which holds the",
      "admission; CPU: the gateway's `process_cpu_seconds_total` per call (both medians over the rounds too).",
      "",
      machineLine(),
      "Client, simulator, the gateway being loaded and Redis share its cores with whatever else runs there: 1-minute load",
      `average ${loadAtStart.toFixed(2)} when the section started, ${loadavg()[0]!.toFixed(2)} when it ended.`,
      "",
      "| store | limits | p50 | added p50 | p99 | added p99 | gateway's own p50 | added | CPU per call |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|",
      ...rows,
      "",
      `The limit checks alone (with limits against without, same store): ${checks("memory")}; ${checks("Redis")}.`,
      `Limit counters left in Redis by the run (the script did count): ${limitKeys} keys. Section run time: ${seconds.toFixed(0)} s.`,
      "",
      ...roundsTable("store, limits", contenders, rounds),
      "",
      "Run this section alone: `npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/bench/run.js limit`",
      "(`BENCH_LIMIT_ROUNDS` and `BENCH_LIMIT_SECONDS` change the number of rounds and the measured seconds per gateway and round).",
    ].join("\n");
  },
};
