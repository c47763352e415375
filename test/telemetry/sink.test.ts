import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TurnRecord } from "../../src/turn/record.js";
import { T0, samples, startHarness, tapped, turn } from "./helpers.js";
import type { Harness } from "./helpers.js";

// One turn of each kind the gateway produces; the /metrics text they must give is spelled out below.
const TURNS: TurnRecord[] = [
  // plain unary success
  turn(),
  // stream cut short by the client: the usage of the last chunk seen counts, no finishReason yet
  turn({
    route: "streamGenerateContent",
    model: "models/gemini-2.5-pro",
    stream: true,
    firstChunkAt: T0 + 80,
    response: tapped({ promptTokenCount: 50, candidatesTokenCount: 10, thoughtsTokenCount: 5, totalTokenCount: 65 }, { finishReasons: [], hasVisibleParts: true }),
    clientAborted: true,
    errorType: "cancelled",
  }),
  // 503 then 429 retried, then ok; a passthrough tenant folds to other
  turn({
    model: "gemini-2.0-flash-001",
    tenant: "pt-3f2a9c",
    attempts: [
      { startedAt: T0 + 1, endedAt: T0 + 10, httpStatus: 503, outcome: "503", retry: { reason: "503", delayMs: 200, source: "backoff" } },
      { startedAt: T0 + 210, endedAt: T0 + 220, httpStatus: 429, outcome: "429", quota: "per_minute", retry: { reason: "429", delayMs: 1500, source: "retry_info" } },
      { startedAt: T0 + 1720, endedAt: T0 + 1800, httpStatus: 200, outcome: "ok" },
    ],
    response: tapped({ promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 }, { finishReasons: ["STOP"], hasVisibleParts: true }),
    endedAt: T0 + 1850,
  }),
  // per-day 429 handed to the client
  turn({
    model: "gemini-2.5-flash-001",
    attempts: [{ startedAt: T0 + 1, endedAt: T0 + 5, httpStatus: 429, outcome: "429", quota: "per_day" }],
    response: undefined,
    httpStatus: 429,
    errorType: "429",
    rateLimitedQuota: "per_day",
    endedAt: T0 + 6,
  }),
  // blocked prompt
  turn({
    model: "gemini-2.5-flash-lite",
    tenant: "globex",
    response: tapped({ promptTokenCount: 8, totalTokenCount: 8 }, { finishReasons: [], blockReason: "SAFETY", hasVisibleParts: false }),
  }),
  // thinking used the whole budget: MAX_TOKENS with no visible parts, in a session whose history was trimmed
  turn({
    route: "sessionMessage",
    model: "gemini-2.5-pro",
    tenant: "anonymous",
    conversationId: "s-1",
    sessionTurn: 3,
    trimmedTurns: 2,
    response: tapped({ promptTokenCount: 20, thoughtsTokenCount: 64, totalTokenCount: 84 }, { finishReasons: ["MAX_TOKENS"], hasVisibleParts: false }),
  }),
  // plain output-limit truncation of an unknown model: no cost, unpriced tokens
  turn({
    model: "bogus-model",
    response: tapped({ promptTokenCount: 5, candidatesTokenCount: 16, totalTokenCount: 21 }, { finishReasons: ["MAX_TOKENS"], hasVisibleParts: true }),
  }),
  // retry budget spent: a 503 that was not retried
  turn({
    attempts: [{ startedAt: T0 + 1, endedAt: T0 + 9, httpStatus: 503, outcome: "503" }],
    retryBudgetExhausted: true,
    response: undefined,
    httpStatus: 503,
    errorType: "503",
  }),
];

describe("turn sink -> /metrics", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const t of TURNS) h.telemetry.turnSink.record(t);
    h.telemetry.sessionEvent({ type: "evicted", reason: "capacity" });
    h.telemetry.sessionEvent({ type: "evicted", reason: "capacity" });
    h.telemetry.sessionEvent({ type: "evicted", reason: "ttl" });
    h.telemetry.sessionEvent({ type: "evicted", reason: "no-such-reason" });
    h.telemetry.sessionEvent({ type: "turn_cap_rejected" });
    h.telemetry.registerSessionStats(() => ({ store: "memory", sessions: 3, bytes: 4096 }));
  });
  afterAll(() => h.close());

  it("serves the classic text format by default, with exactly these gateway series", async () => {
    const { contentType, body } = await h.scrape();
    expect(contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(samples(body, "gemini_gateway_", "gen_ai_client_token_usage_sum", "gen_ai_client_token_usage_count").join("\n")).toBe(EXPECTED);
    expect(body).not.toContain("# {");
  });

  it("labels durations with error_type and times only streams to first chunk", async () => {
    const { body } = await h.scrape();
    expect(samples(body, "gen_ai_client_operation_duration_seconds_count")).toEqual([
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",error_type=""} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro",error_type="cancelled"} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.0-flash",error_type=""} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",error_type="429"} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash-lite",error_type=""} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro",error_type=""} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="other",error_type=""} 1',
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",error_type="503"} 1',
    ]);
    expect(samples(body, "gen_ai_client_operation_time_to_first_chunk_seconds_sum", "gen_ai_client_operation_time_to_first_chunk_seconds_count")).toEqual([
      'gen_ai_client_operation_time_to_first_chunk_seconds_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro"} 0.08',
      'gen_ai_client_operation_time_to_first_chunk_seconds_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro"} 1',
    ]);
  });

  it("keeps the semconv bucket boundaries", async () => {
    const { body } = await h.scrape();
    const les = (prefix: string) => [
      ...new Set(samples(body, prefix).map((l) => /le="([^"]+)"/.exec(l)?.[1])),
    ];
    expect(les("gen_ai_client_token_usage_bucket")).toEqual(
      ["1", "4", "16", "64", "256", "1024", "4096", "16384", "65536", "262144", "1048576", "4194304", "16777216", "67108864", "+Inf"],
    );
    expect(les("gen_ai_client_operation_duration_seconds_bucket")).toEqual(
      ["0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24", "20.48", "40.96", "81.92", "+Inf"],
    );
  });

  it("token counters add up to the totalTokenCount of every response", async () => {
    const { body } = await h.scrape();
    const sum = samples(body, "gemini_gateway_tokens_total").reduce((s, l) => s + Number(l.split(" ")[1]), 0);
    const reported = TURNS.reduce((s, t) => s + (t.response?.usage?.totalTokenCount ?? 0), 0);
    expect(sum).toBe(reported);
  });

  it("includes the process metrics", async () => {
    const { body } = await h.scrape();
    expect(body).toMatch(/^process_cpu_seconds_total \d/m);
    expect(body).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });
});

const EXPECTED = `gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",gen_ai_token_type="input"} 100
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",gen_ai_token_type="input"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",gen_ai_token_type="output"} 50
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",gen_ai_token_type="output"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro",gen_ai_token_type="input"} 70
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro",gen_ai_token_type="input"} 2
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro",gen_ai_token_type="output"} 79
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-pro",gen_ai_token_type="output"} 2
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.0-flash",gen_ai_token_type="input"} 10
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.0-flash",gen_ai_token_type="input"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.0-flash",gen_ai_token_type="output"} 5
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.0-flash",gen_ai_token_type="output"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash-lite",gen_ai_token_type="input"} 8
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash-lite",gen_ai_token_type="input"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash-lite",gen_ai_token_type="output"} 0
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash-lite",gen_ai_token_type="output"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="other",gen_ai_token_type="input"} 5
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="other",gen_ai_token_type="input"} 1
gen_ai_client_token_usage_sum{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="other",gen_ai_token_type="output"} 16
gen_ai_client_token_usage_count{gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="other",gen_ai_token_type="output"} 1
gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="input"} 100
gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="cached"} 0
gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="output"} 20
gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="thoughts"} 30
gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="tool_use"} 0
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="acme",type="input"} 50
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="acme",type="cached"} 0
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="acme",type="output"} 10
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="acme",type="thoughts"} 5
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="acme",type="tool_use"} 0
gemini_gateway_tokens_total{model="gemini-2.0-flash",tenant="other",type="input"} 10
gemini_gateway_tokens_total{model="gemini-2.0-flash",tenant="other",type="cached"} 0
gemini_gateway_tokens_total{model="gemini-2.0-flash",tenant="other",type="output"} 5
gemini_gateway_tokens_total{model="gemini-2.0-flash",tenant="other",type="thoughts"} 0
gemini_gateway_tokens_total{model="gemini-2.0-flash",tenant="other",type="tool_use"} 0
gemini_gateway_tokens_total{model="gemini-2.5-flash-lite",tenant="globex",type="input"} 8
gemini_gateway_tokens_total{model="gemini-2.5-flash-lite",tenant="globex",type="cached"} 0
gemini_gateway_tokens_total{model="gemini-2.5-flash-lite",tenant="globex",type="output"} 0
gemini_gateway_tokens_total{model="gemini-2.5-flash-lite",tenant="globex",type="thoughts"} 0
gemini_gateway_tokens_total{model="gemini-2.5-flash-lite",tenant="globex",type="tool_use"} 0
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="anonymous",type="input"} 20
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="anonymous",type="cached"} 0
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="anonymous",type="output"} 0
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="anonymous",type="thoughts"} 64
gemini_gateway_tokens_total{model="gemini-2.5-pro",tenant="anonymous",type="tool_use"} 0
gemini_gateway_tokens_total{model="other",tenant="acme",type="input"} 5
gemini_gateway_tokens_total{model="other",tenant="acme",type="cached"} 0
gemini_gateway_tokens_total{model="other",tenant="acme",type="output"} 16
gemini_gateway_tokens_total{model="other",tenant="acme",type="thoughts"} 0
gemini_gateway_tokens_total{model="other",tenant="acme",type="tool_use"} 0
gemini_gateway_cost_usd_total{model="gemini-2.5-flash",tenant="acme"} 0.000155
gemini_gateway_cost_usd_total{model="gemini-2.5-pro",tenant="acme"} 0.0002125
gemini_gateway_cost_usd_total{model="gemini-2.0-flash",tenant="other"} 0.000003
gemini_gateway_cost_usd_total{model="gemini-2.5-flash-lite",tenant="globex"} 8.000000000000001e-7
gemini_gateway_cost_usd_total{model="gemini-2.5-pro",tenant="anonymous"} 0.000665
gemini_gateway_unpriced_tokens_total{model="other"} 21
gemini_gateway_responses_total{model="gemini-2.5-flash",finish_reason="stop"} 1
gemini_gateway_responses_total{model="gemini-2.5-pro",finish_reason="unspecified"} 1
gemini_gateway_responses_total{model="gemini-2.0-flash",finish_reason="stop"} 1
gemini_gateway_responses_total{model="gemini-2.5-flash-lite",finish_reason="blocked"} 1
gemini_gateway_responses_total{model="gemini-2.5-pro",finish_reason="max_tokens"} 1
gemini_gateway_responses_total{model="other",finish_reason="max_tokens"} 1
gemini_gateway_truncations_total{model="gemini-2.5-pro",cause="thinking"} 1
gemini_gateway_truncations_total{model="other",cause="output_limit"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.5-flash",outcome="ok"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.5-pro",outcome="ok"} 2
gemini_gateway_upstream_attempts_total{model="gemini-2.0-flash",outcome="503"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.0-flash",outcome="429"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.0-flash",outcome="ok"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.5-flash",outcome="429"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.5-flash-lite",outcome="ok"} 1
gemini_gateway_upstream_attempts_total{model="other",outcome="ok"} 1
gemini_gateway_upstream_attempts_total{model="gemini-2.5-flash",outcome="503"} 1
gemini_gateway_retries_total{model="gemini-2.0-flash",reason="503"} 1
gemini_gateway_retries_total{model="gemini-2.0-flash",reason="429"} 1
gemini_gateway_retry_delay_seconds_bucket{le="0.05",source="backoff"} 0
gemini_gateway_retry_delay_seconds_bucket{le="0.1",source="backoff"} 0
gemini_gateway_retry_delay_seconds_bucket{le="0.25",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="0.5",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="1",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="2",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="5",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="10",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="30",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="60",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="120",source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="+Inf",source="backoff"} 1
gemini_gateway_retry_delay_seconds_sum{source="backoff"} 0.2
gemini_gateway_retry_delay_seconds_count{source="backoff"} 1
gemini_gateway_retry_delay_seconds_bucket{le="0.05",source="retry_info"} 0
gemini_gateway_retry_delay_seconds_bucket{le="0.1",source="retry_info"} 0
gemini_gateway_retry_delay_seconds_bucket{le="0.25",source="retry_info"} 0
gemini_gateway_retry_delay_seconds_bucket{le="0.5",source="retry_info"} 0
gemini_gateway_retry_delay_seconds_bucket{le="1",source="retry_info"} 0
gemini_gateway_retry_delay_seconds_bucket{le="2",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_bucket{le="5",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_bucket{le="10",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_bucket{le="30",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_bucket{le="60",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_bucket{le="120",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_bucket{le="+Inf",source="retry_info"} 1
gemini_gateway_retry_delay_seconds_sum{source="retry_info"} 1.5
gemini_gateway_retry_delay_seconds_count{source="retry_info"} 1
gemini_gateway_retry_budget_exhausted_total{model="gemini-2.5-flash"} 1
gemini_gateway_rate_limited_total{model="gemini-2.5-flash",quota="per_day"} 1
gemini_gateway_requests_total{route="generateContent",code="200"} 4
gemini_gateway_requests_total{route="streamGenerateContent",code="200"} 1
gemini_gateway_requests_total{route="generateContent",code="429"} 1
gemini_gateway_requests_total{route="sessionMessage",code="200"} 1
gemini_gateway_requests_total{route="generateContent",code="503"} 1
gemini_gateway_overhead_seconds_bucket{le="0.0001"} 0
gemini_gateway_overhead_seconds_bucket{le="0.00025"} 0
gemini_gateway_overhead_seconds_bucket{le="0.0005"} 0
gemini_gateway_overhead_seconds_bucket{le="0.001"} 8
gemini_gateway_overhead_seconds_bucket{le="0.0025"} 8
gemini_gateway_overhead_seconds_bucket{le="0.005"} 8
gemini_gateway_overhead_seconds_bucket{le="0.01"} 8
gemini_gateway_overhead_seconds_bucket{le="0.025"} 8
gemini_gateway_overhead_seconds_bucket{le="0.05"} 8
gemini_gateway_overhead_seconds_bucket{le="0.1"} 8
gemini_gateway_overhead_seconds_bucket{le="0.25"} 8
gemini_gateway_overhead_seconds_bucket{le="1"} 8
gemini_gateway_overhead_seconds_bucket{le="+Inf"} 8
gemini_gateway_overhead_seconds_sum 0.008
gemini_gateway_overhead_seconds_count 8
gemini_gateway_client_aborts_total{model="gemini-2.5-pro"} 1
gemini_gateway_session_evictions_total{reason="capacity"} 2
gemini_gateway_session_evictions_total{reason="ttl"} 1
gemini_gateway_session_evictions_total{reason="other"} 1
gemini_gateway_session_turn_bucket{le="1"} 0
gemini_gateway_session_turn_bucket{le="2"} 0
gemini_gateway_session_turn_bucket{le="4"} 1
gemini_gateway_session_turn_bucket{le="8"} 1
gemini_gateway_session_turn_bucket{le="16"} 1
gemini_gateway_session_turn_bucket{le="32"} 1
gemini_gateway_session_turn_bucket{le="64"} 1
gemini_gateway_session_turn_bucket{le="128"} 1
gemini_gateway_session_turn_bucket{le="256"} 1
gemini_gateway_session_turn_bucket{le="+Inf"} 1
gemini_gateway_session_turn_sum 3
gemini_gateway_session_turn_count 1
gemini_gateway_session_prompt_tokens_bucket{le="1"} 0
gemini_gateway_session_prompt_tokens_bucket{le="4"} 0
gemini_gateway_session_prompt_tokens_bucket{le="16"} 0
gemini_gateway_session_prompt_tokens_bucket{le="64"} 1
gemini_gateway_session_prompt_tokens_bucket{le="256"} 1
gemini_gateway_session_prompt_tokens_bucket{le="1024"} 1
gemini_gateway_session_prompt_tokens_bucket{le="4096"} 1
gemini_gateway_session_prompt_tokens_bucket{le="16384"} 1
gemini_gateway_session_prompt_tokens_bucket{le="65536"} 1
gemini_gateway_session_prompt_tokens_bucket{le="262144"} 1
gemini_gateway_session_prompt_tokens_bucket{le="1048576"} 1
gemini_gateway_session_prompt_tokens_bucket{le="4194304"} 1
gemini_gateway_session_prompt_tokens_bucket{le="16777216"} 1
gemini_gateway_session_prompt_tokens_bucket{le="67108864"} 1
gemini_gateway_session_prompt_tokens_bucket{le="+Inf"} 1
gemini_gateway_session_prompt_tokens_sum 20
gemini_gateway_session_prompt_tokens_count 1
gemini_gateway_redis_failures_total{concern="sessions"} 0
gemini_gateway_redis_failures_total{concern="resource_owners"} 0
gemini_gateway_redis_failures_total{concern="interaction_chains"} 0
gemini_gateway_redis_failures_total{concern="tenant_limits"} 0
gemini_gateway_session_unreplicated_commits_total 0
gemini_gateway_turn_cap_total{action="trimmed"} 1
gemini_gateway_turn_cap_total{action="rejected"} 1
gemini_gateway_spans_export_failed_total 0
gemini_gateway_sessions{store="memory"} 3
gemini_gateway_session_bytes{store="memory"} 4096`;
