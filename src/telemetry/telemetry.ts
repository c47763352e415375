// The telemetry service: the TurnSink that turns each TurnRecord into metrics and spans, the session-store hooks,
// and the /metrics exposition. The server assembly builds one with createTelemetry() and wires it in a few lines.

import type { TelemetryConfig } from "../config/telemetry.js";
import type { RecordedTurn, TurnRecord, TurnSink } from "../turn/record.js";
import { GatewayMetrics } from "./metrics.js";
import type { ExpositionFormat, SessionEvent, SessionStats, TenantBudgetFigure, TraceExemplar } from "./metrics.js";
import { loadPriceTable, normalizeModel } from "../pricing/price-table.js";
import { Pricer } from "../pricing/pricer.js";
import { noSessionTracing, type SessionTracing } from "../turn/session-trace.js";
import { sessionSpans } from "./session-spans.js";
import { createTracing, isSampled, recordTurnSpan } from "./tracing.js";
import { propagation } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";

export interface TelemetryOptions {
  /** Whether a tenant is one of the configured ones (others are labelled `other`; "anonymous" is kept). */
  isKnownTenant?: (tenant: string) => boolean;
  /** Start-up notices (the no-export line). Default: stderr. */
  log?: (message: string) => void;
  /** Faults while recording a turn (once per stage), span export failures (once per endpoint) and a shutdown that
   *  stopped waiting for the collector. Default: stderr. */
  logError?: (err: unknown, message: string) => void;
  /** Extra span processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
  /** Prices calls; default: the table of config.pricingFile. The server shares one with the tenants' budgets. */
  pricer?: Pricer;
}

export interface Telemetry {
  turnSink: TurnSink;
  /** Spans of session messages and their store steps (a no-op with OTEL_SDK_DISABLED). */
  sessionTracing: SessionTracing;
  /** GET /metrics body in the asked-for format. */
  render(format: ExpositionFormat): Promise<{ contentType: string; body: string }>;
  sessionEvent(event: SessionEvent): void;
  /** A request no model call covers (the gateway answered it itself): gemini_gateway_requests_total. */
  countRequest(route: string, code: number): void;
  /** A fault while recording a turn, outside the sink (the log line, a settle hook): counted, logged once per stage. */
  telemetryFault(stage: string, err: unknown): void;
  registerSessionStats(stats: () => SessionStats | undefined | Promise<SessionStats | undefined>): void;
  /** Read at each scrape: gemini_gateway_tenant_budget_usd and gemini_gateway_tenant_budget_remaining_usd. */
  registerTenantBudgets(budgets: () => Promise<TenantBudgetFigure[]>): void;
  /** An operation on the shared Redis store that failed: gemini_gateway_redis_failures_total. */
  countRedisFailure(concern: string): void;
  /** Flushes and stops the span exporter, waiting for a slow or dead collector at most a few seconds
   *  (TelemetryConfig.tracesExport.shutdownTimeoutMs). */
  shutdown(): Promise<void>;
}

export const OTHER_LABEL = "other";

/** The tenant label of a turn: a configured tenant, "anonymous", or `other` (so the label set stays bounded). */
export const tenantLabel = (tenant: string, isKnownTenant: (tenant: string) => boolean): string =>
  tenant === "anonymous" || isKnownTenant(tenant) ? tenant : OTHER_LABEL;

export function createTelemetry(config: TelemetryConfig, options: TelemetryOptions = {}): Telemetry {
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const pricer = options.pricer ?? new Pricer(loadPriceTable(config.pricingFile));
  const knownModels = [...pricer.knownModels, ...config.extraModels];
  const isKnownTenant = options.isKnownTenant ?? (() => false);
  const metrics = new GatewayMetrics({
    model: (requested) => normalizeModel(requested, knownModels) ?? OTHER_LABEL,
    tenant: (tenant) => tenantLabel(tenant, isKnownTenant),
  });
  // W3C traceparent for whoever extracts through the global API (the gateway does); a no-op when already set.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const logError = options.logError ?? ((err: unknown, message: string) => process.stderr.write(`${message}: ${String(err)}\n`));
  const tracing = createTracing({
    config,
    spanProcessors: options.spanProcessors,
    logError,
    countExportFailure: (spans) => metrics.countSpansExportFailed(spans),
  });
  if (config.tracingDisabled) log("telemetry: OTEL_SDK_DISABLED is set: no spans, no exemplars");
  else if (!config.tracesExport) log("telemetry: no OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT): traces are not exported");
  else if (config.tracesExport.exporters.length === 0) log("telemetry: OTEL_TRACES_EXPORTER=none: spans are made (exemplars, log trace ids) but not exported");

  // A turn is never lost to a telemetry fault: each stage is guarded, so a span or an exemplar that cannot be built
  // costs that span or exemplar, never the turn's counts. Each fault is counted and logged once per stage.
  const loggedStages = new Set<string>();
  const telemetryFault = (stage: string, err: unknown): void => {
    metrics.countTelemetryError(stage);
    if (loggedStages.has(stage)) return;
    loggedStages.add(stage);
    logError(err, `telemetry: recording a turn failed at the ${stage} stage (counted in gemini_gateway_telemetry_errors_total; logged once per stage)`);
  };
  metrics.onExemplarFault((err) => telemetryFault("exemplar", err));

  const turnSink: TurnSink = {
    record(turn: TurnRecord): RecordedTurn {
      let costUsd: number | undefined;
      try {
        costUsd = pricer.costOf(turn);
      } catch (err) {
        telemetryFault("metrics", err);
      }
      let recorded: RecordedTurn = {};
      let exemplar: TraceExemplar | undefined;
      if (tracing.tracer) {
        try {
          const span = recordTurnSpan(tracing.tracer, turn, { costUsd, capture: config.contentCapture });
          recorded = { traceId: span.traceId, spanId: span.spanId };
          if (isSampled(span)) exemplar = { trace_id: span.traceId, span_id: span.spanId };
        } catch (err) {
          telemetryFault("span", err);
        }
      }
      try {
        metrics.recordTurn(turn, { costUsd, exemplar });
      } catch (err) {
        telemetryFault("metrics", err);
      }
      return costUsd === undefined ? recorded : { ...recorded, costUsd };
    },
  };

  return {
    turnSink,
    sessionTracing: tracing.tracer ? sessionSpans(tracing.tracer) : noSessionTracing,
    render: (format) => metrics.render(format),
    sessionEvent: (event) => metrics.sessionEvent(event),
    countRequest: (route, code) => metrics.countRequest(route, code),
    telemetryFault,
    registerSessionStats: (stats) => metrics.registerSessionStats(stats),
    registerTenantBudgets: (budgets) => metrics.registerTenantBudgets(budgets),
    countRedisFailure: (concern) => metrics.countRedisFailure(concern),
    shutdown: () => tracing.shutdown(),
  };
}
