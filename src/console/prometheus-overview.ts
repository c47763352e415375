// The overview of the whole fleet, from Prometheus (PROMETHEUS_URL): the same figures as a replica's own overview,
// computed by PromQL over every replica's /metrics. Series are per-10 s rates over the last minute (Prometheus has no
// sample per replica bucket), so they are smoother than a replica's own. Only for an admin: most gateway metrics carry
// no tenant label, so a tenant key keeps its replica's view.

import { TOKEN_KINDS, type Overview, type TokenKinds } from "./api-types.js";
import { BUCKET_SECONDS, BUCKETS } from "./series.js";

type Labels = Record<string, string>;
interface RangeSeries {
  metric: Labels;
  values: Array<[number, string]>;
}
interface InstantSample {
  metric: Labels;
  value: [number, string];
}

/** Runs PromQL against Prometheus's HTTP API. */
export interface PromQl {
  range(expr: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]>;
  instant(expr: string, at: number): Promise<InstantSample[]>;
}

const PER_BUCKET = `* ${BUCKET_SECONDS}`;
const RATE = "[1m]";

/** The queries of the overview's series, each a rate per bucket (or a latency in ms). */
export const SERIES_QUERIES = {
  requests: `sum(rate(gemini_gateway_requests_total${RATE})) ${PER_BUCKET}`,
  errors: `sum(rate(gemini_gateway_requests_total{code=~"[45].."}${RATE})) ${PER_BUCKET}`,
  rateLimited: `sum(rate(gemini_gateway_requests_total{code="429"}${RATE})) ${PER_BUCKET}`,
  retries: `sum(rate(gemini_gateway_retries_total${RATE})) ${PER_BUCKET}`,
  tokens: `sum by (type) (rate(gemini_gateway_tokens_total${RATE})) ${PER_BUCKET}`,
  costUsd: `sum(rate(gemini_gateway_cost_usd_total${RATE})) ${PER_BUCKET}`,
  responses: `sum(rate(gemini_gateway_responses_total${RATE})) ${PER_BUCKET}`,
  truncations: `sum by (cause) (rate(gemini_gateway_truncations_total{cause=~"output_limit|thinking"}${RATE})) ${PER_BUCKET}`,
  latencyP50Ms: `histogram_quantile(0.5, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket${RATE}))) * 1000`,
  latencyP95Ms: `histogram_quantile(0.95, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket${RATE}))) * 1000`,
} as const;

const RECENT = "[5m]";
const RECENT_QUERIES = {
  requestsPerSecond: `sum(rate(gemini_gateway_requests_total${RECENT}))`,
  tokensPerSecond: `sum by (type) (rate(gemini_gateway_tokens_total${RECENT}))`,
  truncationRate: `sum(rate(gemini_gateway_truncations_total{cause=~"output_limit|thinking"}${RECENT})) / sum(rate(gemini_gateway_responses_total${RECENT}))`,
  rateLimited: `sum(increase(gemini_gateway_requests_total{code="429"}${RECENT}))`,
  retries: `sum(increase(gemini_gateway_retries_total${RECENT}))`,
  errors: `sum(increase(gemini_gateway_requests_total{code=~"[45].."}${RECENT}))`,
  latencyP50Ms: `histogram_quantile(0.5, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket${RECENT}))) * 1000`,
  latencyP95Ms: `histogram_quantile(0.95, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket${RECENT}))) * 1000`,
} as const;

const finite = (value: string | undefined): number | null => {
  const n = Number(value);
  return value === undefined || !Number.isFinite(n) ? null : n;
};

/** One value per time in `t` (null where Prometheus has none). */
export function alignTo(t: readonly number[], values: ReadonlyArray<[number, string]> | undefined): Array<number | null> {
  const byTime = new Map((values ?? []).map(([at, v]) => [Math.round(at * 1000), finite(v)]));
  return t.map((at) => byTime.get(at) ?? null);
}

const zeros = (values: Array<number | null>): number[] => values.map((v) => v ?? 0);

/** Fetch-based PromQL client; throws with Prometheus's error text. */
export function promQl(baseUrl: string, timeoutMs = 5000): PromQl {
  const get = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const url = new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { status: string; data?: { result: T }; error?: string };
    if (body.status !== "success" || !body.data) throw new Error(`Prometheus ${url.pathname}: ${body.error ?? res.status}`);
    return body.data.result;
  };
  return {
    range: (expr, start, end, step) => get("api/v1/query_range", { query: expr, start: String(start / 1000), end: String(end / 1000), step: `${step}s` }),
    instant: (expr, at) => get("api/v1/query", { query: expr, time: String(at / 1000) }),
  };
}

/** The fleet's overview at `now`, from Prometheus. */
export async function prometheusOverview(prom: PromQl, now: number): Promise<Overview> {
  const bucketMs = BUCKET_SECONDS * 1000;
  const last = Math.floor(now / bucketMs) * bucketMs;
  const start = last - (BUCKETS - 1) * bucketMs;
  const t = Array.from({ length: BUCKETS }, (_, i) => start + i * bucketMs);
  // Each bucket's value is the rate as of its end (the current bucket's end is ahead: Prometheus answers with its
  // latest samples).
  const ends = t.map((at) => at + bucketMs);
  const range = (expr: string): Promise<RangeSeries[]> => prom.range(expr, ends[0]!, ends.at(-1)!, BUCKET_SECONDS);
  const single = async (expr: string): Promise<Array<number | null>> => alignTo(ends, (await range(expr))[0]?.values);
  const byLabel = async (expr: string, label: string): Promise<Map<string, Array<number | null>>> =>
    new Map((await range(expr)).map((s) => [s.metric[label] ?? "", alignTo(ends, s.values)]));
  const scalar = async (expr: string): Promise<number | null> => finite((await prom.instant(expr, now))[0]?.value[1]);

  const secondsToday = Math.max(60, Math.round((now - Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate())) / 1000));
  const [requests, errors, rateLimited, retries, tokens, costUsd, responses, truncations, p50, p95] = await Promise.all([
    single(SERIES_QUERIES.requests),
    single(SERIES_QUERIES.errors),
    single(SERIES_QUERIES.rateLimited),
    single(SERIES_QUERIES.retries),
    byLabel(SERIES_QUERIES.tokens, "type"),
    single(SERIES_QUERIES.costUsd),
    single(SERIES_QUERIES.responses),
    byLabel(SERIES_QUERIES.truncations, "cause"),
    single(SERIES_QUERIES.latencyP50Ms),
    single(SERIES_QUERIES.latencyP95Ms),
  ]);
  const [recentRequests, recentTokens, truncationRate, recentLimited, recentRetries, recentErrors, recentP50, recentP95] = await Promise.all([
    scalar(RECENT_QUERIES.requestsPerSecond),
    prom.instant(RECENT_QUERIES.tokensPerSecond, now),
    scalar(RECENT_QUERIES.truncationRate),
    scalar(RECENT_QUERIES.rateLimited),
    scalar(RECENT_QUERIES.retries),
    scalar(RECENT_QUERIES.errors),
    scalar(RECENT_QUERIES.latencyP50Ms),
    scalar(RECENT_QUERIES.latencyP95Ms),
  ]);
  const spendBy = async (label: "model" | "tenant"): Promise<Array<{ key: string; todayUsd: number; lastHourUsd: number }>> => {
    const [today, hour] = await Promise.all([
      prom.instant(`sum by (${label}) (increase(gemini_gateway_cost_usd_total[${secondsToday}s]))`, now),
      prom.instant(`sum by (${label}) (increase(gemini_gateway_cost_usd_total[1h]))`, now),
    ]);
    const hourOf = new Map(hour.map((s) => [s.metric[label] ?? "", finite(s.value[1]) ?? 0]));
    return today
      .map((s) => ({ key: s.metric[label] ?? "", todayUsd: finite(s.value[1]) ?? 0, lastHourUsd: hourOf.get(s.metric[label] ?? "") ?? 0 }))
      .filter((s) => s.todayUsd > 0 || s.lastHourUsd > 0)
      .sort((a, b) => b.todayUsd - a.todayUsd);
  };
  const [byModel, byTenant, errorCodes] = await Promise.all([
    spendBy("model"),
    spendBy("tenant"),
    prom.instant(`sum by (code) (increase(gemini_gateway_requests_total{code=~"[45].."}[1h]))`, now),
  ]);
  const tokenSeries = Object.fromEntries(TOKEN_KINDS.map((kind) => [kind, zeros(tokens.get(kind) ?? t.map(() => null))])) as Record<keyof TokenKinds, number[]>;
  const tokensPerSecond = Object.fromEntries(
    TOKEN_KINDS.map((kind) => [kind, finite(recentTokens.find((s) => s.metric.type === kind)?.value[1]) ?? 0]),
  ) as unknown as TokenKinds;
  return {
    now,
    bucketSeconds: BUCKET_SECONDS,
    source: "prometheus",
    t,
    series: {
      requests: zeros(requests),
      errors: zeros(errors),
      rateLimited: zeros(rateLimited),
      retries: zeros(retries),
      tokens: tokenSeries,
      costUsd: zeros(costUsd),
      responses: zeros(responses),
      truncations: { output_limit: zeros(truncations.get("output_limit") ?? t.map(() => null)), thinking: zeros(truncations.get("thinking") ?? t.map(() => null)) },
      latencyP50Ms: p50,
      latencyP95Ms: p95,
    },
    recent: {
      requestsPerSecond: recentRequests ?? 0,
      tokensPerSecond,
      truncationRate: truncationRate ?? 0,
      rateLimited: recentLimited ?? 0,
      retries: recentRetries ?? 0,
      errors: recentErrors ?? 0,
      latencyP50Ms: recentP50,
      latencyP95Ms: recentP95,
    },
    spend: {
      todayUsd: byModel.reduce((total, s) => total + s.todayUsd, 0),
      byModel: byModel.map(({ key, ...s }) => ({ model: key, ...s })),
      byTenant: byTenant.map(({ key, ...s }) => ({ tenant: key, ...s })),
    },
    errorsByType: errorCodes
      .map((s) => ({ type: s.metric.code ?? "", count: Math.round(finite(s.value[1]) ?? 0) }))
      .filter((e) => e.count > 0)
      .sort((a, b) => b.count - a.count),
  };
}
