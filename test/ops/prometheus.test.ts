// The dashboard and the alerts against a real Prometheus (Debian's 2.42 binary) scraping a real gateway under the demo
// traffic: every panel's PromQL returns data, every rule expression evaluates, exemplars arrive, and the MAX_TOKENS
// alert is quiet under normal traffic and fires when the test forces a truncation spike through the simulator.
//
// Time is compressed. Prometheus scrapes and evaluates every second, and it loads the shipped rules with every range
// divided by 60 (a 5m window becomes 5s, the 6h baseline 6m, which spans the whole test) and every `for` set to 1s:
// the same expressions, thresholds and recording rules, on a scale that fits in a test. The dashboard's queries run
// unchanged apart from Grafana's variables ($model/$tenant as "All", $__rate_interval as a window spanning the run).
//
// Phases: (1) demo traffic with every fault episode once (429 bursts, per-day quota, 503 overload, a truncation
// spike) and occasional small maxOutputTokens, so that every series a panel shows exists; (2) clean traffic, no
// truncations, until the alert's short window holds only that: the alert must be quiet; (3) every response ends with
// MAX_TOKENS (simulator fault): the alert must fire.

import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { startDemo, type RunningDemo } from "../../src/demo/cli.js";
import { EPISODES, startTraffic, type RunningTraffic } from "../../src/demo/traffic.js";
import { gatewayScrapeConfig, RULES_FILE_NAME, startPrometheus, until, type RunningPrometheus, type Sample } from "../helpers/prometheus.js";
import { expressionRefs, loadRules, panelQueries, substituteVariables, variableQueries, type Rule } from "./promql.js";

const TIME_SCALE = 60;
/** Spans the whole run, as a dashboard over the last few minutes would. */
const RATE_INTERVAL = "5m";

/** A duration of the rules divided by TIME_SCALE, in whole seconds (at least 1). */
function compress(duration: string): string {
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[duration.slice(-1)]!;
  return `${Math.max(1, Math.round((Number(duration.slice(0, -1)) * unit) / TIME_SCALE))}s`;
}

/** The shipped rules, with compressed ranges and a 1s `for`. */
function compressedRules(): string {
  const groups = loadRules().map((group) => ({
    ...group,
    rules: group.rules.map((rule: Rule) => ({
      ...rule,
      expr: rule.expr.replace(/\[(\d+[smhd])\]/g, (_m, d: string) => `[${compress(d)}]`),
      ...(rule.for ? { for: "1s" } : {}),
    })),
  }));
  return stringify({ groups });
}

describe("dashboard and alerts against a real Prometheus", () => {
  let prometheus: RunningPrometheus | undefined;
  let demo: RunningDemo;
  let traffic: RunningTraffic | undefined;

  const api = <T>(path: string): Promise<T> => prometheus!.api<T>(path);
  const query = (expr: string): Promise<Sample[]> => prometheus!.query(expr);
  const alertStates = async (name: string): Promise<string[]> =>
    (await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>("/api/v1/alerts")).alerts
      .filter((a) => a.labels.alertname === name)
      .map((a) => a.state);

  beforeAll(async () => {
    demo = await startDemo({
      port: 0,
      host: "127.0.0.1",
      env: {
        LOG_LEVEL: "silent",
        OTEL_SERVICE_NAME: "gemini-gateway-test",
        // Small caps and fast retries: turn cap rejections, capacity evictions and budget exhaustion within seconds.
        SESSION_MAX_TURNS: "4",
        SESSION_MAX: "6",
        RETRY_BASE_MS: "20",
        RETRY_CAP_MS: "200",
        RETRY_BUDGET_FLOOR: "2",
      },
      traffic: { users: 6, rate: 40, truncationShare: 0.1, episodeIntervalMs: 300, episodeMs: 1500, seed: 7 },
      simulator: { ttftMs: 0, tokensPerSecond: 0 },
      faults: true,
    });
    traffic = demo.traffic;

    prometheus = await startPrometheus({
      // The shipped prometheus.yml, scraping only the test's gateway every second, with the compressed rules.
      config: gatewayScrapeConfig([new URL(demo.gateway.url).host], [RULES_FILE_NAME]),
      rules: compressedRules(),
      flags: ["--enable-feature=exemplar-storage"],
    });
    await prometheus.waitForTargets("gemini-gateway", 1);
  }, 60_000);

  afterAll(async () => {
    await traffic?.stop();
    await demo?.close();
    await prometheus?.stop();
  }, 30_000);

  it("phase 1: the demo traffic runs every fault episode", async () => {
    await until("every fault episode", async () => (demo.traffic.stats.episodes >= EPISODES.length ? true : undefined), 30_000);
    await demo.traffic.stop();
    const stats = demo.traffic.stats;
    expect(stats.sessionsCreated).toBeGreaterThan(0);
    expect(stats.turnCapHits).toBeGreaterThan(0);
    expect(Object.keys(stats.calls).sort()).toEqual(["generate", "session", "session_stream", "stream"]);
    // Phase 2 traffic: no truncations, no fault episodes.
    traffic = startTraffic({ target: demo.gateway.url, keys: ["demo-key", "team-a-key"], users: 4, rate: 20, truncationShare: 0, sessionMaxTurns: 4, seed: 8 });
  }, 40_000);

  it("phase 2: the MAX_TOKENS alert is quiet under clean traffic", async () => {
    const alert = loadRules().flatMap((g) => g.rules).find((r) => r.alert === "GeminiGatewayMaxTokensSpike")!;
    const compressedExpr = alert.expr.replace(/\[(\d+[smhd])\]/g, (_m, d: string) => `[${compress(d)}]`);
    // The truncation ratio's window (5m/60 = 5s) must first hold only clean traffic; then the alert stays quiet.
    await until(
      "the truncation ratio to drop to 0",
      async () => {
        const ratios = await query("job_model:gemini_gateway_truncation_ratio:rate5m");
        return ratios.length > 0 && ratios.every((s) => Number(s.value[1]) === 0 || Number.isNaN(Number(s.value[1]))) ? true : undefined;
      },
      20_000,
    );
    await sleep(2_000); // two evaluations: a pending alert from phase 1 is resolved by now
    expect(await query(compressedExpr)).toEqual([]);
    expect(await alertStates("GeminiGatewayMaxTokensSpike")).toEqual([]);
  }, 40_000);

  it("phase 3: the MAX_TOKENS alert fires on a truncation spike", async () => {
    await fetch(`${demo.simulator.url}/_sim/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rules: [{ fault: { kind: "finish", finishReason: "MAX_TOKENS" } }] }),
    });
    const states = await until(
      "GeminiGatewayMaxTokensSpike to fire",
      async () => {
        const s = await alertStates("GeminiGatewayMaxTokensSpike");
        return s.includes("firing") ? s : undefined;
      },
      25_000,
    );
    expect(states).toContain("firing");
    await fetch(`${demo.simulator.url}/_sim/faults`, { method: "DELETE" });
  }, 40_000);

  it("every dashboard panel query returns data", async () => {
    // Every target must return series (a typo or an unexported metric returns none); every panel must show at least
    // one finite value. A ratio target (e.g. mean retry delay = sum/count) is NaN, Grafana's "no value", while its
    // denominator did not move in the window: that is correct, so finiteness is asked of the panel, not each target.
    const noSeries: string[] = [];
    const finiteByPanel = new Map<string, boolean>();
    for (const q of panelQueries()) {
      const samples = await query(substituteVariables(q.expr, RATE_INTERVAL));
      if (samples.length === 0) noSeries.push(`${q.panel} [${q.refId}]: ${q.expr}`);
      const finite = samples.some((s) => Number.isFinite(Number(s.value[1])));
      finiteByPanel.set(q.panel, (finiteByPanel.get(q.panel) ?? false) || finite);
    }
    expect(noSeries).toEqual([]);
    expect([...finiteByPanel].filter(([, finite]) => !finite).map(([panel]) => panel)).toEqual([]);
  }, 30_000);

  it("every dashboard variable finds values", async () => {
    for (const q of variableQueries()) {
      const [, metric, label] = /label_values\(([^,]+),\s*([^)]+)\)/.exec(q)!;
      const values = await api<string[]>(`/api/v1/label/${label!.trim()}/values?match[]=${encodeURIComponent(metric!)}`);
      expect(values.length, q).toBeGreaterThan(0);
    }
  });

  it("every shipped rule expression evaluates, and every metric the rules read is scraped", async () => {
    const rules = loadRules().flatMap((g) => g.rules);
    for (const rule of rules) await query(rule.expr); // throws on a PromQL error
    const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
    const metrics = new Set(rules.flatMap((r) => expressionRefs(r.expr).selectors.map((s) => s.metric)).filter((m) => !recorded.has(m)));
    const absent: string[] = [];
    for (const metric of metrics) if ((await query(`count(${metric})`)).length === 0) absent.push(metric);
    expect(absent).toEqual([]);
    expect(await alertStates("GeminiGatewayDown")).toEqual([]);
  }, 30_000);

  it("exemplars carry trace ids (--enable-feature=exemplar-storage)", async () => {
    const now = Date.now() / 1000;
    const data = await api<Array<{ exemplars: Array<{ labels: Record<string, string> }> }>>(
      `/api/v1/query_exemplars?query=${encodeURIComponent("gen_ai_client_operation_duration_seconds_bucket")}&start=${now - 600}&end=${now}`,
    );
    const exemplars = data.flatMap((series) => series.exemplars);
    expect(exemplars.length).toBeGreaterThan(0);
    expect(exemplars[0]!.labels.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });
});
