// Traffic shapes: the gateway next to the least a Node proxy can do (bench/bare-proxy.ts, http.request + pipe) and
// next to no proxy at all (the simulator direct), in four shapes of traffic:
//  1. throughput at saturation: a closed loop of CONCURRENCY clients, unary and streaming;
//  2. added median latency: the open-loop load of the latency section (200 requests/s, unary);
//  3. STREAMS slow streams held open at once: proxy memory per open stream, event-loop delay, per-chunk delay;
//  4. a few long fast streams of 2,000 chunks: proxy CPU per chunk.
// Every part runs its contenders in the same run, taking turns (the order reversed every other block or round) so
// that drift and bursts of other work on the shared machine fall on all alike; figures are medians over rounds.
// Proxy CPU time and memory are read from /proc (the bare proxy has no /metrics); the gateway's heap and event-loop
// delay from its /metrics.

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { Pool } from "undici";
import { CLI, clockTicks, cpuSecondsOf, residentBytesOf, startCli, startNode, type Child } from "./processes.js";
import { load, machineLine, ms, once as sendRequest, stats, TARGETS, type Sample } from "./proxy-latency.js";
import { deleteKeysUnder } from "./redis-keys.js";
import { int, type BenchSection } from "./section.js";
import { inTurn, median, metricValues, signed } from "./side-by-side.js";

const env = process.env;
/** Rounds of parts 1, 2 and 4. */
const ROUNDS = Number(env["BENCH_SHAPES_ROUNDS"] ?? 5);
/** Measured seconds per contender and round in parts 1 and 2 (in 1-s blocks). */
const SECONDS = Number(env["BENCH_SHAPES_SECONDS"] ?? 2);
/** Closed-loop seconds per contender before part 1 measures: a fresh process runs slowly until V8 has optimised it. */
const WARMUP_SECONDS = Number(env["BENCH_SHAPES_WARMUP"] ?? 3);
const BLOCK_SECONDS = 1;
const CONCURRENCY = 32;

/** Part 3: streams held open at once, how many rounds, and over how long they are opened. */
const STREAMS = Number(env["BENCH_SHAPES_STREAMS"] ?? 5000);
const STREAM_ROUNDS = Number(env["BENCH_SHAPES_STREAM_ROUNDS"] ?? Math.min(2, ROUNDS));
const RAMP_SECONDS = Number(env["BENCH_SHAPES_RAMP_SECONDS"] ?? Math.max(1, STREAMS / 500));
/** Part 3's simulator: the first chunk after TTFT_MS, then a chunk (5 tokens) a second, 25 chunks in all, so a stream
 *  lasts 25 s and every stream is open from the end of the ramp until the first ones end. */
const SLOW = { ttftMs: 1000, tokensPerSecond: 5, replyTokens: 125 };
/** Part 4's simulator: 10,000 tokens = 2,000 chunks of 5, one every millisecond (each its own write, so its own packet). */
const LONG = { tokensPerSecond: 5000, replyTokens: 10_000 };
const LONG_STREAMS = Number(env["BENCH_SHAPES_LONG_STREAMS"] ?? 4);
/** prom-client samples the event loop with perf_hooks' monitorEventLoopDelay at its default resolution: every figure
 *  it records is the time between two ticks of a 10-ms timer, so a loop that never stalls reads 10 ms. */
const EVENT_LOOP_RESOLUTION_MS = 10;

const GATEWAY_KEY = "bench-key";
const UPSTREAM_KEY = "upstream-key";
const MODEL = "gemini-2.5-flash";
const UNARY = TARGETS.find((t) => t.name === "unary")!;
const STREAMING = TARGETS.find((t) => t.name === "streaming")!;

/** A chat of 40 turns of about 1,200 bytes each (50 KB), re-sent whole as an app's chat object does every turn. */
const HISTORY_BODY = JSON.stringify({
  contents: Array.from({ length: 40 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "model", parts: [{ text: `turn ${i}: ${"lorem ipsum dolor sit amet ".repeat(45)}` }] })),
  generationConfig: { maxOutputTokens: 1024, temperature: 0.7 },
});

export interface RequestShape {
  name: string;
  path: string;
  /** The request body; default: a one-line prompt (bench/proxy-latency.ts). */
  body?: string;
}

/** What the closed loop sends at saturation: a one-line prompt, unary and streaming, and a unary 50 KB history. */
export const TARGETS_AT_SATURATION: RequestShape[] = [
  { name: "unary", path: UNARY.path },
  { name: "unary, 50 KB history", path: UNARY.path, body: HISTORY_BODY },
  { name: "streaming", path: STREAMING.path },
];
const BARE_PROXY = fileURLToPath(new URL("./bare-proxy.js", import.meta.url));
/** The shared Redis, in a db of this section's own and under a prefix unique to the run, deleted afterwards. */
const REDIS_URL = env["BENCH_REDIS_URL"] ?? "redis://127.0.0.1:6379/14";
const PREFIX = `bench-shapes-${process.pid}-${Date.now().toString(36)}:`;
const COMMAND = "`npm run bench`, or alone: `npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/bench/run.js traffic`";

const progress = (line: string): void => {
  process.stdout.write(`traffic shapes: ${line}\n`);
};
const percentiles = (values: number[]): { p50: number; p99: number } => (values.length > 0 ? stats(values) : { p50: NaN, p99: NaN });
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const percent = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`;
const verdict = (met: boolean, figure: string): string => (met ? `target met (${figure})` : `**target NOT met: ${figure}**`);
const failuresText = (failures: Map<string, number>): string =>
  failures.size === 0 ? "none" : [...failures].map(([what, n]) => `${n} × ${what}`).join(", ");

// ---- processes ---------------------------------------------------------------------------------------------------

/** Runs `body` with a starter of child processes; every child it started is stopped when it ends, whatever happens
 *  (the last started first: proxies before the simulator behind them). */
export async function withChildren<T>(body: (start: (starting: Promise<Child>) => Promise<Child>) => Promise<T>): Promise<T> {
  const children: Child[] = [];
  try {
    return await body(async (starting) => {
      const child = await starting;
      children.push(child);
      return child;
    });
  } finally {
    for (const child of children.reverse()) {
      // One that will not stop must not keep the others running.
      await child.stop().catch((err: unknown) => process.stderr.write(`traffic shapes: stopping pid ${child.pid}: ${String(err)}\n`));
    }
  }
}

export const simulator = (flags: string[]): Promise<Child> => startCli(["simulate", "--port", "0", ...flags], {});
export const bareProxy = (upstream: string, nodeFlags: string[] = []): Promise<Child> => startNode(BARE_PROXY, [upstream], {}, nodeFlags);

/** `serve` as proxy-latency.ts runs it (gateway keys auth, LOG_LEVEL=info, telemetry on), from `cli` (another build's
 *  dist/cli.js for a before/after comparison). */
export const gateway = (upstream: string, extraEnv: Record<string, string> = {}, cli = CLI, nodeFlags: string[] = []): Promise<Child> => {
  const environment = { GEMINI_BASE_URL: upstream, GEMINI_API_KEY: UPSTREAM_KEY, GATEWAY_KEYS: `${GATEWAY_KEY}:bench`, LOG_LEVEL: "info", ...extraEnv };
  return startNode(cli, ["serve", "--port", "0", "--host", "127.0.0.1"], environment, nodeFlags);
};

/** A gateway keeping its sessions on the shared Redis (SESSION_STORE), under this run's prefix. */
const sessionGateway = (upstream: string): Promise<Child> =>
  gateway(upstream, { SESSION_STORE: REDIS_URL, SESSION_REDIS_PREFIX: PREFIX, SESSION_TTL_SECONDS: "600" /* a killed run's keys expire */ });


/** Where a load goes: the simulator itself (no proxy) or a proxy in front of it. */
interface Contender {
  label: string;
  url: string;
  key: string;
  /** The proxy's process; undefined for the simulator direct. */
  proxy?: Child;
  /** A gateway: it has /metrics. */
  isGateway: boolean;
}

const direct = (sim: Child): Contender => ({ label: "direct (simulator)", url: sim.url, key: UPSTREAM_KEY, isGateway: false });
const viaBare = (bare: Child): Contender => ({ label: "bare pass-through", url: bare.url, key: UPSTREAM_KEY, proxy: bare, isGateway: false });
const viaGateway = (label: string, gw: Child): Contender => ({ label, url: gw.url, key: GATEWAY_KEY, proxy: gw, isGateway: true });

// ---- part 1: throughput at saturation ------------------------------------------------------------------------------

interface Loop {
  calls: number;
  seconds: number;
  latencies: number[];
}

/** Closed loop: CONCURRENCY clients, each sending its next request as soon as the previous answer has been read. */
export async function closedLoop(pool: Pool, path: string, key: string, seconds: number, body?: string): Promise<Loop> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) latencies.push((await sendRequest(pool, path, key, sent++, body)).totalMs);
    }),
  );
  return { calls: latencies.length, seconds: (performance.now() - start) / 1000, latencies };
}

interface ThroughputRound {
  callsPerSecond: number;
  p50: number;
  /** Proxy CPU ms per call (NaN without a proxy). */
  cpuMs: number;
}

async function throughput(contenders: Contender[], pools: Pool[], shape: RequestShape): Promise<ThroughputRound[][]> {
  const { path, name, body } = shape;
  // Warmed up taking turns too: one warmed first and then left idle while the others warm up runs slower for a while.
  for (let second = 0; second < WARMUP_SECONDS; second++) {
    for (const i of inTurn([...contenders.keys()], second)) await closedLoop(pools[i]!, path, contenders[i]!.key, 1, body);
  }
  const rounds = contenders.map((): ThroughputRound[] => []);
  let turn = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const loops = contenders.map((): Loop => ({ calls: 0, seconds: 0, latencies: [] }));
    const cpu = contenders.map(() => 0);
    for (let block = 0; block < SECONDS / BLOCK_SECONDS; block++) {
      for (const i of inTurn([...contenders.keys()], turn++)) {
        const pid = contenders[i]!.proxy?.pid;
        const before = pid === undefined ? NaN : cpuSecondsOf(pid);
        const loop = await closedLoop(pools[i]!, path, contenders[i]!.key, BLOCK_SECONDS, body);
        cpu[i]! += pid === undefined ? NaN : cpuSecondsOf(pid) - before;
        loops[i]!.calls += loop.calls;
        loops[i]!.seconds += loop.seconds;
        loops[i]!.latencies.push(...loop.latencies);
      }
    }
    contenders.forEach((_, i) => {
      const loop = loops[i]!;
      rounds[i]!.push({ callsPerSecond: loop.calls / loop.seconds, p50: percentiles(loop.latencies).p50, cpuMs: (cpu[i]! * 1000) / loop.calls });
    });
    progress(
      `throughput, ${name}, round ${round + 1}: ` +
        contenders.map((c, i) => `${c.label} ${int(rounds[i]![round]!.callsPerSecond)}/s p50 ${ms(rounds[i]![round]!.p50)}` + (c.proxy ? ` CPU/call ${ms(rounds[i]![round]!.cpuMs)}` : "")).join("; "),
    );
  }
  return rounds;
}

// ---- part 2: added median latency ----------------------------------------------------------------------------------

interface LatencyRound {
  p50: number;
  p99: number;
}

async function addedLatency(contenders: Contender[], pools: Pool[]): Promise<LatencyRound[][]> {
  for (const [i, contender] of contenders.entries()) await load(pools[i]!, UNARY.path, contender.key, 1);
  const rounds = contenders.map((): LatencyRound[] => []);
  let turn = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const samples = contenders.map((): Sample[] => []);
    for (let block = 0; block < SECONDS / BLOCK_SECONDS; block++) {
      for (const i of inTurn([...contenders.keys()], turn++)) samples[i]!.push(...(await load(pools[i]!, UNARY.path, contenders[i]!.key, BLOCK_SECONDS)));
    }
    contenders.forEach((_, i) => rounds[i]!.push(percentiles(samples[i]!.map((s) => s.totalMs))));
    progress(`added latency, round ${round + 1}: ${contenders.map((c, i) => `${c.label} p50 ${ms(rounds[i]![round]!.p50)} p99 ${ms(rounds[i]![round]!.p99)}`).join("; ")}`);
  }
  return rounds;
}

// ---- streams -----------------------------------------------------------------------------------------------------

const HEADERS = (key: string): Record<string, string> => ({ "content-type": "application/json", "x-goog-api-key": key });
const STREAM_BODY = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "benchmark stream: tell me a long story" }] }] });
const MESSAGE_BODY = JSON.stringify({ message: "benchmark stream: tell me a long story" });
/** The end of an SSE event (the simulator writes \r\n\r\n; \n\n in case a proxy rewrites it). */
const EVENT_END = /\r?\n\r?\n/;

/** What a stream is sent to: the native streaming path, or a session's messages (one session per stream). */
interface StreamTarget {
  contender: Contender;
  sessions?: string[];
}

/**
 * One stream: the request, then every SSE event of the answer. `onChunk` gets each model chunk's running
 * candidatesTokenCount and its arrival time (when the bytes completing its event were read); the session API's last
 * event (the session's fields, no `candidates` list) is not a model chunk. Resolves with the chunks seen.
 */
async function readStream(pool: Pool, path: string, key: string, body: string, onChunk: (candidates: number, at: number) => void): Promise<number> {
  const res = await pool.request({ method: "POST", path, headers: HEADERS(key), body });
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
  let pending = "";
  let chunks = 0;
  res.body.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    res.body.on("data", (piece: string) => {
      const at = performance.now();
      pending += piece;
      for (let end = EVENT_END.exec(pending); end; end = EVENT_END.exec(pending)) {
        const event = pending.slice(0, end.index);
        pending = pending.slice(end.index + end[0].length);
        if (!event.includes('"candidates":[')) continue;
        const tokens = /"candidatesTokenCount":\s*(\d+)/.exec(event);
        if (!tokens) continue;
        chunks++;
        onChunk(Number(tokens[1]), at);
      }
    });
    res.body.once("end", resolve);
    res.body.once("error", reject);
  });
  return chunks;
}

const streamRequest = (target: StreamTarget, i: number): { path: string; body: string } =>
  target.sessions ? { path: `/v1/sessions/${target.sessions[i]}/messages?stream=sse`, body: MESSAGE_BODY } : { path: STREAMING.path, body: STREAM_BODY };

/** `count` fresh sessions on a gateway (64 creations at a time); their keys go when the section deletes its prefix. */
async function createSessions(url: string, count: number): Promise<string[]> {
  const pool = new Pool(url, { connections: 64 });
  const ids: string[] = [];
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(64, count) }, async () => {
        for (let i = next++; i < count; i = next++) {
          const res = await pool.request({ method: "POST", path: "/v1/sessions", headers: HEADERS(GATEWAY_KEY), body: JSON.stringify({ model: MODEL }) });
          const text = await res.body.text();
          if (res.statusCode !== 201) throw new Error(`POST /v1/sessions: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
          ids[i] = (JSON.parse(text) as { id: string }).id;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return ids;
}

const addFailure = (failures: Map<string, number>, err: unknown): void => {
  const what = err instanceof Error ? err.message : String(err);
  failures.set(what, (failures.get(what) ?? 0) + 1);
};

// ---- part 3: many streams held open ------------------------------------------------------------------------------

interface HeldRun {
  /** Streams open (first chunk in, not ended) when the memory was read. */
  openAtPeak: number;
  /** Proxy RSS and gateway heap per open stream, bytes (NaN where not measured). */
  rssPerStream: number;
  heapPerStream: number;
  /** Proxy CPU µs per chunk over the whole run (requests included; NaN without a proxy). */
  cpuPerChunkUs: number;
  /** Gateway event-loop delay beyond the 10-ms sampling interval, ms: the larger p99 of the two windows, the max. */
  loopP99: number;
  loopMax: number;
  /** Lateness against the simulator's schedule, ms: first chunks, later chunks; later chunks against their stream's
   *  first chunk (the start's delay taken out). */
  first: number[];
  later: number[];
  sinceFirst: number[];
  chunksPerStream: number;
  failures: Map<string, number>;
}

const SLOW_MS_PER_TOKEN = 1000 / SLOW.tokensPerSecond;
const SLOW_STREAM_MS = SLOW.ttftMs + (SLOW.replyTokens / 5 - 1) * 5 * SLOW_MS_PER_TOKEN;

const LOOP_METRICS = ["nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_p99_seconds", "nodejs_eventloop_lag_max_seconds"] as const;

/**
 * STREAMS streams opened over RAMP_SECONDS and held: the proxy's memory before the ramp and once every stream is open;
 * the gateway's event-loop delay over the ramp and the hold (a /metrics scrape resets prom-client's histogram, so
 * the scrape before the ramp starts the window and each later one ends one); every chunk's lateness.
 */
async function holdStreams(target: StreamTarget): Promise<HeldRun> {
  const { contender } = target;
  const pool = new Pool(contender.url, { connections: STREAMS + 16 });
  const failures = new Map<string, number>();
  const first: number[] = [];
  const later: number[] = [];
  const sinceFirst: number[] = [];
  let open = 0;
  let started = 0;
  let settled = 0;
  let chunks = 0;
  let allOpen!: () => void;
  const allOpened = new Promise<void>((resolve) => (allOpen = resolve));
  const oneMore = (): void => {
    if (++started === STREAMS) allOpen();
  };
  const scrape = (): Promise<Record<(typeof LOOP_METRICS)[number], number>> | undefined =>
    contender.isGateway ? metricValues(contender.url, LOOP_METRICS) : undefined;
  try {
    const pid = contender.proxy?.pid;
    const rssBefore = pid === undefined ? NaN : residentBytesOf(pid);
    const cpuBefore = pid === undefined ? NaN : cpuSecondsOf(pid);
    const before = await scrape();
    const t0 = performance.now();
    const streams: Array<Promise<void>> = [];
    for (let i = 0; i < STREAMS; i++) {
      const wait = t0 + (i * RAMP_SECONDS * 1000) / STREAMS - performance.now();
      if (wait > 0) await sleep(wait);
      const { path, body } = streamRequest(target, i);
      const sentAt = performance.now();
      let firstTokens = -1;
      let firstAt = 0;
      let opened = false;
      streams.push(
        readStream(pool, path, contender.key, body, (candidates, at) => {
          if (firstTokens < 0) {
            firstTokens = candidates;
            firstAt = at;
            first.push(at - (sentAt + SLOW.ttftMs));
            open++;
            opened = true;
            oneMore();
            return;
          }
          const offset = (candidates - firstTokens) * SLOW_MS_PER_TOKEN;
          later.push(at - (sentAt + SLOW.ttftMs + offset));
          sinceFirst.push(at - (firstAt + offset));
        })
          .then((n) => {
            chunks += n;
          })
          .catch((err: unknown) => addFailure(failures, err))
          .finally(() => {
            settled++;
            if (opened) open--;
            else oneMore();
          }),
      );
    }
    await allOpened;
    const openAtPeak = open;
    const rssOpen = pid === undefined ? NaN : residentBytesOf(pid);
    const ramp = await scrape();
    // Hold until the first streams are about to end, then close the event-loop window.
    const holdUntil = t0 + SLOW_STREAM_MS - 1000;
    if (holdUntil > performance.now()) await sleep(holdUntil - performance.now());
    const hold = await scrape();
    await Promise.all(streams);
    const cpu = pid === undefined ? NaN : cpuSecondsOf(pid) - cpuBefore;
    const beyond = (seconds: number): number => Math.max(0, seconds * 1000 - EVENT_LOOP_RESOLUTION_MS);
    return {
      openAtPeak,
      rssPerStream: (rssOpen - rssBefore) / openAtPeak,
      heapPerStream: before && ramp ? (ramp.nodejs_heap_size_used_bytes - before.nodejs_heap_size_used_bytes) / openAtPeak : NaN,
      cpuPerChunkUs: (cpu * 1e6) / chunks,
      loopP99: ramp && hold ? beyond(Math.max(ramp.nodejs_eventloop_lag_p99_seconds, hold.nodejs_eventloop_lag_p99_seconds)) : NaN,
      loopMax: ramp && hold ? beyond(Math.max(ramp.nodejs_eventloop_lag_max_seconds, hold.nodejs_eventloop_lag_max_seconds)) : NaN,
      first,
      later,
      sinceFirst,
      chunksPerStream: chunks / Math.max(1, settled - [...failures.values()].reduce((a, b) => a + b, 0)),
      failures,
    };
  } finally {
    await pool.close();
  }
}

interface HeldRow {
  label: string;
  /** Starts what the row's streams go to (a fresh proxy each round: a process that held the streams of an earlier
   *  round keeps the heap they grew, which would hide part of what the next streams need). */
  open(round: number): Promise<{ target: StreamTarget; close(): Promise<void> }>;
  runs: HeldRun[];
}

/** A row whose streams go to `starting` (a proxy process, stopped after the round; `prepare` may create sessions on it). */
async function proxyRow(starting: Promise<Child>, contender: (proxy: Child) => Contender, prepare?: (proxy: Child) => Promise<string[]>): Promise<{ target: StreamTarget; close(): Promise<void> }> {
  const proxy = await starting;
  try {
    const sessions = await prepare?.(proxy);
    return { target: { contender: contender(proxy), ...(sessions ? { sessions } : {}) }, close: () => proxy.stop() };
  } catch (err) {
    await proxy.stop();
    throw err;
  }
}

async function manyStreams(rows: HeldRow[]): Promise<void> {
  for (let round = 0; round < STREAM_ROUNDS; round++) {
    for (const row of inTurn(rows, round)) {
      const { target, close } = await row.open(round);
      let run: HeldRun;
      try {
        run = await holdStreams(target);
      } finally {
        await close();
      }
      row.runs.push(run);
      const f = percentiles(run.first);
      const l = percentiles(run.later);
      progress(
        `${STREAMS} streams, round ${round + 1}, ${row.label}: ${run.openAtPeak} open at once` +
          (target.contender.proxy ? `, RSS ${kib(run.rssPerStream)}/stream, CPU ${run.cpuPerChunkUs.toFixed(0)} µs/chunk` : "") +
          (target.contender.isGateway ? `, heap ${kib(run.heapPerStream)}/stream, event loop p99 ${ms(run.loopP99)} max ${ms(run.loopMax)} beyond 10 ms` : "") +
          `, lateness first p50 ${ms(f.p50)} p99 ${ms(f.p99)}, later p50 ${ms(l.p50)} p99 ${ms(l.p99)}, ${run.chunksPerStream.toFixed(1)} chunks/stream, failures: ${failuresText(run.failures)}`,
      );
    }
  }
}

// ---- part 4: long streams ----------------------------------------------------------------------------------------

interface LongRun {
  chunks: number;
  /** Wall time of each stream, ms. */
  durations: number[];
  /** Proxy CPU µs per chunk (NaN without a proxy). */
  cpuPerChunkUs: number;
  failures: Map<string, number>;
}

/** LONG_STREAMS long streams at once; the proxy's CPU time over them (sessions, if any, created before). */
async function longStreams(target: StreamTarget): Promise<LongRun> {
  const { contender } = target;
  const pool = new Pool(contender.url, { connections: LONG_STREAMS });
  const failures = new Map<string, number>();
  const durations: number[] = [];
  let chunks = 0;
  try {
    const pid = contender.proxy?.pid;
    const before = pid === undefined ? NaN : cpuSecondsOf(pid);
    await Promise.all(
      Array.from({ length: LONG_STREAMS }, async (_, i) => {
        const { path, body } = streamRequest(target, i);
        const start = performance.now();
        try {
          const received = await readStream(pool, path, contender.key, body, () => undefined);
          chunks += received;
          durations.push(performance.now() - start);
        } catch (err) {
          addFailure(failures, err);
        }
      }),
    );
    const cpu = pid === undefined ? NaN : cpuSecondsOf(pid) - before;
    return { chunks, durations, cpuPerChunkUs: (cpu * 1e6) / chunks, failures };
  } finally {
    await pool.close();
  }
}

interface LongRow {
  label: string;
  target: () => Promise<StreamTarget>;
  runs: LongRun[];
}

async function longStreamRounds(rows: LongRow[]): Promise<void> {
  // Round 0 warms the processes up (V8) and is not kept.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const row of inTurn(rows, round)) {
      const run = await longStreams(await row.target());
      if (round === 0) continue;
      row.runs.push(run);
      progress(
        `long streams, round ${round}, ${row.label}: ${run.chunks} chunks, stream p50 ${ms(percentiles(run.durations).p50)}` +
          (Number.isNaN(run.cpuPerChunkUs) ? "" : `, proxy CPU ${run.cpuPerChunkUs.toFixed(1)} µs/chunk`) +
          `, failures: ${failuresText(run.failures)}`,
      );
    }
  }
}

// ---- the section -------------------------------------------------------------------------------------------------

export const trafficShapes: BenchSection = {
  title: "Traffic shapes",
  async run() {
    const sectionStart = performance.now();
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const out: string[] = [];
    try {
      await redis.connect();
      if ((await deleteKeysUnder(redis, PREFIX)) > 0) throw new Error(`keys under ${PREFIX} already in ${REDIS_URL}`);

      // Parts 1 and 2: one simulator with its defaults (no time to first token, no trickle, replies of 20-80 tokens).
      await withChildren(async (start) => {
        const sim = await start(simulator([]));
        const bare = await start(bareProxy(sim.url));
        const gw = await start(gateway(sim.url));
        const contenders = [direct(sim), viaBare(bare), viaGateway("gateway", gw)];
        const pools = contenders.map((c) => new Pool(c.url, { connections: CONCURRENCY }));
        try {
          const byTarget: Array<{ name: string; rounds: ThroughputRound[][] }> = [];
          for (const shape of TARGETS_AT_SATURATION) byTarget.push({ name: shape.name, rounds: await throughput(contenders, pools, shape) });
          out.push(...throughputMarkdown(contenders, byTarget));
          const latency = await addedLatency(contenders.slice(0, 3), pools.slice(0, 3));
          out.push(...latencyMarkdown(contenders.slice(0, 3), latency));
        } finally {
          await Promise.all(pools.map((pool) => pool.close()));
        }
      });

      // Part 3: a slow simulator; the proxies started afresh for each round (see HeldRow): the bare one, a gateway for
      // the native streams, one on the Redis store for the session messages.
      await withChildren(async (start) => {
        const sim = await start(simulator(["--ttft-ms", String(SLOW.ttftMs), "--tokens-per-second", String(SLOW.tokensPerSecond), "--reply-tokens", `${SLOW.replyTokens}-${SLOW.replyTokens}`]));
        const sessionsLabel = "gateway, session messages, Redis store";
        const rows: HeldRow[] = [
          { label: "direct (simulator)", open: async () => ({ target: { contender: direct(sim) }, close: async () => undefined }), runs: [] },
          { label: "bare pass-through", open: () => proxyRow(bareProxy(sim.url), viaBare), runs: [] },
          { label: "gateway", open: () => proxyRow(gateway(sim.url), (gw) => viaGateway("gateway", gw)), runs: [] },
          {
            label: sessionsLabel,
            open: (round) =>
              proxyRow(sessionGateway(sim.url), (gw) => viaGateway(sessionsLabel, gw), async (gw) => {
                const t0 = performance.now();
                const ids = await createSessions(gw.url, STREAMS);
                progress(`${STREAMS} streams, round ${round + 1}: ${ids.length} sessions created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
                return ids;
              }),
            runs: [],
          },
        ];
        await manyStreams(rows);
        out.push(...manyStreamsMarkdown(rows));
      });

      // Part 4: a fast simulator of long replies.
      await withChildren(async (start) => {
        const sim = await start(simulator(["--tokens-per-second", String(LONG.tokensPerSecond), "--reply-tokens", `${LONG.replyTokens}-${LONG.replyTokens}`]));
        const bare = await start(bareProxy(sim.url));
        const gw = await start(gateway(sim.url));
        const sessions = await start(sessionGateway(sim.url));
        const sessionSide = viaGateway("gateway, session messages, Redis store", sessions);
        const rows: LongRow[] = [
          { label: "direct (simulator)", target: async () => ({ contender: direct(sim) }), runs: [] },
          { label: "bare pass-through", target: async () => ({ contender: viaBare(bare) }), runs: [] },
          { label: "gateway, native stream", target: async () => ({ contender: viaGateway("gateway", gw) }), runs: [] },
          { label: sessionSide.label, target: async () => ({ contender: sessionSide, sessions: await createSessions(sessions.url, LONG_STREAMS) }), runs: [] },
        ];
        await longStreamRounds(rows);
        out.push(...longStreamsMarkdown(rows));
      });
    } finally {
      if (redis.status === "ready") progress(`deleted ${await deleteKeysUnder(redis, PREFIX)} keys under ${PREFIX} in ${REDIS_URL}`);
      redis.disconnect();
    }
    const seconds = (performance.now() - sectionStart) / 1000;
    return [
      "The gateway next to the least a Node proxy can do and next to no proxy at all, in four shapes of traffic. The least a",
      "proxy can do: `bench/bare-proxy.ts`, a keep-alive pass-through of `http.request` + `pipe` and nothing else (no auth,",
      "no parsing, no telemetry), in its own process like the gateway (`node dist/cli.js serve`, gateway keys auth,",
      "LOG_LEVEL=info: a log line per request, telemetry on) and the simulator (`node dist/cli.js simulate`). The load comes",
      "from this bench's process (undici pools, keep-alive). All of them share the machine's cores. In every part the",
      "contenders take turns in the same run, the order reversed every other block or round, so that drift and bursts of",
      "other work on the (shared) machine fall on all alike; figures are medians over rounds. Proxy CPU time (user + system,",
      "all threads) and resident memory are read from /proc; the gateway's heap and event-loop delay from its /metrics.",
      "",
      `Command: ${COMMAND}. Knobs: \`BENCH_SHAPES_ROUNDS\` (${ROUNDS}), \`BENCH_SHAPES_SECONDS\` (${SECONDS}), \`BENCH_SHAPES_WARMUP\``,
      `(${WARMUP_SECONDS}), \`BENCH_SHAPES_STREAMS\` (${STREAMS}), \`BENCH_SHAPES_STREAM_ROUNDS\` (${STREAM_ROUNDS}), \`BENCH_SHAPES_RAMP_SECONDS\``,
      `(${RAMP_SECONDS}), \`BENCH_SHAPES_LONG_STREAMS\` (${LONG_STREAMS}). In brackets: this run's values.`,
      "",
      machineLine(),
      "",
      ...out,
      `Section run time: ${seconds.toFixed(0)} s.`,
    ].join("\n");
  },
};

// ---- markdown ----------------------------------------------------------------------------------------------------

function throughputMarkdown(contenders: Contender[], byTarget: Array<{ name: string; rounds: ThroughputRound[][] }>): string[] {
  const bare = contenders.findIndex((c) => c.label === "bare pass-through");
  const cell = (rounds: ThroughputRound[]): string => {
    const cpu = median(rounds.map((r) => r.cpuMs));
    return `${int(median(rounds.map((r) => r.callsPerSecond)))} | ${ms(median(rounds.map((r) => r.p50)))} | ${Number.isNaN(cpu) ? "—" : ms(cpu)}`;
  };
  /** Per round, the gateway's calls/s over the bare proxy's in the same round; their median. */
  const share = (rounds: ThroughputRound[][], i: number): number => median(rounds[i]!.map((r, k) => r.callsPerSecond / rounds[bare]![k]!.callsPerSecond));
  const gateways = contenders.flatMap((c, i) => (c.isGateway ? [i] : []));
  const lines = byTarget.map(({ name, rounds }) => {
    const main = share(rounds, gateways[0]!);
    const others = gateways.slice(1).map((i) => `${contenders[i]!.label} ${percent(share(rounds, i))}`);
    return `- ${name}: the gateway's throughput is ${percent(main)} of the bare pass-through's${others.length > 0 ? ` (${others.join(", ")})` : ""}: ${verdict(main >= 0.8, percent(main))}.`;
  });
  return [
    "### 1. Throughput at saturation",
    "",
    `Closed loop: ${CONCURRENCY} clients, each sending its next request as soon as the previous answer is read (one undici pool of`,
    `${CONCURRENCY} keep-alive connections per contender), \`generateContent\` (a one-line prompt, and a 50 KB history: 40 turns`,
    "re-sent whole, as an app's chat object does) and `streamGenerateContent?alt=sse`, simulator at its defaults. Each contender",
    `first gets ${WARMUP_SECONDS} s of the same load, in 1-s turns (V8 optimises a fresh process's hot paths; one warmed first, then left idle, runs slower), then`,
    `${ROUNDS} rounds of ${SECONDS} blocks of ${BLOCK_SECONDS} s per contender, taking turns block by block. calls/s: calls completed in a round's`,
    "blocks over their time; p50: latency of the round's calls; CPU/call: the proxy process's CPU time over the blocks per call",
    "(none direct). Each figure is the median of the rounds'. With every client, proxy and simulator on the same 2 cores, the",
    "ceiling is the machine's: a proxy's calls/s here is bounded by its CPU per call plus the simulator's and the client's.",
    "",
    `| contender | ${byTarget.map((t) => `${t.name} calls/s | ${t.name} p50 | ${t.name} proxy CPU/call`).join(" | ")} |`,
    `|---|${byTarget.map(() => "---:|---:|---:|").join("")}`,
    ...contenders.map((c, i) => `| ${c.label} | ${byTarget.map((t) => cell(t.rounds[i]!)).join(" | ")} |`),
    "",
    "Target: the gateway's throughput at least 80% of the bare pass-through's (median over rounds of the gateway's calls/s",
    "over the bare proxy's in the same round).",
    "",
    ...lines,
    "",
  ];
}

function latencyMarkdown(contenders: Contender[], rounds: LatencyRound[][]): string[] {
  const added = (i: number, pick: (r: LatencyRound) => number): number => median(rounds[i]!.map((r, k) => pick(r) - pick(rounds[0]![k]!)));
  const rows = contenders.map((c, i) => {
    const p50 = median(rounds[i]!.map((r) => r.p50));
    const p99 = median(rounds[i]!.map((r) => r.p99));
    return i === 0 ? `| ${c.label} | ${ms(p50)} | ${ms(p99)} | — | — |` : `| ${c.label} | ${ms(p50)} | ${ms(p99)} | **${signed(added(i, (r) => r.p50))}** | ${signed(added(i, (r) => r.p99))} |`;
  });
  const beyondBare = added(2, (r) => r.p50) - added(1, (r) => r.p50);
  return [
    "### 2. Added median latency",
    "",
    `Open loop, unary: a request every 5 ms (200/s) whatever the latency of the previous ones (the load of the latency`,
    `section), the same simulator and processes as part 1. ${ROUNDS} rounds of ${SECONDS} blocks of ${BLOCK_SECONDS} s per contender, taking turns block by`,
    "block. Per round, each side's p50 and p99 of the whole answer; added = the side's percentile − the direct one in the",
    "same round; the table shows medians over the rounds.",
    "",
    "| contender | p50 | p99 | added p50 | added p99 |",
    "|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `Target: the gateway's added median at most 0.1 ms above the bare pass-through's. This run: ${signed(beyondBare)}: ${verdict(beyondBare <= 0.1, signed(beyondBare))}.`,
    "",
  ];
}

function manyStreamsMarkdown(rows: HeldRow[]): string[] {
  const of = (row: HeldRow, pick: (run: HeldRun) => number): number => median(row.runs.map(pick));
  const p = (values: number[], which: "p50" | "p99"): number => percentiles(values)[which];
  const directRow = rows[0]!;
  /** Per round, the row's percentile − the direct one's in the same round; their median. */
  const added = (row: HeldRow, pick: (run: HeldRun) => number[], which: "p50" | "p99"): number =>
    median(row.runs.map((run, k) => p(pick(run), which) - p(pick(directRow.runs[k]!), which)));
  const memoryRows = rows.map((row, i) => {
    const proxied = i > 0;
    const gatewayRow = i > 1;
    const failures = new Map<string, number>();
    for (const run of row.runs) for (const [what, n] of run.failures) failures.set(what, (failures.get(what) ?? 0) + n);
    return (
      `| ${row.label} | ${row.runs.map((r) => int(r.openAtPeak)).join(" / ")} | ${of(row, (r) => r.chunksPerStream).toFixed(1)} | ` +
      `${proxied ? kib(of(row, (r) => r.rssPerStream)) : "—"} | ${gatewayRow ? kib(of(row, (r) => r.heapPerStream)) : "—"} | ` +
      `${proxied ? of(row, (r) => r.cpuPerChunkUs).toFixed(0) : "—"} | ` +
      `${gatewayRow ? `${ms(of(row, (r) => r.loopP99))} / ${ms(of(row, (r) => r.loopMax))}` : "—"} | ${failuresText(failures)} |`
    );
  });
  const latencyRows = rows.map((row, i) => {
    const pair = (pick: (run: HeldRun) => number[]): string => `${ms(of(row, (r) => p(pick(r), "p50")))} / ${ms(of(row, (r) => p(pick(r), "p99")))}`;
    const addedPair = (pick: (run: HeldRun) => number[]): string => (i === 0 ? "—" : `${signed(added(row, pick, "p50"))} / ${signed(added(row, pick, "p99"))}`);
    return `| ${row.label} | ${pair((r) => r.first)} | ${addedPair((r) => r.first)} | ${pair((r) => r.later)} | ${i === 0 ? "—" : `**${addedPair((r) => r.later)}**`} | ${pair((r) => r.sinceFirst)} | ${addedPair((r) => r.sinceFirst)} |`;
  });
  const gatewayRows = rows.slice(2);
  const worst = (pick: (row: HeldRow) => number): number => Math.max(...gatewayRows.map(pick));
  const memory = worst((row) => of(row, (r) => r.rssPerStream));
  const delayP99 = worst((row) => added(row, (r) => r.later, "p99"));
  const stall = worst((row) => Math.max(...row.runs.map((r) => r.loopMax)));
  return [
    `### 3. ${int(STREAMS)} concurrent streams`,
    "",
    `A simulator with a time to first token of ${SLOW.ttftMs} ms and a trickle of ${SLOW.tokensPerSecond} tokens/s: ${SLOW.replyTokens} tokens in chunks of 5, so`,
    `a chunk a second, ${SLOW.replyTokens / 5} chunks, ${(SLOW_STREAM_MS / 1000).toFixed(0)} s per stream. The bench opens ${int(STREAMS)} streams (\`streamGenerateContent?alt=sse\`) over ${RAMP_SECONDS} s`,
    "(one connection each) and holds them: every stream is open from the end of the ramp plus the time to first token until",
    "the first ones end. Rows: direct to the simulator, through the bare pass-through, through the gateway, and the same",
    `number of session messages (\`POST /v1/sessions/{id}/messages?stream=sse\`, one fresh session each, created before the`,
    `ramp) on a second gateway with SESSION_STORE=redis (the shared server, db 14, keys under a prefix of the run's own,`,
    `deleted afterwards). Each round starts every proxy afresh (a process that held earlier streams keeps the heap they grew,`,
    `which would hide part of what the next ones need), so the ramp also warms it up. ${STREAM_ROUNDS} round(s), the rows taking`,
    "turns, reversed every other round; medians over rounds.",
    "",
    "- Memory: the proxy's resident memory (VmRSS) and, for the gateways, heap used (`nodejs_heap_size_used_bytes`), read",
    "  right before the ramp and once every stream has had its first chunk; the difference over the streams open then.",
    "- Proxy CPU per chunk: the proxy process's CPU time from before the ramp to the last stream's end (/proc), over the",
    "  chunks received; the requests' own cost is spread over their chunks.",
    "- Event loop: prom-client's `nodejs_eventloop_lag_p99_seconds` and `_max_seconds` (perf_hooks' monitorEventLoopDelay; a",
    "  scrape resets them), scraped before the ramp, when every stream is open and 1 s before the first streams end: the",
    "  larger p99 and the max of those two windows, less the 10-ms sampling interval the figures include (a loop that never",
    "  stalls reads 10 ms).",
    "- Lateness of a chunk: its arrival (when the bytes completing its SSE event were read) minus when the simulator's",
    `  schedule has it sent: request sent + ${SLOW.ttftMs} ms + (its running candidatesTokenCount − the first chunk's) × ${SLOW_MS_PER_TOKEN} ms per token. The`,
    "  simulator sleeps from one write to the next, so its own timer delays add up along a stream, alike on every row.",
    "  Added = the row's percentile − the direct one in the same round. First chunks apart (they include the connection",
    "  set-up and the request's way through the proxy), then every later chunk; the last two columns measure a later chunk",
    "  from its stream's first chunk instead of the request (the start's delay taken out: the relay alone).",
    "",
    "| row | open at once (per round) | chunks/stream | proxy RSS / open stream | gateway heap / open stream | proxy CPU / chunk (µs) | event-loop delay p99 / max | failed streams |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
    ...memoryRows,
    "",
    "Lateness (p50 / p99) and added (p50 / p99):",
    "",
    "| row | first chunk | added | later chunks | added | later chunks from the first | added |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...latencyRows,
    "",
    "Targets, for both gateway rows (the worse of the two):",
    "",
    `- under 64 KiB of gateway memory (RSS) per open stream: ${verdict(memory < 64 * 1024, kib(memory))};`,
    `- added per-chunk delay p99 under 1 ms (later chunks, against direct): ${verdict(delayP99 < 1, signed(delayP99))};`,
    `- no event-loop stall over 20 ms (largest max beyond the sampling interval): ${verdict(stall <= 20, ms(stall))}.`,
    "",
  ];
}

function longStreamsMarkdown(rows: LongRow[]): string[] {
  const cpu = (row: LongRow): number => median(row.runs.map((r) => r.cpuPerChunkUs));
  const bareCpu = cpu(rows[1]!);
  const table = rows.map((row, i) => {
    const failures = row.runs.reduce((n, r) => n + [...r.failures.values()].reduce((a, b) => a + b, 0), 0);
    const chunks = median(row.runs.map((r) => r.chunks / Math.max(1, r.durations.length)));
    const duration = median(row.runs.map((r) => percentiles(r.durations).p50));
    return (
      `| ${row.label} | ${int(chunks)} | ${ms(duration)} | ${i === 0 ? "—" : cpu(row).toFixed(1)} | ` +
      `${i < 2 ? "—" : `**${(cpu(row) - bareCpu).toFixed(1)}**`} | ${failures} |`
    );
  });
  return [
    "### 4. Long streams of 2,000 chunks",
    "",
    `A simulator replying ${int(LONG.replyTokens)} tokens (${int(LONG.replyTokens / 5)} chunks of 5) at ${int(LONG.tokensPerSecond)} tokens/s: a chunk every millisecond, each its own`,
    `write. ${LONG_STREAMS} such streams at once per run, direct, through the bare pass-through, through the gateway (native`,
    "`streamGenerateContent?alt=sse`) and as session messages on a gateway with the Redis store (fresh sessions, created before",
    `the run). A first round warms the processes up and is dropped; then ${ROUNDS} rounds, the rows taking turns, reversed every`,
    "other round. Proxy CPU per chunk: the proxy process's CPU time over the run (from /proc, in clock ticks of",
    `${(1000 / clockTicks()).toFixed(0)} ms) over the chunks the client received; it includes each stream's request and, for sessions, the turn's`,
    "commit to Redis, spread over its chunks. Added = the gateway's − the bare proxy's. Medians over rounds.",
    "",
    "| row | chunks/stream | stream duration p50 | proxy CPU per chunk (µs) | added CPU per chunk (µs) | failed streams |",
    "|---|---:|---:|---:|---:|---:|",
    ...table,
    "",
  ];
}
