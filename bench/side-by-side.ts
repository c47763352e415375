// Several gateway configurations measured side by side under the latency bench's load (bench/proxy-latency.ts): one
// simulator, one gateway process per configuration (the same key, its own environment), all warmed up, then ROUNDS
// rounds in which the gateways take turns in blocks of `blockSeconds` (the order reversed every other block), so that
// drift and bursts of other work on the shared machine fall on all of them alike. Each round gives a p50 and a p99 of
// the whole answer, the gateway's own time (Server-Timing) and its CPU per call, per gateway; a section reports their
// medians over the rounds. Used by the "Tenant limit checks" and "Operator console" sections.

import { Pool } from "undici";
import { startCli, type Child } from "./processes.js";
import { load, ms, processCpuSeconds, stats, type Sample } from "./proxy-latency.js";

/** Something running next to a gateway for the whole run (from its start, before the warm-up, to the end). */
export interface Companion {
  stop(): Promise<void>;
}

export interface Contender {
  /** Names the gateway in progress lines and in the per-round table. */
  label: string;
  /** On top of GEMINI_BASE_URL (the simulator), GEMINI_API_KEY and LOG_LEVEL=info. */
  env: Record<string, string>;
  companion?: (gatewayUrl: string) => Companion;
}

export interface SideBySideOptions {
  /** Prefix of the progress lines ("limit checks: round 1: ..."). */
  name: string;
  contenders: Contender[];
  /** The gateway key the load presents. */
  key: string;
  /** The request path the load sends (a generateContent path of TARGETS). */
  path: string;
  rounds: number;
  /** Measured seconds per gateway and round. */
  seconds: number;
  blockSeconds: number;
  /** Per gateway at start: V8 has not optimised the hot paths of a fresh process yet. */
  warmupSeconds: number;
  /** Requests/s of the warm-up (default: the measured load's RATE). */
  warmupRate?: number;
}

export interface Round {
  p50: number;
  p99: number;
  ownP50: number;
  ownP99: number;
  cpuMs: number;
}

export interface SideBySideResult {
  /** Per contender, its rounds in order. */
  rounds: Round[][];
  /** Per contender, the median of each figure over its rounds. */
  summary: Round[];
  /** Per contender, its resident memory (process_resident_memory_bytes) after the warm-up and at the end of the run. */
  rss: Array<{ afterWarmup: number; end: number }>;
  /** Per contender, the calls it answered (warm-up and rounds). */
  calls: number[];
}

/** A sample's value from a gateway's /metrics (an unlabelled series). */
export async function metricValue(url: string, name: string): Promise<number> {
  return (await metricValues(url, [name]))[name]!;
}

/** Several unlabelled samples from one scrape of a gateway's /metrics (a scrape resets some of them: prom-client's
 *  event-loop delay figures cover the time since the previous scrape). */
export async function metricValues<Name extends string>(url: string, names: readonly Name[]): Promise<Record<Name, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = {} as Record<Name, number>;
  for (const name of names) {
    const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    if (!match) throw new Error(`${name} is missing from the gateway's /metrics`);
    values[name] = Number(match[1]);
  }
  return values;
}

export const median = (values: number[]): number => stats(values).p50;

/** Every other turn in reverse, so that whatever drifts falls on the first and the last alike. */
export const inTurn = <T>(items: readonly T[], turn: number): T[] => (turn % 2 === 0 ? [...items] : [...items].reverse());

export const signed = (value: number): string => `${value >= 0 ? "+" : "−"}${ms(Math.abs(value))}`;

function summarise(rounds: Round[]): Round {
  const of = (pick: (round: Round) => number): number => median(rounds.map(pick));
  return { p50: of((r) => r.p50), p99: of((r) => r.p99), ownP50: of((r) => r.ownP50), ownP99: of((r) => r.ownP99), cpuMs: of((r) => r.cpuMs) };
}

export async function sideBySide(options: SideBySideOptions): Promise<SideBySideResult> {
  const { contenders, key, path } = options;
  const blocks = options.seconds / options.blockSeconds;
  let sim: Child | undefined;
  const gateways: Child[] = [];
  const pools: Pool[] = [];
  const companions: Companion[] = [];
  const rounds = contenders.map((): Round[] => []);
  const calls = contenders.map(() => 0);
  const rss = contenders.map(() => ({ afterWarmup: NaN, end: NaN }));
  const resident = (i: number): Promise<number> => metricValue(gateways[i]!.url, "process_resident_memory_bytes");
  try {
    sim = await startCli(["simulate", "--port", "0"], {});
    for (const contender of contenders) {
      const gateway = await startCli(["serve", "--port", "0", "--host", "127.0.0.1"], {
        GEMINI_BASE_URL: sim.url,
        GEMINI_API_KEY: "upstream-key",
        LOG_LEVEL: "info",
        ...contender.env,
      });
      gateways.push(gateway);
      pools.push(new Pool(gateway.url, { connections: 128 }));
      if (contender.companion) companions.push(contender.companion(gateway.url));
    }
    for (let second = 0; second < options.warmupSeconds; second++) {
      for (const [i, pool] of pools.entries()) calls[i]! += (await load(pool, path, key, 1, options.warmupRate)).length;
    }
    for (const i of contenders.keys()) rss[i]!.afterWarmup = await resident(i);
    for (let round = 0; round < options.rounds; round++) {
      const samples = contenders.map((): Sample[] => []);
      const cpuSeconds = contenders.map(() => 0);
      for (let block = 0; block < blocks; block++) {
        const order = inTurn([...contenders.keys()], round * blocks + block);
        for (const i of order) {
          const cpuBefore = await processCpuSeconds(gateways[i]!.url);
          samples[i]!.push(...(await load(pools[i]!, path, key, options.blockSeconds)));
          cpuSeconds[i]! += (await processCpuSeconds(gateways[i]!.url)) - cpuBefore;
        }
      }
      contenders.forEach((_, i) => {
        const own = stats(samples[i]!.map((s) => s.ownMs ?? NaN));
        calls[i]! += samples[i]!.length;
        rounds[i]!.push({ ...stats(samples[i]!.map((s) => s.totalMs)), ownP50: own.p50, ownP99: own.p99, cpuMs: (cpuSeconds[i]! * 1000) / samples[i]!.length });
      });
      process.stdout.write(
        `${options.name}: round ${round + 1}: ${contenders
          .map((c, i) => {
            const r = rounds[i]!.at(-1)!;
            return `${c.label} p50 ${ms(r.p50)} p99 ${ms(r.p99)} own p50 ${ms(r.ownP50)} CPU/call ${ms(r.cpuMs)}`;
          })
          .join("; ")}\n`,
      );
    }
    for (const i of contenders.keys()) rss[i]!.end = await resident(i);
  } finally {
    await Promise.all(companions.map((companion) => companion.stop()));
    await Promise.all(pools.map((pool) => pool.close()));
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await sim?.stop();
  }
  return { rounds, summary: rounds.map(summarise), rss, calls };
}

/** The per-round table (p50 / p99, own p50 in ms), under a line that says so. */
export function roundsTable(firstColumn: string, contenders: Array<Pick<Contender, "label">>, rounds: Round[][]): string[] {
  return [
    `Each round (p50 / p99, own p50, ms):`,
    "",
    `| ${firstColumn} | ${rounds[0]!.map((_, r) => `round ${r + 1}`).join(" | ")} |`,
    `|---|${rounds[0]!.map(() => "---:|").join("")}`,
    ...contenders.map((c, i) => `| ${c.label} | ${rounds[i]!.map((r) => `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}, ${r.ownP50.toFixed(2)}`).join(" | ")} |`),
  ];
}
