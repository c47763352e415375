// The Prometheus metrics of the gateway (a contract: dashboards, alerts and users' rules name them), derived from
// TurnRecords and session events. Labels are bounded: models fold to a known set, tenants to the configured ones.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RegistryContentType } from "prom-client";
import { finishReasonLabel, truncationCause } from "../gemini/finish.js";
import { breakdownTotal, promptTokens, TOKEN_TYPES } from "../gemini/usage.js";
import type { TurnRecord } from "../turn/record.js";
import { DURATION_BUCKETS, GEN_AI_PROVIDER_GEMINI, TOKEN_USAGE_BUCKETS } from "./semconv.js";

/** Exemplar labels of a sampled span. */
export interface TraceExemplar {
  trace_id: string;
  span_id: string;
}

/** Events of the session store. */
export type SessionEvent = { type: "evicted"; reason: string } | { type: "turn_cap_rejected" } | { type: "unreplicated_commit" };

/** The session store's figures, from the replica that reports them: every replica for its own memory store; for a
 *  shared Redis store, one replica at a time (the others report none, so a sum over replicas counts the store once). */
export interface SessionStats {
  store: "memory" | "redis";
  sessions: number;
  bytes: number;
}

/** A tenant's budget (tenants file) and what is left of it in its current window. On a Redis store every replica reads
 *  the same store-wide figure, so dashboards take max/min over replicas, never a sum. */
export interface TenantBudgetFigure {
  tenant: string;
  window: "day" | "month";
  budgetUsd: number;
  remainingUsd: number;
}

/** Maps raw label values onto bounded sets. */
export interface LabelFolding {
  model(requested: string): string;
  tenant(tenant: string): string;
}

/** What telemetry knows about a turn besides the record itself. */
export interface TurnFacts {
  /** USD; undefined when the model has no price. */
  costUsd?: number;
  exemplar?: TraceExemplar;
}

export type ExpositionFormat = "openmetrics" | "prometheus";

/**
 * The exposition format an Accept header prefers: OpenMetrics only when it is asked for with a higher quality than
 * the classic text (Prometheus sends `application/openmetrics-text;version=1.0.0,...,text/plain;...;q=0.5,...`);
 * the classic text for an absent header, a wildcard and ties.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  let openMetrics = 0;
  let classic = 0;
  for (const entry of (accept ?? "").split(",")) {
    const [type = "", ...params] = entry.split(";").map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0;
    if (type === "application/openmetrics-text") openMetrics = Math.max(openMetrics, q);
    else if (type === "text/plain" || type === "text/*" || type === "*/*") classic = Math.max(classic, q);
  }
  return openMetrics > classic ? "openmetrics" : "prometheus";
}

export const EVICTION_REASONS = ["capacity", "bytes", "ttl", "deleted"] as const;
/** What the shared Redis store is for (src/store/redis.ts StoreConcern): each exported from the start, at 0. */
const REDIS_CONCERNS = ["sessions", "resource_owners", "interaction_chains", "tenant_limits"] as const;
const KNOWN_EVICTION_REASONS: ReadonlySet<string> = new Set(EVICTION_REASONS);
const NAMED_ERROR_TYPES: ReadonlySet<string> = new Set(["timeout", "network", "cancelled", "midstream_error", "failed"]);
/** OpenMetrics' bound on an exemplar's label names and values together (prom-client enforces it). */
const MAX_EXEMPLAR_LABEL_CHARS = 128;
const exemplarLabelLength = (labels: TraceExemplar): number => Object.entries(labels).reduce((n, [k, v]) => n + k.length + v.length, 0);
/** Operations on a model (the OTel GenAI histograms cover these): inference, counting, the model catalog. */
const MODEL_OPERATIONS: ReadonlySet<string> = new Set(["generate_content", "chat", "embeddings", "count_tokens", "list_models", "get_model"]);
/** Calls whose answers carry finish reasons: gemini_gateway_responses_total and truncations count them. */
const INFERENCE_OPERATIONS: ReadonlySet<string> = new Set(["generate_content", "chat"]);

/** error_type label: "" when ok, an HTTP status, or one of the named kinds; anything else folds to `other`. */
export function errorTypeLabel(errorType: string | undefined): string {
  if (!errorType) return "";
  return /^\d{3}$/.test(errorType) || NAMED_ERROR_TYPES.has(errorType) ? errorType : "other";
}

const MISNAMED_DEFAULT_GAUGES = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];
const RETRY_DELAY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const SESSION_TURN_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

type Labels = Record<string, string>;

export class GatewayMetrics {
  /** One registry, rendered in either exposition format per scrape (see render()). */
  readonly registry = openMetricsRegistry();
  private readonly metricNames = new Map<{ name: string }, string>();
  private scrapes: Promise<unknown> = Promise.resolve();
  private sessionStats: (() => SessionStats | undefined | Promise<SessionStats | undefined>) | undefined;
  private tenantBudgets: (() => Promise<TenantBudgetFigure[]>) | undefined;

  private readonly tokenUsage = this.histogram("gen_ai_client_token_usage", "Tokens per model call (OTel GenAI gen_ai.client.token.usage; input = prompt incl. cached, output = candidates + thoughts).", ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"], TOKEN_USAGE_BUCKETS);
  private readonly operationDuration = this.histogram("gen_ai_client_operation_duration_seconds", "Duration of a model call as the client saw it (OTel GenAI gen_ai.client.operation.duration).", ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"], DURATION_BUCKETS);
  private readonly timeToFirstChunk = this.histogram("gen_ai_client_operation_time_to_first_chunk_seconds", "Time until the first chunk of a streamed response reached the client (OTel GenAI).", ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"], DURATION_BUCKETS);
  private readonly tokens = this.counter("gemini_gateway_tokens_total", "Tokens by type: input (prompt minus cached), cached, output (candidates), thoughts, tool_use; they add up to totalTokenCount.", ["model", "tenant", "type"]);
  private readonly cost = this.counter("gemini_gateway_cost_usd_total", "Cost in USD from the price table (thinking billed as output).", ["model", "tenant"]);
  private readonly unpricedTokens = this.counter("gemini_gateway_unpriced_tokens_total", "Tokens of models missing from the price table (counted at no cost).", ["model"]);
  private readonly responses = this.counter("gemini_gateway_responses_total", "Model responses by finish reason (lower-case enum; blocked = prompt blocked; unspecified = none).", ["model", "finish_reason"]);
  private readonly truncations = this.counter("gemini_gateway_truncations_total", "Truncated responses by cause: output_limit or thinking (MAX_TOKENS; thinking when thoughts used the budget and no visible text came back), budget_exceeded or requires_continuation (interactions).", ["model", "cause"]);
  private readonly attempts = this.counter("gemini_gateway_upstream_attempts_total", "Upstream attempts by outcome.", ["model", "outcome"]);
  private readonly retries = this.counter("gemini_gateway_retries_total", "Retries by the outcome that caused them.", ["model", "reason"]);
  private readonly retryDelay = this.histogram("gemini_gateway_retry_delay_seconds", "Delay before each retry by where it came from.", ["source"], RETRY_DELAY_BUCKETS);
  private readonly retryBudgetExhausted = this.counter("gemini_gateway_retry_budget_exhausted_total", "Calls that failed without retrying because the retry budget was spent.", ["model"]);
  private readonly rateLimited = this.counter("gemini_gateway_rate_limited_total", "429s handed to clients, by quota kind.", ["model", "quota"]);
  private readonly requests = this.counter("gemini_gateway_requests_total", "Requests by route and the status returned: model calls (from their turn record) and the requests the gateway answered itself (rejections, session CRUD; route unknown for paths it does not serve).", ["route", "code"]);
  private readonly overhead = this.histogram("gemini_gateway_overhead_seconds", "Time in the gateway from a model call's request arriving to its first upstream attempt: reading and checking the request, and for a session message the store work and the wait for its turn.", [], OVERHEAD_BUCKETS);
  private readonly clientAborts = this.counter("gemini_gateway_client_aborts_total", "Model calls the client abandoned before the end.", ["model"]);
  private readonly sessionEvictions = this.counter("gemini_gateway_session_evictions_total", "Sessions evicted by reason.", ["reason"]);
  private readonly sessionTurn = this.histogram("gemini_gateway_session_turn", "Turn number of each session message.", [], SESSION_TURN_BUCKETS);
  private readonly sessionPromptTokens = this.histogram("gemini_gateway_session_prompt_tokens", "promptTokenCount per session turn: how context grows.", [], TOKEN_USAGE_BUCKETS);
  private readonly limitRejections = this.counter("gemini_gateway_limit_rejections_total", "Calls refused before upstream by their tenant's policy (GATEWAY_CONFIG): limit is the limit reached (requestsPerMinute, tokensPerMinute, concurrentRequests, ...) or models (a model outside the tenant's list).", ["tenant", "limit"]);
  private readonly redisFailures = this.counter("gemini_gateway_redis_failures_total", "Operations on the shared Redis store that failed (each answered 503 UNAVAILABLE), by what they were for: sessions, resource_owners, interaction_chains, tenant_limits.", ["concern"]);
  private readonly unreplicatedCommits = this.counter("gemini_gateway_session_unreplicated_commits_total", "Session turns acknowledged although fewer Redis replicas than SESSION_REDIS_WAIT_REPLICAS confirmed them in time: a failover now could lose them.", []);
  private readonly turnCap = this.counter("gemini_gateway_turn_cap_total", "Turn cap hits by action: rejected, trimmed.", ["action"]);
  private readonly telemetryErrors = this.counter("gemini_gateway_telemetry_errors_total", "Faults while recording a turn, by stage: span, exemplar, metrics, log, settle, console. The turn's metrics are still recorded (an exemplar is dropped, not the count).", ["stage"]);
  private readonly spansExportFailed = this.counter("gemini_gateway_spans_export_failed_total", "Spans the OTLP exporter failed to deliver to the collector: they are dropped (the first failure per endpoint is logged).", []);
  /** Called when an exemplar was refused (the count was still recorded without it). */
  private exemplarFault: (err: unknown) => void = () => undefined;

  constructor(private readonly folding: LabelFolding) {
    const stats = async (): Promise<SessionStats | undefined> => this.sessionStats?.();
    const storeGauge = (name: string, help: string, value: (s: SessionStats) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ["store"],
        registers: [this.registry],
        async collect() {
          const s = await stats();
          this.reset(); // no sample from a replica that does not report the shared store's figures
          if (s) this.set({ store: s.store }, value(s));
        },
      });
    };
    storeGauge(
      "gemini_gateway_sessions",
      "Sessions held by the store: a memory store's on every replica; a Redis store's on one replica at a time, so sum() over replicas is right.",
      (s) => s.sessions,
    );
    storeGauge(
      "gemini_gateway_session_bytes",
      "JSON bytes of the sessions held by the store, reported like gemini_gateway_sessions.",
      (s) => s.bytes,
    );
    const budgets = async (): Promise<TenantBudgetFigure[]> => (await this.tenantBudgets?.()) ?? [];
    const budgetGauge = (name: string, help: string, value: (b: TenantBudgetFigure) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ["tenant", "window"],
        registers: [this.registry],
        async collect() {
          const figures = await budgets();
          this.reset(); // a tenant removed from the file (or unreadable while the store is down) has no sample
          for (const b of figures) this.set({ tenant: b.tenant, window: b.window }, value(b));
        },
      });
    };
    budgetGauge("gemini_gateway_tenant_budget_usd", "A tenant's budget in USD (tenants file usdPerDay, usdPerMonth) by window: day or month (UTC).", (b) => b.budgetUsd);
    budgetGauge(
      "gemini_gateway_tenant_budget_remaining_usd",
      "A tenant's budget minus its spend counted in the current window (below 0 by at most the calls in flight when it was reached). On Redis every replica reports the store-wide figure: aggregate with max or min, not sum.",
      (b) => b.remainingUsd,
    );
    // A failure count that appears only with the first failure would leave rate() and alerts blind to the first one.
    for (const concern of REDIS_CONCERNS) this.redisFailures.inc({ labels: { concern }, value: 0 });
    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges `_total`, which `promtool check metrics` rejects; their per-type siblings
    // (nodejs_active_handles{type} ...) carry the same numbers.
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    for (const metric of this.registry.getMetricsAsArray()) this.metricNames.set(metric, metric.name);
  }

  /** Where refused exemplars are reported (telemetry counts and logs them). */
  onExemplarFault(report: (err: unknown) => void): void {
    this.exemplarFault = report;
  }

  countRedisFailure(concern: string): void {
    this.redisFailures.inc({ labels: { concern }, value: 1 });
  }

  countTelemetryError(stage: string): void {
    this.telemetryErrors.inc({ labels: { stage }, value: 1 });
  }

  countSpansExportFailed(spans: number): void {
    this.spansExportFailed.inc({ labels: {}, value: spans });
  }

  registerSessionStats(fn: () => SessionStats | undefined | Promise<SessionStats | undefined>): void {
    this.sessionStats = fn;
  }

  registerTenantBudgets(fn: () => Promise<TenantBudgetFigure[]>): void {
    this.tenantBudgets = fn;
  }

  /** Everything a finished call contributes. */
  recordTurn(turn: TurnRecord, facts: TurnFacts = {}): void {
    const model = this.folding.model(turn.model);
    const tenant = this.folding.tenant(turn.tenant);
    const ex = this.usableExemplar(facts.exemplar);
    const inc = (counter: Counter<string>, labels: Labels, value: number): void => this.inc(counter, labels, value, ex);
    const observe = (histogram: Histogram<string>, labels: Labels, value: number): void => this.observe(histogram, labels, value, ex);
    const genAi = { gen_ai_operation_name: turn.operation, gen_ai_provider_name: GEN_AI_PROVIDER_GEMINI, gen_ai_request_model: model };

    inc(this.requests, { route: turn.route, code: String(turn.httpStatus) }, 1);
    // The OTel GenAI histograms describe model operations; the REST resources' CRUD (caches, files, batches...) would
    // only blur their latency and size distributions.
    const modelOperation = MODEL_OPERATIONS.has(turn.operation);
    if (modelOperation) {
      observe(this.operationDuration, { ...genAi, error_type: errorTypeLabel(turn.errorType) }, (turn.endedAt - turn.startedAt) / 1000);
    }
    if (modelOperation && turn.stream && turn.firstChunkAt !== undefined) {
      observe(this.timeToFirstChunk, genAi, (turn.firstChunkAt - turn.startedAt) / 1000);
    }
    if (turn.gatewayOverheadMs !== undefined) observe(this.overhead, {}, turn.gatewayOverheadMs / 1000);

    turn.attempts.forEach((attempt) => {
      inc(this.attempts, { model, outcome: attempt.outcome }, 1);
      if (attempt.retry) {
        inc(this.retries, { model, reason: attempt.retry.reason }, 1);
        observe(this.retryDelay, { source: attempt.retry.source }, attempt.retry.delayMs / 1000);
      }
    });
    if (turn.retryBudgetExhausted) inc(this.retryBudgetExhausted, { model }, 1);
    // A tenant limit's 429 is the gateway's own refusal, not Google's rate limit handed on.
    if (turn.refusedBy) inc(this.limitRejections, { tenant, limit: turn.refusedBy }, 1);
    else if (turn.httpStatus === 429) inc(this.rateLimited, { model, quota: turn.rateLimitedQuota ?? "unknown" }, 1);
    if (turn.clientAborted) inc(this.clientAborts, { model }, 1);
    if (turn.trimmedTurns) this.inc(this.turnCap, { action: "trimmed" }, 1);
    if (turn.sessionTurn !== undefined) observe(this.sessionTurn, {}, turn.sessionTurn);

    const response = turn.response;
    if (!response || response.pending) return;
    // An inference call always has an outcome ("unspecified" when a stream was cut before its end); another call has
    // one when its answer carried it (a background interaction read finished). An answer that reports its turn failed
    // (an interaction failed or cancelled) is an error, counted by its error_type, not a response.
    if (!response.errorType && (INFERENCE_OPERATIONS.has(turn.operation) || response.finishReasons.length > 0)) {
      inc(this.responses, { model, finish_reason: finishReasonLabel(response) }, 1);
      const cause = truncationCause(response);
      if (cause) inc(this.truncations, { model, cause }, 1);
    }
    const tokens = response.tokens;
    if (!tokens) return;
    for (const type of TOKEN_TYPES) inc(this.tokens, { model, tenant, type }, tokens[type]);
    if (facts.costUsd === undefined) inc(this.unpricedTokens, { model }, breakdownTotal(tokens));
    else inc(this.cost, { model, tenant }, facts.costUsd);
    if (modelOperation) {
      observe(this.tokenUsage, { ...genAi, gen_ai_token_type: "input" }, promptTokens(tokens));
      observe(this.tokenUsage, { ...genAi, gen_ai_token_type: "output" }, tokens.output + tokens.thoughts);
    }
    if (turn.sessionTurn !== undefined) observe(this.sessionPromptTokens, {}, promptTokens(tokens));
  }

  countRequest(route: string, code: number): void {
    this.inc(this.requests, { route, code: String(code) }, 1);
  }

  sessionEvent(event: SessionEvent): void {
    switch (event.type) {
      case "turn_cap_rejected":
        return this.inc(this.turnCap, { action: "rejected" }, 1);
      case "unreplicated_commit":
        return this.inc(this.unreplicatedCommits, {}, 1);
      case "evicted":
        return this.inc(this.sessionEvictions, { reason: KNOWN_EVICTION_REASONS.has(event.reason) ? event.reason : "other" }, 1);
    }
  }

  /** Renders the registry; scrapes run one at a time because the format is a registry-wide setting. */
  render(format: ExpositionFormat): Promise<{ contentType: string; body: string }> {
    const result = this.scrapes.then(async () => {
      const contentType = format === "openmetrics" ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
      this.registry.setContentType(contentType);
      // prom-client's OpenMetrics rendering strips `_total` from counter names in place; put them back for the classic one.
      if (format === "prometheus") for (const [metric, name] of this.metricNames) metric.name = name;
      return { contentType, body: await this.registry.metrics() };
    });
    this.scrapes = result.catch(() => undefined);
    return result;
  }

  private inc(counter: Counter<string>, labels: Labels, value: number, exemplar?: TraceExemplar): void {
    // An exemplar on a zero increment would be recorded with value 1 by prom-client: skip it.
    counter.inc({ labels, value, exemplarLabels: exemplar && value > 0 ? { ...exemplar } : undefined });
  }

  private observe(histogram: Histogram<string>, labels: Labels, value: number, exemplar?: TraceExemplar): void {
    histogram.observe({ labels, value, exemplarLabels: exemplar ? { ...exemplar } : undefined });
  }

  /** The exemplar if prom-client will take it. prom-client counts first and checks the exemplar after, throwing:
   *  one it would refuse is dropped here (and reported), so the count is recorded once and nothing throws. */
  private usableExemplar(exemplar: TraceExemplar | undefined): TraceExemplar | undefined {
    if (!exemplar) return undefined;
    if (exemplarLabelLength(exemplar) <= MAX_EXEMPLAR_LABEL_CHARS) return exemplar;
    this.exemplarFault(new RangeError(`exemplar labels of ${exemplarLabelLength(exemplar)} characters (OpenMetrics allows ${MAX_EXEMPLAR_LABEL_CHARS})`));
    return undefined;
  }

  // Every counter enables exemplars so that one inc() form serves all (prom-client's inc changes shape with it).
  private counter(name: string, help: string, labelNames: string[]): Counter<string> {
    return new Counter({ name, help, labelNames, enableExemplars: true, registers: [this.registry] });
  }

  private histogram(name: string, help: string, labelNames: string[], buckets: number[]): Histogram<string> {
    return new Histogram({ name, help, labelNames, buckets, enableExemplars: true, registers: [this.registry] });
  }
}

// prom-client accepts exemplar-enabled metrics only on a registry that is OpenMetrics when they are created.
function openMetricsRegistry(): Registry<RegistryContentType> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry;
}

