// OpenTelemetry traces of model calls: one CLIENT span `generate_content {model}` per TurnRecord with the GenAI
// v1.41 attributes, a child span per upstream attempt, retry and history-trim events. Spans are built after the
// fact from the record's timestamps, so the data path never waits on tracing.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api";
import type { Attributes, SpanContext, Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { ContentCapture } from "../config/telemetry.js";
import type { Content, Part } from "../gemini/types.js";
import { promptTokens } from "../gemini/usage.js";
import type { TurnRecord } from "../turn/record.js";
import * as sc from "./semconv.js";

export interface Tracing {
  /** Undefined when OTEL_SDK_DISABLED. */
  tracer?: Tracer;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  disabled: boolean;
  otlpTracesUrl?: string;
  /** Extra processors (tests: an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

export function createTracing(options: TracingOptions): Tracing {
  if (options.disabled) return { shutdown: async () => undefined };
  const spanProcessors = [...(options.spanProcessors ?? [])];
  if (options.otlpTracesUrl) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpTracesUrl })));
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": options.serviceName })),
    spanProcessors,
  });
  return { tracer: provider.getTracer("gemini-chat-gateway"), shutdown: () => provider.shutdown() };
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
