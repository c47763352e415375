// Three `gemini-gateway serve` replicas on one Redis session store (db 13, a prefix of this run), scraped by a real
// Prometheus as one job, as the shipped prometheus.yml says to add replicas. The dashboard's "Sessions held" and
// "Session bytes" panels sum the gauges over replicas: they must show the store's own figures, not three times them,
// because only the replica holding the stats reporter lease exports a sample.

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayScrapeConfig, startPrometheus, type RunningPrometheus } from "../helpers/prometheus.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";
import { call, dropKeys } from "../sessions/harness.js";
import { spawnGateway, type GatewayProcess } from "../sessions/process.js";
import { panelQueries, substituteVariables } from "./promql.js";

const REDIS = "redis://127.0.0.1:6379/13";
const PREFIX = `fleet-${randomBytes(4).toString("hex")}:`;
const JOB = "gemini-gateway";
const REPLICAS = 3;
const SESSIONS_CREATED = 7;
/** The session panels' queries have no range; substituteVariables wants one anyway. */
const RATE_INTERVAL = "1m";
/** The reporter refreshes its figures every 10 s; Prometheus scrapes every second. */
const FIGURES_TIMEOUT_MS = 40_000;

let sim: TestSimulator | undefined;
let gateways: GatewayProcess[] = [];
let prometheus: RunningPrometheus | undefined;

beforeAll(async () => {
  sim = await startTestSimulator();
  const upstream = sim.url;
  // allSettled: replicas that did start are stopped in afterAll even if another failed to.
  const started = await Promise.allSettled(
    Array.from({ length: REPLICAS }, () => spawnGateway(upstream, { SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: PREFIX })),
  );
  gateways = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  prometheus = await startPrometheus({ config: gatewayScrapeConfig(gateways.map((g) => new URL(g.url).host)) });
  await prometheus.waitForTargets(JOB, REPLICAS);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all(gateways.filter((g) => g.child.exitCode === null && g.child.signalCode === null).map((g) => g.stop()));
  await sim?.close();
  await dropKeys(REDIS, PREFIX);
}, 30_000);

/** The one query of a dashboard panel, as Grafana would run it. */
function panelExpr(title: string): string {
  const queries = panelQueries().filter((q) => q.panel === title);
  expect(queries, title).toHaveLength(1);
  return substituteVariables(queries[0]!.expr, RATE_INTERVAL);
}

/** Sessions spread over the replicas: each created on one, its first turn sent through the next. */
async function createSessions(): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < SESSIONS_CREATED; i++) {
    const created = await call(gateways[i % REPLICAS]!.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // Messages of different lengths, so that a byte total off by one session would show.
    const sent = await call(gateways[(i + 1) % REPLICAS]!.url, "POST", `/v1/sessions/${id}/messages`, { message: `message ${i} `.repeat(i + 1) });
    expect(sent.status).toBe(200);
    ids.push(id);
  }
  return ids;
}

/** The store's bytes read straight from Redis: the JSON held in each live session's hash. */
async function storedBytes(ids: string[]): Promise<number> {
  const redis = new Redis(REDIS);
  try {
    const lengths = await Promise.all(ids.map((id) => redis.hstrlen(`${PREFIX}s:{${id}}`, "d")));
    expect(lengths.every((length) => length > 0)).toBe(true);
    return lengths.reduce((sum, length) => sum + length, 0);
  } finally {
    await redis.quit();
  }
}

describe("session gauges of three replicas on one Redis store", () => {
  it("the dashboard's session panels show the store's figures, exported by exactly one replica", async () => {
    const ids = await createSessions();
    const [deleted, ...live] = ids;
    expect((await call(gateways[2]!.url, "DELETE", `/v1/sessions/${deleted!}`)).status).toBe(204);
    const expected = { sessions: live.length, bytes: await storedBytes(live) };
    expect(expected.sessions).toBe(SESSIONS_CREATED - 1);

    const sessionsExpr = panelExpr("Sessions held");
    const bytesExpr = panelExpr("Session bytes");
    const single = async (expr: string): Promise<number | undefined> => {
      const samples = await prometheus!.query(expr);
      return samples.length === 1 ? Number(samples[0]!.value[1]) : undefined;
    };
    const shown = await prometheus!.until(
      `the dashboard to show ${JSON.stringify(expected)}`,
      async () => {
        const figures = { sessions: await single(sessionsExpr), bytes: await single(bytesExpr) };
        // Thrown, not returned: a timeout then says what the panels showed last.
        if (figures.sessions !== expected.sessions || figures.bytes !== expected.bytes) throw new Error(`shown ${JSON.stringify(figures)}`);
        return figures;
      },
      FIGURES_TIMEOUT_MS,
    );
    expect(shown).toEqual(expected);

    // One replica's sample, not three: the sum above is the store's figure, not a multiple of it.
    expect(await single("count(gemini_gateway_sessions)")).toBe(1);
    expect(await single("count(gemini_gateway_session_bytes)")).toBe(1);
    const reported = await prometheus!.query("gemini_gateway_sessions");
    expect(reported.map((s) => s.metric.store)).toEqual(["redis"]);
    expect(gateways.map((g) => new URL(g.url).host)).toContain(reported[0]!.metric.instance);
  }, 60_000);
});
