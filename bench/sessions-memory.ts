// Session memory, measured on a real gateway process through its HTTP API:
//  1. heap bytes per session at 10 turns: N sessions created with POST /v1/sessions, each given 10 turns with
//     POST /v1/sessions/{id}/messages against the simulator; heap delta / N;
//  2. the heap while 1,000,000 sessions are created with POST /v1/sessions (a small imported history each) under
//     SESSION_MAX_BYTES=64 MiB, sampled every 50,000 creations.
// Heap figures come from the gateway's own /metrics (prom-client's nodejs_heap_size_used_bytes). "After GC" figures
// are taken after a full GC forced from outside through the V8 inspector (the gateway runs with
// --inspect=127.0.0.1:0; HeapProfiler.collectGarbage); the production code is not changed for the benchmark.

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { Pool, WebSocket } from "undici";
import { CLI, freePort, startCli, type Child } from "./processes.js";
import { int, type BenchSection } from "./section.js";

const TURNS = 10;
const PER_SESSION_SAMPLE = Number(process.env["BENCH_SESSION_SAMPLE"] ?? 2_000);
const CREATES = Number(process.env["BENCH_SESSIONS"] ?? 1_000_000);
const SAMPLE_EVERY = Math.min(50_000, Math.max(1, Math.floor(CREATES / 10)));
const CONCURRENCY = 64;
const MAX_BYTES = 64 * 1024 * 1024;
const MAX_SESSIONS = 2_000_000;
const FIXED_OVERHEAD = 16 * 1024 * 1024;
const GATEWAY_KEY = "bench-key";
const MODEL = "gemini-2.5-flash";

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child this section spawns, killed on exit whatever happens. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

interface Gateway extends Child {
  /** Full GC in the gateway process (V8 inspector), then its /metrics. */
  metricsAfterGc(): Promise<Metrics>;
  metrics(): Promise<Metrics>;
}

type Metrics = Map<string, number>;

/** `node --inspect=127.0.0.1:0 dist/cli.js serve` on a free port, LOG_LEVEL=warn (so no per-request log line). */
async function startGateway(env: Record<string, string>): Promise<Gateway> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--inspect=127.0.0.1:0", CLI, "serve", "--port", String(port), "--host", "127.0.0.1"], {
    env: { ...process.env, LOG_LEVEL: "warn", GATEWAY_KEYS: `${GATEWAY_KEY}:bench`, GEMINI_API_KEY: "upstream-key", ...env },
    stdio: ["ignore", "inherit", "pipe"],
  });
  children.add(child);
  let err = "";
  const inspectorUrl = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (data: Buffer) => {
      err += data.toString();
      const match = /Debugger listening on (ws:\/\/\S+)/.exec(err);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  child.stderr!.on("data", (data: Buffer) => {
    const text = data.toString();
    if (!/Debugger|For help, see|inspector/.test(text)) process.stderr.write(text);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || i > 200) throw new Error(`serve did not become ready: ${err}`);
    await sleep(50);
  }
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`inspector ${inspectorUrl}: cannot connect`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, () => void>();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number };
    if (message.id !== undefined) pending.get(message.id)?.();
  });
  const collectGarbage = async (): Promise<void> => {
    const id = nextId++;
    const done = new Promise<void>((resolve) => pending.set(id, resolve));
    ws.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }));
    await done;
    pending.delete(id);
  };
  const metrics = async (): Promise<Metrics> => parseMetrics(await (await fetch(`${url}/metrics`)).text());
  return {
    url,
    pid: child.pid!,
    metrics,
    async metricsAfterGc() {
      await collectGarbage();
      await collectGarbage();
      return metrics();
    },
    async stop() {
      ws.close();
      if (child.exitCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

/** `name{labels} value` lines of the Prometheus text format; labelled series under `name{labels}`. */
function parseMetrics(text: string): Metrics {
  const out: Metrics = new Map();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const match = /^(\S+?(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) out.set(match[1]!, Number(match[2]));
  }
  return out;
}

const heapOf = (m: Metrics): number => m.get("nodejs_heap_size_used_bytes") ?? NaN;
const sessionsOf = (m: Metrics): number => m.get("gemini_gateway_sessions") ?? NaN;
const bytesOf = (m: Metrics): number => m.get("gemini_gateway_session_bytes") ?? NaN;
const evictionsOf = (m: Metrics, reason: string): number => m.get(`gemini_gateway_session_evictions_total{reason="${reason}"}`) ?? 0;

const HEADERS = { "content-type": "application/json", "x-goog-api-key": GATEWAY_KEY };

async function post(pool: Pool, path: string, body: unknown, expect: number): Promise<Record<string, unknown>> {
  const res = await pool.request({ method: "POST", path, headers: HEADERS, body: JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode !== expect) throw new Error(`POST ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Runs `count` jobs with `CONCURRENCY` in flight. */
async function parallel(count: number, job: (i: number) => Promise<void>, start = 0): Promise<void> {
  let next = start;
  const end = start + count;
  const worker = async (): Promise<void> => {
    while (next < end) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
}

async function tenTurnSessions(pool: Pool, count: number): Promise<string[]> {
  const ids: string[] = [];
  await parallel(count, async (i) => {
    const { id } = (await post(pool, "/v1/sessions", { model: MODEL }, 201)) as { id: string };
    for (let t = 1; t <= TURNS; t++) {
      await post(pool, `/v1/sessions/${id}/messages`, { message: `session ${i} asks question number ${t}: what happens next?` }, 200);
    }
    ids.push(id);
  });
  return ids;
}

interface PerSession {
  heapPerSession: number;
  accountedPerSession: number;
  baseline: number;
  seconds: number;
}

async function perSession(simUrl: string): Promise<PerSession> {
  const gateway = await startGateway({ GEMINI_BASE_URL: simUrl, SESSION_MAX: String(MAX_SESSIONS), SESSION_MAX_BYTES: String(2 ** 40) });
  const pool = new Pool(gateway.url, { connections: CONCURRENCY });
  try {
    // Warm-up: every code path compiled, pools and metric series created; then those sessions deleted.
    const warm = await tenTurnSessions(pool, 200);
    await parallel(warm.length, async (i) => {
      const res = await pool.request({ method: "DELETE", path: `/v1/sessions/${warm[i]}`, headers: HEADERS });
      await res.body.dump();
    });
    await sleep(1000);
    const before = await gateway.metricsAfterGc();
    const started = performance.now();
    await tenTurnSessions(pool, PER_SESSION_SAMPLE);
    const seconds = (performance.now() - started) / 1000;
    await sleep(1000);
    const after = await gateway.metricsAfterGc();
    return {
      heapPerSession: (heapOf(after) - heapOf(before)) / PER_SESSION_SAMPLE,
      accountedPerSession: bytesOf(after) / sessionsOf(after),
      baseline: heapOf(before),
      seconds,
    };
  } finally {
    await pool.close();
    await gateway.stop();
  }
}

/** The history each of the million sessions imports: 3 turns, replies the length of the simulator's. */
function smallHistory(): unknown[] {
  const history: unknown[] = [];
  for (let t = 1; t <= 3; t++) {
    history.push({ role: "user", parts: [{ text: `question number ${t}: what happens next?` }] });
    history.push({ role: "model", parts: [{ text: `answer ${t}: ${"lorem ipsum dolor sit amet ".repeat(8)}`.trim() }] });
  }
  return history;
}

interface Million {
  baseline: number;
  peakAfterGc: number;
  peakRaw: number;
  samples: string[];
  live: number;
  accounted: number;
  evictedBytes: number;
  evictedCapacity: number;
  rate: number;
  seconds: number;
}

async function million(simUrl: string): Promise<Million> {
  const gateway = await startGateway({ GEMINI_BASE_URL: simUrl, SESSION_MAX: String(MAX_SESSIONS), SESSION_MAX_BYTES: String(MAX_BYTES) });
  const pool = new Pool(gateway.url, { connections: CONCURRENCY });
  const body = JSON.stringify({ model: MODEL, history: smallHistory() });
  const create = async (): Promise<void> => {
    const res = await pool.request({ method: "POST", path: "/v1/sessions", headers: HEADERS, body });
    if (res.statusCode !== 201) throw new Error(`POST /v1/sessions: HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`);
    await res.body.dump();
  };
  try {
    // Warm-up (compiles the create path), then deleted so the baseline is an empty store.
    const warm: string[] = [];
    await parallel(2_000, async () => {
      warm.push(((await post(pool, "/v1/sessions", JSON.parse(body), 201)) as { id: string }).id);
    });
    await parallel(warm.length, async (i) => {
      await (await pool.request({ method: "DELETE", path: `/v1/sessions/${warm[i]}`, headers: HEADERS })).body.dump();
    });
    await sleep(1000);
    const start = await gateway.metricsAfterGc();
    const baseline = heapOf(start);
    let peakAfterGc = 0;
    let peakRaw = 0;
    let creating = 0;
    const samples: string[] = [];
    for (let done = 0; done < CREATES; ) {
      const batch = Math.min(SAMPLE_EVERY, CREATES - done);
      const t0 = performance.now();
      await parallel(batch, create, done);
      creating += performance.now() - t0;
      done += batch;
      const raw = await gateway.metrics();
      const gced = await gateway.metricsAfterGc();
      peakRaw = Math.max(peakRaw, heapOf(raw) - baseline);
      peakAfterGc = Math.max(peakAfterGc, heapOf(gced) - baseline);
      samples.push(
        `| ${int(done)} | ${int(sessionsOf(gced))} | ${mib(bytesOf(gced))} | ${int(evictionsOf(gced, "bytes") - evictionsOf(start, "bytes"))} | ${mib(heapOf(raw) - baseline)} | ${mib(heapOf(gced) - baseline)} |`,
      );
      process.stdout.write(`session memory: ${int(done)} created, heap above baseline ${mib(heapOf(gced) - baseline)} after GC\n`);
    }
    const end = await gateway.metrics();
    return {
      baseline,
      peakAfterGc,
      peakRaw,
      samples,
      live: sessionsOf(end),
      accounted: bytesOf(end),
      evictedBytes: evictionsOf(end, "bytes") - evictionsOf(start, "bytes"),
      evictedCapacity: evictionsOf(end, "capacity") - evictionsOf(start, "capacity"),
      rate: CREATES / (creating / 1000),
      seconds: creating / 1000,
    };
  } finally {
    await pool.close();
    await gateway.stop();
  }
}

export const sessionsMemory: BenchSection = {
  title: "Session memory",
  async run() {
    let sim: Child | undefined;
    let p: PerSession;
    let m: Million;
    try {
      sim = await startCli(["simulate", "--port", "0", "--reply-tokens", "20-40"], {});
      p = await perSession(sim.url);
      process.stdout.write(`session memory: ${int(p.heapPerSession)} heap bytes per session at ${TURNS} turns\n`);
      m = await million(sim.url);
    } finally {
      await sim?.stop();
    }
    const bound = MAX_BYTES + FIXED_OVERHEAD;
    return [
      "Method: everything through the HTTP API of a real gateway process (`node --inspect=127.0.0.1:0 dist/cli.js serve`,",
      "memory store, gateway keys auth, LOG_LEVEL=warn) in front of the simulator (`node dist/cli.js simulate --reply-tokens 20-40`),",
      `from one client process over keep-alive (undici Pool, ${CONCURRENCY} requests in flight). Heap is the gateway's own`,
      "`nodejs_heap_size_used_bytes` from its `/metrics`; \"after GC\" means after two full GCs forced from outside through the V8",
      "inspector (`HeapProfiler.collectGarbage`), so no benchmark hook is in the production code. Sessions held, bytes accounted",
      "and evictions are `gemini_gateway_sessions`, `gemini_gateway_session_bytes` and `gemini_gateway_session_evictions_total`.",
      "",
      `- Heap per session at ${TURNS} turns: **${int(p.heapPerSession)} bytes** (${int(PER_SESSION_SAMPLE)} sessions created with`,
      `  \`POST /v1/sessions\`, each sent ${TURNS} messages with \`POST /v1/sessions/{id}/messages\`; heap after GC before and after,`,
      `  divided by ${int(PER_SESSION_SAMPLE)}, after a warm-up of 200 such sessions deleted again; ${(PER_SESSION_SAMPLE * (TURNS + 1) / p.seconds).toFixed(0)} requests/s).`,
      `  The store accounts ${int(p.accountedPerSession)} bytes per such session against SESSION_MAX_BYTES (its JSON + 256 bytes).`,
      `- ${int(CREATES)} sessions created with \`POST /v1/sessions\` (each importing a 3-turn history) with`,
      `  SESSION_MAX_BYTES=${mib(MAX_BYTES)} and SESSION_MAX=${int(MAX_SESSIONS)} (so bytes, not count, bind):`,
      `  ${int(m.live)} sessions held at the end (${mib(m.accounted)} accounted), ${int(m.evictedBytes)} evicted for bytes,`,
      `  ${int(m.evictedCapacity)} for count; **${int(m.rate)} creations/s** (${m.seconds.toFixed(1)} s of creating).`,
      `- Heap: baseline ${mib(m.baseline)} after warm-up (empty store, after GC); peak above baseline **${mib(m.peakAfterGc)} after GC**,`,
      `  ${mib(m.peakRaw)} as scraped without forcing a GC (garbage not yet collected included). Bound: SESSION_MAX_BYTES`,
      `  + ${mib(FIXED_OVERHEAD)} fixed overhead = ${mib(bound)}: **${m.peakAfterGc <= bound ? "held" : "EXCEEDED"}** after GC` +
        (m.peakRaw <= bound
          ? " (held even without forcing a GC)."
          : "; the heap as scraped, uncollected garbage included, goes above it: V8 lets old space grow before a major GC."),
      "",
      `Sampled every ${int(SAMPLE_EVERY)} creations (creation pauses while sampling):`,
      "",
      "| sessions created | held | accounted | evicted (bytes) | heap above baseline | heap above baseline after GC |",
      "|---:|---:|---:|---:|---:|---:|",
      ...m.samples,
      "",
      "Run this section alone: `npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/bench/run.js session`",
      "(`BENCH_SESSIONS` and `BENCH_SESSION_SAMPLE` set smaller counts for a quick try).",
    ].join("\n");
  },
};
