// OpenTelemetry traces of model calls: one CLIENT span `generate_content {model}` per TurnRecord with the GenAI
// v1.41 attributes, a child span per upstream attempt, retry and history-trim events. Spans are built after the
// fact from the record's timestamps, so the data path never waits on tracing.
//
// The tracer provider is the OpenTelemetry SDK's, configured by its standard variables: the SDK's own classes read
// them (the OTLP exporters their endpoint, headers, timeout, compression and TLS files; the batch processor
// OTEL_BSP_*; the provider the sampler and span limits; the env detector OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME). Each telemetry instance builds its own provider and registers nothing globally (no
// NodeSDK.start()), so that tests can run many gateways in one process.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api";
import type { Attributes, SpanContext, Tracer } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import type { ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpGrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as OtlpJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { containerDetector } from "@opentelemetry/resource-detector-container";
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from "@opentelemetry/resources";
import type { Resource, ResourceDetector } from "@opentelemetry/resources";
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { DEFAULT_RESOURCE_DETECTORS, SDK_SETTINGS } from "../config/telemetry.js";
import type { ContentCapture, OtlpProtocol, ResourceDetectorName, TelemetryConfig } from "../config/telemetry.js";
import type { Content, Part } from "../gemini/types.js";
import { promptTokens } from "../gemini/usage.js";
import type { TurnRecord } from "../turn/record.js";
import * as sc from "./semconv.js";

export interface Tracing {
  /** Undefined when OTEL_SDK_DISABLED. */
  tracer?: Tracer;
  /** Flushes the spans not yet exported, waiting at most config.tracesExport.shutdownTimeoutMs for the collector. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  config: TelemetryConfig;
  /** Extra processors (tests: an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** Export failures (once per endpoint) and a shutdown that stopped waiting for the collector. */
  logError: (err: unknown, message: string) => void;
  /** Every failed export, with the number of spans it dropped. */
  countExportFailure?: (spans: number) => void;
}

/**
 * Runs `build` while process.env holds exactly `settings` for the SDK's variables (SDK_SETTINGS), then restores it.
 * The SDK reads its configuration from process.env only, while the gateway's settings come from the environment and
 * the flags (and tests build many gateways with different settings in one process): this is how the SDK sees the
 * gateway's settings and nothing else. `build` must be synchronous, so nothing else runs under the swapped values.
 */
function underSdkSettings<T>(settings: Readonly<Record<string, string>> | undefined, build: () => T): T {
  const saved = SDK_SETTINGS.map((name) => [name, process.env[name]] as const);
  const apply = (name: string, value: string | undefined): void => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  try {
    for (const name of SDK_SETTINGS) apply(name, settings?.[name]);
    return build();
  } finally {
    for (const [name, value] of saved) apply(name, value);
  }
}

/**
 * An exporter that reports failed exports, and exports under the gateway's settings: the gRPC exporter reads its TLS
 * files (OTEL_EXPORTER_OTLP_*CERTIFICATE, *CLIENT_KEY) only when it first connects, inside export().
 */
class ReportingSpanExporter implements SpanExporter {
  constructor(
    private readonly exporter: SpanExporter,
    private readonly settings: Readonly<Record<string, string>> | undefined,
    private readonly onFailure: (error: Error | undefined, spans: number) => void,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    underSdkSettings(this.settings, () =>
      this.exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) this.onFailure(result.error, spans.length);
        resultCallback(result);
      }),
    );
  }

  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.exporter.forceFlush?.() ?? Promise.resolve();
  }
}

/** The OTLP exporter of a protocol, as sdk-node's getSpanProcessorsFromEnv picks it; the exporter reads the rest of
 *  its configuration (endpoint, headers, timeout, compression, TLS) from the environment itself. That helper is not
 *  part of sdk-node's API (0.223 exports NodeSDK and startNodeSDK, which register globals), and its exporters cannot be
 *  wrapped to report failures, hence these three lines here. */
function otlpExporter(protocol: OtlpProtocol): SpanExporter {
  switch (protocol) {
    case "grpc":
      return new OtlpGrpcTraceExporter();
    case "http/json":
      return new OtlpJsonTraceExporter();
    case "http/protobuf":
      return new OtlpProtobufTraceExporter();
  }
}

// Resource attribute names (stable semantic conventions).
const SERVICE_NAME = "service.name";
const PROCESS_COMMAND_ARGS = "process.command_args";

/** The process detector without the command line: flags can carry settings the collector must not see. */
const processDetectorWithoutArgs: ResourceDetector = {
  detect(config) {
    const { [PROCESS_COMMAND_ARGS]: _commandArgs, ...attributes } = processDetector.detect(config).attributes ?? {};
    return { attributes };
  },
};

/** Detectors of facts that do not change while the process runs, in merge order (a later one's attribute wins). */
const PROCESS_WIDE_DETECTORS: ReadonlyArray<[ResourceDetectorName, ResourceDetector]> = [
  ["host", hostDetector],
  ["os", osDetector],
  ["process", processDetectorWithoutArgs],
  ["container", containerDetector],
  ["serviceinstance", serviceInstanceIdDetector],
];
/** How long start-up waits for a detector's asynchronous attributes (host.id, container.id: a file read each). */
const DETECTION_SETTLE_MS = 1000;

async function settledAttributes(detector: ResourceDetector): Promise<Attributes> {
  const detected = detectResources({ detectors: [detector] });
  let timer: NodeJS.Timeout | undefined;
  const givenUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, DETECTION_SETTLE_MS).unref()));
  await Promise.race([detected.waitForAsyncAttributes?.(), givenUp]);
  clearTimeout(timer);
  // An attribute still unsettled now is left out.
  return detected.attributes;
}

// Detected once per process, with the asynchronous attributes settled here, at start-up: a resource with pending
// attributes makes every processor wait for them before it sees a span (so spans would reach the in-process
// processors, and the exemplars' spans the exporters, only later), and these facts are the same for every telemetry
// instance of the process. (Top-level await: importing this module takes the few milliseconds of those file reads.)
const processWideAttributes: ReadonlyMap<ResourceDetectorName, Attributes> = new Map(
  await Promise.all(PROCESS_WIDE_DETECTORS.map(async ([name, detector]) => [name, await settledAttributes(detector)] as const)),
);

/** The SDK's default resource (telemetry.sdk.*), the gateway's default service.name, the enabled detectors' attributes,
 *  then the env detector's (OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME), which win: an operator can correct a
 *  detected value. The env detector reads the environment: call under the SDK settings. */
function gatewayResource(config: TelemetryConfig): Resource {
  const enabled = config.resourceDetectors ?? DEFAULT_RESOURCE_DETECTORS;
  let resource = defaultResource().merge(resourceFromAttributes({ [SERVICE_NAME]: config.serviceName }));
  for (const [name, attributes] of processWideAttributes) if (enabled.includes(name)) resource = resource.merge(resourceFromAttributes(attributes));
  if (enabled.includes("env")) resource = resource.merge(detectResources({ detectors: [envDetector] }));
  return resource;
}

export function createTracing(options: TracingOptions): Tracing {
  const { config, logError } = options;
  if (config.tracingDisabled) return { shutdown: async () => undefined };
  const settings = config.sdkSettings;
  const exporting = config.tracesExport;
  const endpoint = config.otlpTracesUrl ?? "the exporter";

  // Failures are logged once: a dead collector fails every batch, and batches are a few seconds apart. After
  // shutdown nothing is logged any more (an export still pending then ends after the gateway said it stopped).
  let failureLogged = false;
  let stopped = false;
  const onFailure = (error: Error | undefined, spans: number): void => {
    options.countExportFailure?.(spans);
    if (failureLogged || stopped) return;
    failureLogged = true;
    logError(error, `telemetry: exporting spans to ${endpoint} (OTLP ${exporting?.protocol}) failed; spans are dropped while it fails (logged once)`);
  };

  const provider = underSdkSettings(settings, () => {
    const exporterProcessors = (exporting?.exporters ?? []).map((name): SpanProcessor => {
      // As the SDK does: console spans one by one, OTLP in batches (BatchSpanProcessor reads OTEL_BSP_* itself).
      if (name === "console") return new SimpleSpanProcessor(new ConsoleSpanExporter());
      return new BatchSpanProcessor(new ReportingSpanExporter(otlpExporter(exporting!.protocol), settings, onFailure));
    });
    // The provider reads the sampler (OTEL_TRACES_SAMPLER, _ARG) and the span limits.
    return new NodeTracerProvider({
      resource: gatewayResource(config),
      spanProcessors: [...(options.spanProcessors ?? []), ...exporterProcessors],
    });
  });

  return {
    tracer: provider.getTracer("gemini-chat-gateway"),
    async shutdown() {
      // The provider rejects when the last flush failed: that export's failure, logged once as the others.
      const finished = provider.shutdown().then(
        () => true,
        (err: unknown) => {
          onFailure(err instanceof Error ? err : new Error(String(err)), 0);
          return true;
        },
      );
      const boundMs = exporting?.shutdownTimeoutMs;
      if (boundMs === undefined) {
        await finished;
      } else {
        // The exporter would wait for a stuck collector up to its own timeout and retries (10 s by default), and a
        // drain must not: shutdown stops waiting after the bound, and the pending export ends on its own.
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), boundMs)));
        const flushed = await Promise.race([finished, gaveUp]);
        clearTimeout(timer);
        if (!flushed) {
          logError(
            new Error(`no answer within ${boundMs} ms`),
            `telemetry: stopped waiting for the last span export to ${endpoint} after ${boundMs} ms; its spans are dropped`,
          );
        }
      }
      stopped = true;
    },
  };
}

export function isSampled(context: SpanContext): boolean {
  return (context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/** Span-level facts that are not in the record. */
export interface TurnSpanFacts {
  costUsd?: number;
  capture: ContentCapture;
}

/** Emits the spans of one finished model call and returns the call span's context. */
export function recordTurnSpan(tracer: Tracer, turn: TurnRecord, facts: TurnSpanFacts): SpanContext {
  const model = turn.model.startsWith("models/") ? turn.model.slice("models/".length) : turn.model;
  const parent = turn.parentContext ?? ROOT_CONTEXT;
  const span = tracer.startSpan(
    model ? `${turn.operation} ${model}` : turn.operation,
    { kind: SpanKind.CLIENT, startTime: turn.startedAt, attributes: requestAttributes(turn, model) },
    parent,
  );
  const callContext = trace.setSpan(parent, span);

  turn.attempts.forEach((attempt, index) => {
    const attributes: Attributes = {
      [sc.GATEWAY_ATTEMPT_NUMBER]: index + 1,
      [sc.GATEWAY_ATTEMPT_OUTCOME]: attempt.outcome,
    };
    if (attempt.httpStatus !== undefined) attributes[sc.HTTP_RESPONSE_STATUS_CODE] = attempt.httpStatus;
    if (attempt.outcome !== "ok") attributes[sc.ERROR_TYPE] = attempt.outcome;
    const child = tracer.startSpan("upstream_attempt", { kind: SpanKind.CLIENT, startTime: attempt.startedAt, attributes }, callContext);
    if (attempt.outcome !== "ok") child.setStatus({ code: SpanStatusCode.ERROR });
    child.end(attempt.endedAt);
    if (attempt.retry) {
      span.addEvent(
        sc.GATEWAY_RETRY_EVENT,
        {
          [sc.GATEWAY_ATTEMPT_NUMBER]: index + 1,
          [sc.GATEWAY_RETRY_REASON]: attempt.retry.reason,
          [sc.GATEWAY_RETRY_DELAY_SECONDS]: attempt.retry.delayMs / 1000,
          [sc.GATEWAY_RETRY_DELAY_SOURCE]: attempt.retry.source,
        },
        attempt.endedAt,
      );
    }
  });
  if (turn.trimmedTurns) {
    span.addEvent(sc.GATEWAY_HISTORY_TRIMMED_EVENT, { [sc.GATEWAY_TRIMMED_TURNS]: turn.trimmedTurns }, turn.startedAt);
  }

  span.setAttributes(responseAttributes(turn, facts));
  const content = contentAttributes(turn);
  if (facts.capture.onSpan) span.setAttributes(content);
  if (facts.capture.onEvent && Object.keys(content).length > 0) {
    span.addEvent(sc.GEN_AI_CLIENT_INFERENCE_DETAILS_EVENT, content, turn.endedAt);
  }
  if (turn.errorType) span.setStatus({ code: SpanStatusCode.ERROR, message: turn.errorType });
  span.end(turn.endedAt);
  return span.spanContext();
}

function requestAttributes(turn: TurnRecord, model: string): Attributes {
  const attributes: Attributes = {
    [sc.GEN_AI_OPERATION_NAME]: turn.operation,
    [sc.GEN_AI_PROVIDER_NAME]: sc.GEN_AI_PROVIDER_GEMINI,
    [sc.GEN_AI_REQUEST_MODEL]: model,
    [sc.GATEWAY_TENANT]: turn.tenant,
  };
  if (turn.server) {
    attributes[sc.SERVER_ADDRESS] = turn.server.address;
    attributes[sc.SERVER_PORT] = turn.server.port;
  }
  if (turn.stream) attributes[sc.GEN_AI_REQUEST_STREAM] = true;
  if (turn.conversationId) attributes[sc.GEN_AI_CONVERSATION_ID] = turn.conversationId;
  if (turn.sessionTurn !== undefined) attributes[sc.GATEWAY_SESSION_TURN] = turn.sessionTurn;
  const config = turn.generationConfig;
  if (config) {
    const parameters: Array<[string, unknown]> = [
      [sc.GEN_AI_REQUEST_MAX_TOKENS, config.maxOutputTokens],
      [sc.GEN_AI_REQUEST_TEMPERATURE, config.temperature],
      [sc.GEN_AI_REQUEST_TOP_P, config.topP],
      [sc.GEN_AI_REQUEST_TOP_K, config.topK],
      [sc.GEN_AI_REQUEST_SEED, config.seed],
      [sc.GEN_AI_REQUEST_CHOICE_COUNT, config.candidateCount],
    ];
    for (const [key, value] of parameters) if (typeof value === "number") attributes[key] = value;
    if (Array.isArray(config.stopSequences)) attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = config.stopSequences.map(String);
  }
  return attributes;
}

function responseAttributes(turn: TurnRecord, facts: TurnSpanFacts): Attributes {
  const attributes: Attributes = {
    [sc.GATEWAY_ATTEMPTS]: turn.attempts.length,
    [sc.HTTP_RESPONSE_STATUS_CODE]: turn.httpStatus,
  };
  if (facts.costUsd !== undefined) attributes[sc.GATEWAY_COST_USD] = facts.costUsd;
  if (turn.errorType) attributes[sc.ERROR_TYPE] = turn.errorType;
  if (turn.clientAborted) attributes[sc.GATEWAY_CLIENT_ABORTED] = true;
  if (turn.stream && turn.firstChunkAt !== undefined) {
    attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (turn.firstChunkAt - turn.startedAt) / 1000;
  }
  const response = turn.response;
  if (!response) return attributes;
  if (response.responseId) attributes[sc.GEN_AI_RESPONSE_ID] = response.responseId;
  if (response.modelVersion) attributes[sc.GEN_AI_RESPONSE_MODEL] = response.modelVersion;
  const finishReasons = response.blockReason ? ["blocked"] : response.finishReasons.map((r) => r.toLowerCase());
  if (finishReasons.length > 0) attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finishReasons;
  const tokens = response.tokens;
  if (tokens) {
    attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = promptTokens(tokens);
    attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = tokens.output + tokens.thoughts;
    if (tokens.thoughts > 0) attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = tokens.thoughts;
    if (tokens.cached > 0) attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = tokens.cached;
  }
  return attributes;
}

// Message content in the GenAI JSON shape (role + typed parts). Only built when capture is on.
function contentAttributes(turn: TurnRecord): Attributes {
  const attributes: Attributes = {};
  const input = turn.capturedInput;
  if (input) {
    attributes[sc.GEN_AI_INPUT_MESSAGES] = JSON.stringify(input.contents.map(genAiMessage));
    if (input.systemInstruction) {
      attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = JSON.stringify(input.systemInstruction.parts.map(genAiPart));
    }
  }
  const text = turn.response?.text;
  if (text !== undefined) {
    const finishReason = turn.response?.finishReasons[0]?.toLowerCase();
    attributes[sc.GEN_AI_OUTPUT_MESSAGES] = JSON.stringify([
      { role: "assistant", parts: [{ type: "text", content: text }], ...(finishReason ? { finish_reason: finishReason } : {}) },
    ]);
  }
  return attributes;
}

function genAiMessage(content: Content): { role: string; parts: Array<Record<string, unknown>> } {
  return { role: content.role === "model" ? "assistant" : (content.role ?? "user"), parts: content.parts.map(genAiPart) };
}

function genAiPart(part: Part): Record<string, unknown> {
  if (part.thought) return { type: "reasoning", content: part.text ?? "" };
  if (part.text !== undefined) return { type: "text", content: part.text };
  if (part.functionCall) return { type: "tool_call", id: part.functionCall.id, name: part.functionCall.name, arguments: part.functionCall.args };
  if (part.functionResponse) return { type: "tool_call_response", id: part.functionResponse.id, response: part.functionResponse.response };
  if (part.inlineData) return { type: "blob", mime_type: part.inlineData.mimeType };
  if (part.fileData) return { type: "uri", uri: part.fileData.fileUri, mime_type: part.fileData.mimeType };
  return { type: Object.keys(part)[0] ?? "unknown" };
}
