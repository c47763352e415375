// Session message throughput with 1, 2 and 4 gateway replicas on the memory store, on one Redis and on a Redis Cluster
// (3 primaries), all on this machine. For each store, 4 `node dist/cli.js serve` processes in front of one simulator (no
// time to first token, no trickle: the gateway and the store are what is measured), started and warmed up (V8 needs
// thousands of messages per process before it runs at speed); a cell with 1 or 2 replicas sends to the first 1 or 2 of
// them. The load is a closed loop from this process: CLIENTS clients, each sending a message to one of its
// sessions, waiting for the reply, sending the next. Memory store: a session lives in the replica that created it, so
// its messages go there (sticky routing, as a load balancer in front of memory-store replicas must do). Redis stores:
// each message goes to the next replica round-robin (any replica serves any session). History is bounded:
// SESSION_TURN_CAP_POLICY=slide with SESSION_MAX_TURNS=MAX_TURNS, and every session is created holding MAX_TURNS
// exchanges (an imported history), so every message carries a history of the same length.
// The stores are measured one after another; each store's cells are run RUNS times, interleaved (1, 2, 4 replicas, then
// 4, 2, 1, …) so that drift falls on its replica counts alike; the median run is reported. The machine may be shared:
// CPU time is read from /proc for every window, split between the bench's own processes (gateways, simulator, Redis,
// load generator) and everything else; a window in which other processes used more than FOREIGN_LIMIT_CORES is
// measured again (the load keeps running), at most MAX_WINDOWS times per cell and REMEASURE_BUDGET times in all (so a
// busy machine cannot make the section run for long).

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { Pool } from "undici";
import { startRedisCluster, type RedisCluster } from "../test/helpers/redis-deployments.js";
import { CLI, clockTicks, freePort, startCli, type Child } from "./processes.js";
import { deleteKeysUnder } from "./redis-keys.js";
import { int, type BenchSection } from "./section.js";

const REPLICAS = [1, 2, 4] as const;
const MAX_REPLICAS = Math.max(...REPLICAS);
const RUNS = Number(process.env["BENCH_THROUGHPUT_RUNS"] ?? 3);
const MEASURE_SECONDS = Number(process.env["BENCH_THROUGHPUT_SECONDS"] ?? 2);
/** Replies each fresh replica serves before any window: V8 needs thousands of messages to optimise the hot paths (a
 *  fresh replica measured at a third of its later rate). */
const WARM_MESSAGES = Number(process.env["BENCH_THROUGHPUT_WARM"] ?? 2500);
/** Longest a replica's warm-up may take. */
const WARM_LIMIT_SECONDS = 30;
/** Load on a cell's fresh sessions before its window opens: a replica left idle for a while (while other cells are
 *  measured) needs a second or more of load to run at speed again. */
const RAMP_SECONDS = 1.5;
const CLIENTS = 32;
const SESSIONS_PER_CLIENT = 2;
const SESSIONS = CLIENTS * SESSIONS_PER_CLIENT;
const MAX_TURNS = 8;
/** CPU used by processes outside the benchmark during a window, in cores, above which the window is measured again. */
const FOREIGN_LIMIT_CORES = 0.15;
const MAX_WINDOWS = 3;
const REMEASURE_BUDGET = 6;
const MODEL = "gemini-2.0-flash";
const GATEWAY_KEY = "bench-key";
const HEADERS = { "content-type": "application/json", "x-goog-api-key": GATEWAY_KEY };
/** Single Redis: the shared server, in a db and under a key prefix of this benchmark's own, deleted afterwards. */
const REDIS_URL = process.env["BENCH_REDIS_URL"] ?? "redis://127.0.0.1:6379/14";
const PREFIX = `bench-throughput-${process.pid}:`;

/** The history each session is created with: MAX_TURNS exchanges, the model's the length of the simulator's replies. */
const HISTORY = JSON.stringify(
  Array.from({ length: MAX_TURNS }, (_, t) => [
    { role: "user", parts: [{ text: `question number ${t + 1}: what happens next?` }] },
    { role: "model", parts: [{ text: `answer ${t + 1}: ${"lorem ipsum dolor sit amet ".repeat(8)}`.trim() }] },
  ]).flat(),
);

type StoreName = "memory" | "redis" | "cluster";

interface Store {
  name: StoreName;
  label: string;
  /** SESSION_STORE */
  url: string;
  /** Each session's messages go to the replica that created it (memory store), else round-robin over the replicas. */
  sticky: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);


// ---- CPU time, from /proc -------------------------------------------------------------------------------------------

const ROLES = ["gateways", "simulator", "redis", "load generator"] as const;
type Role = (typeof ROLES)[number];

interface CpuSample {
  /** Ticks (1/CLK_TCK s) of user + nice + system time of the whole machine. */
  machine: number;
  /** Ticks spent in interrupts and stolen by the hypervisor (not charged to any process). */
  irqSteal: number;
  /** Ticks (user + system) of the bench's own processes by role. */
  roles: Record<Role, number>;
}

/**
 * The machine's CPU ticks and those of this process and its descendants (gateways, simulator, the cluster's
 * redis-server nodes), plus `extraRedis` (the shared redis-server, by pid). Processes that ended are not counted.
 */
function cpuSample(extraRedis: number | undefined): CpuSample {
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number);
  const processes = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid … utime stime …": comm may hold spaces, so fields are counted after its ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      processes.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // exited meanwhile
    }
  }
  const roles: Record<Role, number> = { gateways: 0, simulator: 0, redis: 0, "load generator": 0 };
  const ours = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 50; p = processes.get(p)?.ppid ?? 0, hops++) if (p === process.pid) return true;
    return false;
  };
  for (const [pid, { ticks }] of processes) {
    let role: Role | undefined;
    if (pid === process.pid) role = "load generator";
    else if (pid === extraRedis) role = "redis";
    else if (ours(pid)) {
      let cmdline = "";
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      } catch {
        // exited meanwhile
      }
      role = cmdline.includes("redis-server") ? "redis" : / serve( |$)/.test(cmdline) ? "gateways" : / simulate( |$)/.test(cmdline) ? "simulator" : "load generator";
    }
    if (role) roles[role] += ticks;
  }
  return { machine: user + nice + system, irqSteal: irq + softirq + steal, roles };
}

interface CpuUse {
  /** Cores (CPU seconds per second) used by the whole machine, interrupts and steal included. */
  machineCores: number;
  /** Cores used by processes outside the bench (the shared Redis counts as the bench's). */
  foreignCores: number;
  /** CPU seconds by role. */
  roles: Record<Role, number>;
}

function cpuBetween(a: CpuSample, b: CpuSample, seconds: number, tick: number): CpuUse {
  const roles = Object.fromEntries(ROLES.map((role) => [role, (b.roles[role] - a.roles[role]) / tick])) as Record<Role, number>;
  const machine = (b.machine - a.machine) / tick;
  return {
    machineCores: (machine + (b.irqSteal - a.irqSteal) / tick) / seconds,
    foreignCores: Math.max(0, machine - sum(Object.values(roles))) / seconds,
    roles,
  };
}

// ---- gateway processes, killed whatever happens ---------------------------------------------------------------------

/** Every gateway this section spawned and has not seen exit. */
const children = new Set<ChildProcess>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const killChildrenSync = (): void => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
};

/** `node dist/cli.js serve` on a free port; LOG_LEVEL=warn prints no "listening" line, so ready = /readyz answers 200. */
async function startGateway(env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, "serve", "--port", String(port), "--host", "127.0.0.1"], {
    env: { ...process.env, LOG_LEVEL: "warn", GATEWAY_KEYS: `${GATEWAY_KEY}:bench`, GEMINI_API_KEY: "upstream-key", ...env },
    stdio: ["ignore", "inherit", "pipe"],
  });
  children.add(child);
  const exited = once(child, "exit");
  void exited.then(() => children.delete(child));
  let err = "";
  child.stderr!.on("data", (data: Buffer) => {
    err += data.toString();
    process.stderr.write(data);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || i > 400) {
      await stop();
      throw new Error(`serve did not become ready: ${err}`);
    }
    await sleep(25);
  }
  return { url, pid: child.pid!, stop };
}

/** MAX_REPLICAS `serve` processes on one store; a cell with fewer replicas uses the first ones. */
async function startReplicas(store: Store, simUrl: string): Promise<Child[]> {
  const env: Record<string, string> = {
    GEMINI_BASE_URL: simUrl,
    SESSION_STORE: store.url,
    SESSION_REDIS_PREFIX: PREFIX,
    SESSION_MAX_TURNS: String(MAX_TURNS),
    SESSION_TURN_CAP_POLICY: "slide",
    // Anything left behind by a run that was killed expires on its own.
    SESSION_TTL_SECONDS: "600",
  };
  const started = await Promise.allSettled(Array.from({ length: MAX_REPLICAS }, () => startGateway(env)));
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<Child>).value);
}

// ---- load -------------------------------------------------------------------------------------------------------

interface Session {
  id: string;
  /** The replica that created it. */
  home: number;
}

/** SESSIONS sessions created round-robin over `pools` (the history they hold: HISTORY). */
async function createSessions(pools: Pool[]): Promise<Session[]> {
  const sessions: Session[] = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      for (let j = 0; j < SESSIONS_PER_CLIENT; j++) {
        const index = k + j * CLIENTS;
        const home = index % pools.length;
        const res = await pools[home]!.request({ method: "POST", path: "/v1/sessions", headers: HEADERS, body: `{"model":"${MODEL}","history":${HISTORY}}` });
        const text = await res.body.text();
        if (res.statusCode !== 200 && res.statusCode !== 201) throw new Error(`POST /v1/sessions: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
        sessions[index] = { id: (JSON.parse(text) as { id: string }).id, home };
      }
    }),
  );
  return sessions;
}

async function deleteSessions(pools: Pool[], sessions: Session[]): Promise<void> {
  await Promise.all(
    sessions.map(async (s) => {
      const res = await pools[s.home]!.request({ method: "DELETE", path: `/v1/sessions/${s.id}`, headers: HEADERS });
      await res.body.dump();
    }),
  );
}

/** Replies other than 200 (or failed requests) by status or error. */
type Failures = Map<string, number>;

interface Load {
  /** 200 replies so far, by replica. */
  served: number[];
  failures: Failures;
  /** Latencies (ms) of the 200 replies completing from now until `end` (performance.now()) go to `into`. */
  record(into: number[], end: number): void;
  /** Lets every client finish its message in flight and stops. */
  stop(): Promise<void>;
}

/** The closed loop: CLIENTS clients, client k alternating between sessions k and k + CLIENTS. */
function startLoad(store: Store, pools: Pool[], sessions: Session[]): Load {
  let recording: number[] | undefined;
  let recordUntil = 0;
  let stopping = false;
  let nextReplica = 0;
  const served = pools.map(() => 0);
  const failures: Failures = new Map();
  const fail = (what: string): void => {
    failures.set(what, (failures.get(what) ?? 0) + 1);
  };
  const client = async (k: number): Promise<void> => {
    for (let sent = MAX_TURNS; !stopping; sent++) {
      const session = sessions[k + (sent % SESSIONS_PER_CLIENT) * CLIENTS]!;
      const replica = store.sticky ? session.home : nextReplica++ % pools.length;
      const body = JSON.stringify({ message: `client ${k} asks question number ${sent}: what happens next?` });
      const t0 = performance.now();
      try {
        const res = await pools[replica]!.request({ method: "POST", path: `/v1/sessions/${session.id}/messages`, headers: HEADERS, body });
        await res.body.text();
        const t1 = performance.now();
        if (res.statusCode !== 200) {
          fail(`HTTP ${res.statusCode}`);
          continue;
        }
        served[replica]!++;
        if (recording && t1 < recordUntil) recording.push(t1 - t0);
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err));
        await sleep(10);
      }
    }
  };
  const loops = Array.from({ length: CLIENTS }, (_, k) => client(k));
  return {
    served,
    failures,
    record(into, end) {
      recording = into;
      recordUntil = end;
    },
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

const addFailures = (into: Failures, from: Failures): void => {
  for (const [what, n] of from) into.set(what, (into.get(what) ?? 0) + n);
};

// ---- warm-up of a store's replicas -----------------------------------------------------------------------------------

interface WarmUp {
  seconds: number;
  /** msg/s over the first second of the first replica (cold) and the last second of the last one (warm). */
  firstRate: number;
  lastRate: number;
  /** Fewest 200 replies a replica served. */
  leastServed: number;
  failures: Failures;
}

/**
 * Load on each replica in turn, alone (the fastest way through: no contention between replicas), until it has served
 * WARM_MESSAGES replies (or WARM_LIMIT_SECONDS passed).
 */
async function warmUp(store: Store, gateways: Child[]): Promise<WarmUp> {
  const start = performance.now();
  const failures: Failures = new Map();
  let firstRate = NaN;
  let lastRate = NaN;
  let leastServed = Infinity;
  for (const gateway of gateways) {
    const pools = [new Pool(gateway.url, { connections: CLIENTS })];
    try {
      const sessions = await createSessions(pools);
      const load = startLoad(store, pools, sessions);
      const replicaStart = performance.now();
      let secondStart = replicaStart;
      let secondCount = 0;
      try {
        while (load.served[0]! < WARM_MESSAGES && performance.now() - replicaStart < WARM_LIMIT_SECONDS * 1000) {
          await sleep(100);
          if (performance.now() - secondStart >= 1000) {
            const rate = ((load.served[0]! - secondCount) * 1000) / (performance.now() - secondStart);
            if (Number.isNaN(firstRate)) firstRate = rate;
            lastRate = rate;
            secondStart = performance.now();
            secondCount = load.served[0]!;
          }
        }
      } finally {
        await load.stop();
      }
      await deleteSessions(pools, sessions);
      leastServed = Math.min(leastServed, load.served[0]!);
      addFailures(failures, load.failures);
    } finally {
      await pools[0]!.close();
    }
  }
  return { seconds: (performance.now() - start) / 1000, firstRate, lastRate, leastServed, failures };
}

// ---- one cell -----------------------------------------------------------------------------------------------------

interface Measure {
  /** CLK_TCK, for /proc times. */
  tick: number;
  sharedRedisPid: number | undefined;
  /** Windows that may still be measured again, section-wide. */
  remeasures: number;
}

interface CellRun {
  store: StoreName;
  replicas: number;
  /** 200 replies completed in the window kept, per second. */
  rate: number;
  /** Latency (ms) of each 200 reply completed in the window kept. */
  latencies: number[];
  cpu: CpuUse;
  /** Windows measured again because of CPU used outside the bench. */
  discarded: number;
  failures: Failures;
}

/** Fresh sessions on the first `replicas` gateways, RAMP_SECONDS of load, then the window(s). */
async function measureCell(store: Store, replicas: number, gateways: Child[], measure: Measure): Promise<CellRun> {
  const pools = gateways.slice(0, replicas).map((g) => new Pool(g.url, { connections: CLIENTS }));
  try {
    const sessions = await createSessions(pools);
    const load = startLoad(store, pools, sessions);
    const windows: Array<{ latencies: number[]; cpu: CpuUse }> = [];
    try {
      await sleep(RAMP_SECONDS * 1000);
      while (windows.length < MAX_WINDOWS) {
        const before = cpuSample(measure.sharedRedisPid);
        const latencies: number[] = [];
        const start = performance.now();
        const end = start + MEASURE_SECONDS * 1000;
        load.record(latencies, end);
        await sleep(MEASURE_SECONDS * 1000);
        await sleep(Math.max(0, end - performance.now()));
        const seconds = (performance.now() - start) / 1000;
        const cpu = cpuBetween(before, cpuSample(measure.sharedRedisPid), seconds, measure.tick);
        windows.push({ latencies, cpu });
        if (cpu.foreignCores <= FOREIGN_LIMIT_CORES || measure.remeasures === 0) break;
        if (windows.length < MAX_WINDOWS) measure.remeasures--;
      }
    } finally {
      await load.stop();
    }
    await deleteSessions(pools, sessions);
    // The window kept: the first within the limit, else the least disturbed.
    const kept = windows.reduce((best, w) => (w.cpu.foreignCores < best.cpu.foreignCores ? w : best));
    return {
      store: store.name,
      replicas,
      rate: kept.latencies.length / MEASURE_SECONDS,
      latencies: kept.latencies,
      cpu: kept.cpu,
      discarded: windows.length - 1,
      failures: load.failures,
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

// ---- figures ------------------------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);

async function redisInfo(client: Redis): Promise<{ version: string; pid: number | undefined }> {
  const info = await client.info("server");
  const pid = /^process_id:(\d+)/m.exec(info)?.[1];
  return { version: /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown", pid: pid === undefined ? undefined : Number(pid) };
}


/** deleteKeysUnder(PREFIX) for a signal handler (synchronous: the process is ending), with redis-cli; best effort. */
function deleteOwnKeysSync(): void {
  try {
    const keys = execFileSync("redis-cli", ["-u", REDIS_URL, "--scan", "--pattern", `${PREFIX}*`], { encoding: "utf8", timeout: 5000 }).split("\n").filter(Boolean);
    for (let i = 0; i < keys.length; i += 500) execFileSync("redis-cli", ["-u", REDIS_URL, "DEL", ...keys.slice(i, i + 500)], { timeout: 5000 });
  } catch {
    // the keys expire anyway (SESSION_TTL_SECONDS; the gone-markers after a day)
  }
}

function nproc(): number {
  try {
    return Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    return cpus().length;
  }
}

export const sessionsThroughput: BenchSection = {
  // No "session" in the title: `run.js session` keeps running the session memory section alone.
  title: "Message throughput by store and replicas",
  async run() {
    const sectionStart = performance.now();
    const loadAtStart = loadavg()[0]!;
    // A signal ends the bench without "exit" hooks running unless someone handles it: kill the gateways and the
    // simulator, delete the keys, then exit (which runs the Redis Cluster helper's own exit hook, killing its nodes).
    let sim: Child | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      killChildrenSync();
      void sim?.stop();
      deleteOwnKeysSync();
      process.exit(128 + (signal === "SIGHUP" ? 1 : signal === "SIGINT" ? 2 : 15));
    };
    process.on("exit", killChildrenSync);
    for (const signal of SIGNALS) process.on(signal, onSignal);

    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    let cluster: RedisCluster | undefined;
    const replicasOf = new Map<StoreName, Child[]>();
    const warmUps = new Map<StoreName, WarmUp>();
    const runs: CellRun[] = [];
    let versions: { single: string; cluster: string };
    try {
      await redis.connect();
      if ((await deleteKeysUnder(redis, PREFIX)) > 0) throw new Error(`keys under ${PREFIX} already in ${REDIS_URL}`);
      const shared = await redisInfo(redis);
      cluster = await startRedisCluster({ primaries: 3 });
      const clusterClient = new Redis(cluster.nodes()[0]!.port, "127.0.0.1", { lazyConnect: true });
      try {
        await clusterClient.connect();
        versions = { single: shared.version, cluster: (await redisInfo(clusterClient)).version };
      } finally {
        clusterClient.disconnect();
      }
      sim = await startCli(["simulate", "--port", "0"], {});
      const measure: Measure = { tick: clockTicks(), sharedRedisPid: shared.pid, remeasures: REMEASURE_BUDGET };

      const stores: Store[] = [
        { name: "memory", label: "memory", url: "memory", sticky: true },
        { name: "redis", label: "single Redis", url: REDIS_URL, sticky: false },
        { name: "cluster", label: "Redis Cluster", url: cluster.url, sticky: false },
      ];
      // One store after another: its replicas started, warmed up, then its cells run RUNS times, interleaved, and the
      // replicas stopped. Interleaving the stores too would leave each store's gateways idle for a minute at a time, and
      // a gateway left idle that long runs markedly slower for several seconds after.
      for (const store of stores) {
        const t0 = performance.now();
        const gateways = await startReplicas(store, sim.url);
        replicasOf.set(store.name, gateways);
        const started = (performance.now() - t0) / 1000;
        const warm = await warmUp(store, gateways);
        warmUps.set(store.name, warm);
        process.stdout.write(
          `message throughput: ${store.label}: ${MAX_REPLICAS} replicas started in ${started.toFixed(1)} s, warmed in ${warm.seconds.toFixed(1)} s ` +
            `(${int(warm.firstRate)} msg/s in the first second, ${int(warm.lastRate)} in the last)\n`,
        );
        for (let run = 0; run < RUNS; run++) {
          for (const replicas of run % 2 === 0 ? REPLICAS : [...REPLICAS].reverse()) {
            const result = await measureCell(store, replicas, gateways, measure);
            runs.push(result);
            process.stdout.write(
              `message throughput: ${store.label}, run ${run + 1}, ${replicas} replica(s): ${int(result.rate)} msg/s, ${sum(result.failures.values())} non-200, ` +
                `cores busy ${result.cpu.machineCores.toFixed(2)} (outside the bench ${result.cpu.foreignCores.toFixed(2)}), CPU ms/message ` +
                ROLES.map((role) => `${role} ${((result.cpu.roles[role] * 1000) / result.latencies.length).toFixed(2)}`).join(", ") +
                `${result.discarded > 0 ? ` (${result.discarded} window(s) measured again)` : ""}\n`,
            );
          }
        }
        await Promise.all(gateways.map((g) => g.stop()));
      }
    } finally {
      await Promise.all([...replicasOf.values()].flat().map((g) => g.stop()));
      await sim?.stop();
      killChildrenSync();
      await cluster?.stop();
      if (redis.status === "ready") {
        const deleted = await deleteKeysUnder(redis, PREFIX);
        process.stdout.write(`message throughput: deleted ${deleted} keys under ${PREFIX} in ${REDIS_URL}\n`);
      }
      redis.disconnect();
      process.off("exit", killChildrenSync);
      for (const signal of SIGNALS) process.off(signal, onSignal);
    }
    const seconds = (performance.now() - sectionStart) / 1000;

    const labels: Record<StoreName, string> = { memory: "memory (sticky)", redis: "single Redis", cluster: "Redis Cluster, 3 primaries" };
    const of = (store: StoreName, replicas: number): CellRun[] => runs.filter((r) => r.store === store && r.replicas === replicas);
    const main: string[] = [];
    const detail: string[] = [];
    const cpuRows: string[] = [];
    let totalFailures = 0;
    let totalDiscarded = 0;
    let worstForeign = 0;
    const gatewayRunMs = (r: CellRun): number => (r.cpu.roles.gateways * 1000) / r.latencies.length;
    for (const store of ["memory", "redis", "cluster"] as const) {
      const warm = warmUps.get(store)!;
      const mainCells: string[] = [];
      const detailCells: string[] = [];
      for (const replicas of REPLICAS) {
        const cell = of(store, replicas);
        const sorted = cell.flatMap((r) => r.latencies).sort((a, b) => a - b);
        mainCells.push(`**${int(median(cell.map((r) => r.rate)))} msg/s**, p50 ${percentile(sorted, 50).toFixed(1)} / p99 ${percentile(sorted, 99).toFixed(1)} ms`);
        const failures: Failures = new Map();
        for (const r of cell) addFailures(failures, r.failures);
        const count = sum(failures.values());
        totalFailures += count;
        const failText = count === 0 ? "0" : `**${count}** (${[...failures].map(([what, n]) => `${n} × ${what}`).join(", ")})`;
        detailCells.push(`${cell.map((r) => `${int(r.rate)} (${gatewayRunMs(r).toFixed(2)})`).join(" / ")}; ${failText}`);
        // CPU per message over the kept windows of all runs.
        const messages = sum(cell.map((r) => r.latencies.length));
        const perMessage = (role: Role): string => ((sum(cell.map((r) => r.cpu.roles[role])) * 1000) / messages).toFixed(2);
        const foreign = cell.map((r) => r.cpu.foreignCores);
        worstForeign = Math.max(worstForeign, ...foreign);
        totalDiscarded += sum(cell.map((r) => r.discarded));
        cpuRows.push(
          `| ${labels[store]} | ${replicas} | ${ROLES.map(perMessage).join(" | ")} | ${median(cell.map((r) => r.cpu.machineCores)).toFixed(2)} | ${foreign.map((f) => (f > FOREIGN_LIMIT_CORES ? `**${f.toFixed(2)}**` : f.toFixed(2))).join(" / ")} |`,
        );
      }
      const warmFailures = sum(warm.failures.values());
      totalFailures += warmFailures;
      main.push(`| ${labels[store]} | ${mainCells.join(" | ")} |`);
      detail.push(
        `| ${labels[store]} | ${detailCells.join(" | ")} | ${warm.seconds.toFixed(1)} s, ${int(warm.firstRate)} → ${int(warm.lastRate)} msg/s, ` +
          `${warm.leastServed < WARM_MESSAGES ? `**only ${int(warm.leastServed)}**` : `≥ ${int(WARM_MESSAGES)}`} per replica; ${warmFailures === 0 ? "0" : `**${warmFailures}**`} |`,
      );
    }
    const cores = nproc();
    const drift = Array.from({ length: RUNS }, (_, k) => {
      const ratios = (["memory", "redis", "cluster"] as const).flatMap((st) =>
        REPLICAS.map((replicas) => {
          const cell = of(st, replicas);
          return cell[k]!.rate / median(cell.map((r) => r.rate));
        }),
      );
      return sum(ratios) / ratios.length;
    });
    const coresBusy = (replicas: number): number => median(runs.filter((r) => r.replicas === replicas).map((r) => r.cpu.machineCores));
    const gatewayMs = (store: StoreName, replicas: number): number => {
      const cell = of(store, replicas);
      return (sum(cell.map((r) => r.cpu.roles.gateways)) * 1000) / sum(cell.map((r) => r.latencies.length));
    };
    return [
      `Closed loop: ${CLIENTS} clients in one load-generator process (this bench; undici keep-alive pools, one per replica),`,
      `each sending \`POST /v1/sessions/{id}/messages\` to one of its ${SESSIONS_PER_CLIENT} sessions in turn, waiting for the reply, then`,
      `sending the next. Gateways: \`node dist/cli.js serve\` (gateway keys auth, LOG_LEVEL=warn), all in front of one simulator`,
      "(`node dist/cli.js simulate`: no time to first token, no trickle, replies of 20-80 tokens), so the gateway and its store",
      "are what is measured.",
      "",
      `- Replicas: one store after another, ${MAX_REPLICAS} gateway processes are started and warmed up: the same load on each alone`,
      `  until it has served ${int(WARM_MESSAGES)} messages (a fresh process runs at a fraction of its later rate until V8 has optimised`,
      "  the hot paths: see the warm-up column below). Then the store's cells are measured and its gateways stopped. The 1-",
      `  and 2-replica cells send to the first 1 or 2 gateways; the others stay idle, their CPU counted in the gateways column.`,
      `- Each cell: ${SESSIONS} fresh sessions, created with \`POST /v1/sessions\` round-robin over the cell's replicas, then`,
      `  ${RAMP_SECONDS} s of load (a replica left idle while other cells ran took a second or more to run at speed again),`,
      "  then the window. The sessions are deleted after the cell.",
      "- Routing: **memory** store sessions live in the replica that created them, so every message of a session goes to",
      "  that replica (sticky routing, which a load balancer in front of memory-store replicas needs). **Redis** stores:",
      "  every message goes to the next replica round-robin, whichever replica created the session.",
      `- History bounded: SESSION_TURN_CAP_POLICY=slide with SESSION_MAX_TURNS=${MAX_TURNS}, and each session is created holding`,
      `  ${MAX_TURNS} exchanges (an imported \`history\`, replies about the simulator's length), so every message sends the ${MAX_TURNS - 1}`,
      "  previous exchanges plus the new one upstream and the oldest exchange slides out: later turns cost what the first do.",
      `- msg/s: 200 replies completed in a ${MEASURE_SECONDS} s window, divided by ${MEASURE_SECONDS} s; the median of ${RUNS} runs. A store's`,
      `  cells are interleaved run by run (${REPLICAS.join(", ")} replicas, then ${[...REPLICAS].reverse().join(", ")}, then ${REPLICAS.join(", ")}), so that what drifts while`,
      "  the store is measured falls on its replica counts alike. The stores are not interleaved with each other: that would",
      "  leave each store's gateways idle for a minute at a time, and a gateway idle that long ran markedly slower for several",
      "  seconds after (seen while writing this benchmark); so drift between the stores' turns is not balanced out (the CPU",
      "  used outside the bench is watched, below). p50/p99: latency of every message completed in the windows of all runs,",
      "  pooled.",
      `- Stores: memory; single Redis ${versions.single} (the shared server on this machine, \`${REDIS_URL}\`, keys under a`,
      `  prefix of the bench's own, deleted afterwards); Redis Cluster ${versions.cluster} of 3 primaries and no replicas, started by`,
      "  the bench on free ports (test/helpers/redis-deployments.ts, nothing persisted) and stopped afterwards.",
      `- CPU: read from /proc for every window: the machine's, and each process's of the bench. A window in which processes`,
      `  outside the bench (the machine is shared) used more than ${FOREIGN_LIMIT_CORES} cores is measured again while the load goes on,`,
      `  at most ${MAX_WINDOWS} windows per cell and ${REMEASURE_BUDGET} re-measures in all, keeping the least disturbed. This run:`,
      `  ${totalDiscarded} window(s) measured again; the most CPU used outside the bench in a window kept: ${worstForeign.toFixed(2)} cores.`,
      `  1-minute load average when the section started: ${loadAtStart.toFixed(2)}.`,
      "",
      `Machine: ${cores} cores (\`nproc\`), ${cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
      `With ${cores} cores, the gateway replicas share them with the load generator, the simulator and Redis (one`,
      "redis-server, or the three of the cluster). One replica is one Node event loop and can use about one core; 2 and 4",
      "replicas compete for the same cores as everything else. These figures show that contention on this machine, not how",
      "the gateway scales out on bigger hardware or across machines.",
      "",
      "| store | 1 replica | 2 replicas | 4 replicas |",
      "|---|---|---|---|",
      ...main,
      "",
      "Each run's msg/s (in brackets: the gateways' CPU ms per message in that window) and the replies other than 200 over",
      "all runs; the warm-up (its time, msg/s over the first second of the first replica and the last second of the last",
      `one, messages per replica, replies other than 200). Each run's msg/s against its cell's median, averaged over the`,
      `${REPLICAS.length * 3} cells: ${drift.map((d, k) => `run ${k + 1} ${Math.round(d * 100)}%`).join(", ")}.`,
      "",
      "| store | 1 replica | 2 replicas | 4 replicas | warm-up |",
      "|---|---|---|---|---|",
      ...detail,
      "",
      "Where the CPU went (CPU ms per message, over the windows kept, all gateway processes included, idle ones too; cores",
      "busy: the median window's whole machine, interrupts included; outside the bench: each run's window, in bold above",
      `the ${FOREIGN_LIMIT_CORES}-core limit). Cores busy, median over stores and runs: ${REPLICAS.map((k) => `${coresBusy(k).toFixed(2)} with ${k} replica${k > 1 ? "s" : ""}`).join(", ")}`,
      `(of ${cores}). Gateway CPU per message with ${MAX_REPLICAS} replicas against 1: ${(["memory", "redis", "cluster"] as const).map((st) => `${labels[st]} ×${(gatewayMs(st, MAX_REPLICAS) / gatewayMs(st, 1)).toFixed(1)}`).join(", ")}.`,
      "",
      `| store | replicas | ${ROLES.join(" | ")} | cores busy | outside the bench (cores) |`,
      "|---|---:|---:|---:|---:|---:|---:|---|",
      ...cpuRows,
      "",
      `Replies other than 200: ${totalFailures === 0 ? "none" : `**${totalFailures}**`}. Section run time: ${seconds.toFixed(0)} s.`,
      "Run this section alone: `npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/bench/run.js throughput`",
      "(`BENCH_THROUGHPUT_SECONDS`, `BENCH_THROUGHPUT_RUNS` and `BENCH_THROUGHPUT_WARM` change the window, the number of runs and",
      "the warm-up messages per replica).",
    ].join("\n");
  },
};
