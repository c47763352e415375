// What the operator console (src/console) costs a call on the hot path. Gateways side by side (bench/side-by-side.ts)
// under the latency bench's load, differing only in the console: CONSOLE=off; CONSOLE=on with nobody looking (every
// finished turn is still recorded into the fixed-size rings); on with the page open, i.e. a poller doing what the page
// does (every 3 s GET /ui/api/overview and /ui/api/turns with an admin key); and on with a poller every 250 ms, the
// harsher case (a dozen tabs open), which shows what a poll costs once there is one to see. The warm-up fills the
// turn ring (CONSOLE_TURNS, 2,000 by default) before the first round, so every turns answer walks a full ring; each
// gateway's resident memory after the warm-up and at the end shows whether the console's memory grows with traffic.

import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { machineLine, ms, RATE, stats, TARGETS } from "./proxy-latency.js";
import { metricValue, sideBySide, roundsTable, signed, type Companion, type Contender } from "./side-by-side.js";
import { int, type BenchSection } from "./section.js";

const ROUNDS = Number(process.env["BENCH_CONSOLE_ROUNDS"] ?? 7);
const SECONDS = Number(process.env["BENCH_CONSOLE_SECONDS"] ?? 3);
const BLOCK_SECONDS = 1;
/** The default CONSOLE_TURNS: the ring the turns answers walk. */
const RING = 2000;
/** Warm-up per gateway: WARMUP_SECONDS at WARMUP_RATE, more calls than the ring holds. */
const WARMUP_SECONDS = 5;
const WARMUP_RATE = 440;
const GATEWAY_KEY = "bench-key";
const ADMIN_KEY = "bench-admin-key";
const UNARY = TARGETS.find((target) => target.name === "unary")!.path;
/** What the page asks for on each refresh. */
const PAGE_PATHS = ["/ui/api/overview", "/ui/api/turns"] as const;
/** Polls in a row, on a gateway without load, to measure what one costs it. */
const CPU_POLLS = 25;

interface Poll {
  path: string;
  ms: number[];
  bytes: number;
}

interface PollerReport {
  polls: Poll[];
  /** The last turns answer, read when the poller stops. */
  turnsHeld: number;
  capacity: number;
  /** Gateway CPU per poll (both answers), from polls in a row once the load has stopped. */
  cpuPerPollMs: number;
}

const get = async (pool: Pool, path: string): Promise<{ status: number; body: ArrayBuffer }> => {
  const res = await pool.request({ method: "GET", path, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: res.statusCode, body: await res.body.arrayBuffer() };
};

/** A page left open: every `everyMs`, both answers at once, each read in full (a browser would parse them too). */
function poller(everyMs: number, report: PollerReport): (url: string) => Companion {
  return (url) => {
    const pool = new Pool(url, { connections: 2 });
    const polls: Poll[] = PAGE_PATHS.map((path) => ({ path, ms: [], bytes: 0 }));
    report.polls = polls;
    let stopped = false;
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    const loop = (async () => {
      while (!stopped) {
        const next = performance.now() + everyMs;
        await Promise.all(
          polls.map(async (poll) => {
            const start = performance.now();
            const { status, body } = await get(pool, poll.path);
            if (status !== 200) throw new Error(`GET ${poll.path}: HTTP ${status}`);
            poll.ms.push(performance.now() - start);
            poll.bytes += body.byteLength;
          }),
        );
        const wait = next - performance.now();
        if (wait > 0 && !stopped) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, wait)));
      }
    })().catch((err: unknown) => {
      failure = err instanceof Error ? err : new Error(String(err));
    });
    return {
      async stop() {
        stopped = true;
        wake?.();
        await loop;
        try {
          if (failure) throw failure;
          const cpuBefore = await metricValue(url, "process_cpu_seconds_total");
          for (let i = 0; i < CPU_POLLS; i++) await Promise.all(PAGE_PATHS.map((path) => get(pool, path)));
          report.cpuPerPollMs = ((await metricValue(url, "process_cpu_seconds_total")) - cpuBefore) * 1000 / CPU_POLLS;
          const { status, body } = await get(pool, "/ui/api/turns");
          if (status !== 200) throw new Error(`GET /ui/api/turns: HTTP ${status}`);
          const list = JSON.parse(Buffer.from(body).toString("utf8")) as { turns: unknown[]; capacity: number };
          report.turnsHeld = list.turns.length;
          report.capacity = list.capacity;
        } finally {
          await pool.close();
        }
      },
    };
  };
}

/** Nobody looks during the run; when it ends, one look says whether the console answered (`expected` status). */
function lookAtTheEnd(expected: number): (url: string) => Companion {
  return (url) => ({
    async stop() {
      const pool = new Pool(url, { connections: 1 });
      try {
        const { status } = await get(pool, "/ui/api/overview");
        if (status !== expected) throw new Error(`GET /ui/api/overview: HTTP ${status}, expected ${expected}`);
      } finally {
        await pool.close();
      }
    },
  });
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

export const consoleCost: BenchSection = {
  title: "Operator console on the hot path",
  async run() {
    const sectionStart = performance.now();
    const loadAtStart = loadavg()[0]!;
    const env = (mode: "on" | "off"): Record<string, string> => ({ GATEWAY_KEYS: `${GATEWAY_KEY}:bench`, ADMIN_KEYS: ADMIN_KEY, CONSOLE: mode });
    const pageOpen: PollerReport = { polls: [], turnsHeld: 0, capacity: 0, cpuPerPollMs: NaN };
    const harsh: PollerReport = { polls: [], turnsHeld: 0, capacity: 0, cpuPerPollMs: NaN };
    const contenders: Array<Contender & { what: string; report?: PollerReport }> = [
      { label: "off", what: "`CONSOLE=off`", env: env("off"), companion: lookAtTheEnd(404) },
      { label: "on, nobody looking", what: "on, nobody looking", env: env("on"), companion: lookAtTheEnd(200) },
      { label: "on, page open (3 s)", what: "on, page open (polled every 3 s)", env: env("on"), companion: poller(3000, pageOpen), report: pageOpen },
      { label: "on, polled every 250 ms", what: "on, polled every 250 ms", env: env("on"), companion: poller(250, harsh), report: harsh },
    ];
    const result = await sideBySide({
      name: "console",
      contenders,
      key: GATEWAY_KEY,
      path: UNARY,
      rounds: ROUNDS,
      seconds: SECONDS,
      blockSeconds: BLOCK_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      warmupRate: WARMUP_RATE,
    });
    const seconds = (performance.now() - sectionStart) / 1000;
    for (const c of contenders) {
      if (c.report && (c.report.turnsHeld === 0 || c.report.polls.some((poll) => poll.ms.length === 0))) throw new Error(`console: the poller of "${c.label}" saw nothing`);
    }

    const { summary, rss, calls } = result;
    const base = summary[0]!;
    const rows = contenders.map((c, i) => {
      const s = summary[i]!;
      const added = (value: number, bold = true): string => (i === 0 ? "(baseline)" : bold ? `**${signed(value)}**` : signed(value));
      return (
        `| ${c.what} | ${ms(s.p50)} | ${added(s.p50 - base.p50)} | ${ms(s.p99)} | ${added(s.p99 - base.p99)} | ` +
        `${ms(s.ownP50)} | ${added(s.ownP50 - base.ownP50, false)} | ${ms(s.ownP99)} | ${ms(s.cpuMs)} | ${added(s.cpuMs - base.cpuMs, false)} | ` +
        `${mb(rss[i]!.afterWarmup)} | ${mb(rss[i]!.end)} |`
      );
    });
    const pollLine = (c: (typeof contenders)[number]): string => {
      const report = c.report!;
      const answers = report.polls.map((poll) => {
        const latency = stats(poll.ms);
        return `${poll.path} ${int(poll.ms.length)} times, ${kb(poll.bytes / poll.ms.length)} each, p50 ${ms(latency.p50)} / max ${ms(Math.max(...poll.ms))}`;
      });
      return `${c.label}: ${answers.join("; ")} (the last turns answer: ${report.turnsHeld} turns of a ring of ${int(report.capacity)})`;
    };
    const pollCpu = (c: (typeof contenders)[number], everyMs: number): string => {
      const cost = c.report!.cpuPerPollMs;
      const every = everyMs >= 1000 ? `${everyMs / 1000} s` : `${everyMs} ms`;
      return `${c.label}: ${ms(cost)} a poll, ${((cost / everyMs) * 100).toFixed(2)} % of a core at one every ${every}`;
    };
    const versus = (i: number): string => {
      const s = summary[i]!;
      return `${contenders[i]!.label} ${signed(s.p50 - base.p50)} p50, ${signed(s.p99 - base.p99)} p99, ${signed(s.ownP50 - base.ownP50)} own p50, ${signed(s.cpuMs - base.cpuMs)} CPU per call`;
    };
    return [
      `Four gateways (\`node dist/cli.js serve\`, gateway keys auth, \`ADMIN_KEYS\` set, LOG_LEVEL=info) in front of one simulator`,
      "(`node dist/cli.js simulate`: no time to first token, replies of 20-80 tokens), differing only in the console:",
      `\`CONSOLE=off\`; on (the default, \`CONSOLE_TURNS\` ${int(RING)}) with nobody looking, every turn still recorded into its fixed rings;`,
      "on with the page open, i.e. a poller in the client process doing what the page does: every 3 s `GET /ui/api/overview` and",
      "`GET /ui/api/turns` (the latest 200 turns and the filter values of the whole ring) with the admin key, both at once, each",
      "answer read in full; and on with the same poller every 250 ms, twelve times the page's rate (a dozen tabs open), to show",
      "what answering the console costs at all. The pollers run from each gateway's start to the end of the run.",
      "",
      `Method: the side-by-side machinery of the limit checks above: the latency bench's open-loop load, unary \`generateContent\``,
      `at ${RATE} requests/s from one client process over keep-alive connections; ${WARMUP_SECONDS} s of warm-up per gateway at ${WARMUP_RATE} requests/s`,
      `(${int(WARMUP_SECONDS * WARMUP_RATE)} calls, more than the ring holds: it is full before the first round), then ${ROUNDS} rounds of ${SECONDS} s per gateway`,
      `(${int(RATE * SECONDS)} calls each), the gateways taking turns in ${BLOCK_SECONDS}-s blocks (the order reversed every other block).`,
      "p50 and p99: each round's percentiles of the whole answer's latency, then their median over the rounds; added: against",
      "`CONSOLE=off`. Gateway's own time: its `Server-Timing` (gateway − upstream), where the turn is recorded; CPU: the gateway's",
      "`process_cpu_seconds_total` during its blocks per call, the polls it answered meanwhile included (medians over the rounds).",
      "RSS: the gateway's `process_resident_memory_bytes` after the warm-up and at the end of the run.",
      "",
      machineLine(),
      "Client, simulator and the gateway being loaded share its cores with whatever else runs there: 1-minute load",
      `average ${loadAtStart.toFixed(2)} when the section started, ${loadavg()[0]!.toFixed(2)} when it ended.`,
      "",
      "| console | p50 | added p50 | p99 | added p99 | gateway's own p50 | added | own p99 | CPU per call | added | RSS after warm-up | RSS at end |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows,
      "",
      `Against \`CONSOLE=off\`: ${contenders.slice(1).map((_, i) => versus(i + 1)).join("; ")}.`,
      `Each gateway answered ${int(calls[0]!)} calls (${(calls[0]! / RING).toFixed(1)} times the ring); RSS from the end of the warm-up to the end of the run:`,
      `${contenders.map((c, i) => `${c.label} ${rss[i]!.end >= rss[i]!.afterWarmup ? "+" : "−"}${mb(Math.abs(rss[i]!.end - rss[i]!.afterWarmup))}`).join(", ")}.`,
      "RSS follows the V8 heap, which the collector grows and shrinks by tens of MB whatever the console does (see the",
      "`CONSOLE=off` gateway), so it bounds the console's memory only coarsely: compare the figures at the end, and the change",
      `while ${int(calls[0]! - WARMUP_SECONDS * WARMUP_RATE)} more turns went through rings already full.`,
      `The pollers' answers as the client saw them (latency from request to the whole body): ${contenders.filter((c) => c.report).map(pollLine).join("; ")}.`,
      `What one poll (both answers) costs the gateway, measured once the load has stopped (${CPU_POLLS} polls in a row, its`,
      `\`process_cpu_seconds_total\`): ${pollCpu(contenders[2]!, 3000)}; ${pollCpu(contenders[3]!, 250)}. A poll runs on the event`,
      "loop in one piece, so a call arriving meanwhile waits for it: busy a few percent of the time, the 250-ms poller can",
      "reach the p99; busy a fraction of a percent, the page's cannot, and neither touches the median.",
      `Section run time: ${seconds.toFixed(0)} s.`,
      "",
      ...roundsTable("console", contenders, result.rounds),
      "",
      "Run this section alone: `npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/bench/run.js console`",
      "(`BENCH_CONSOLE_ROUNDS` and `BENCH_CONSOLE_SECONDS` change the number of rounds and the measured seconds per gateway and round).",
    ].join("\n");
  },
};
