import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { extractParentContext } from "../../src/telemetry/context.js";
import { T0, startHarness, tapped, turn } from "./helpers.js";
import type { Harness } from "./helpers.js";

const INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_PARENT = `00-${INCOMING_TRACE}-00f067aa0ba902b7-01`;

const RETRIED = turn({
  route: "sessionMessage",
  model: "models/gemini-2.5-pro",
  tenant: "acme",
  conversationId: "sess-42",
  sessionTurn: 5,
  trimmedTurns: 2,
  server: { address: "generativelanguage.googleapis.com", port: 443 },
  generationConfig: { maxOutputTokens: 256, temperature: 0.2, topP: 0.9, topK: 40, seed: 7, stopSequences: ["END"] },
  capturedInput: { contents: [{ role: "user", parts: [{ text: "What is the capital of France?" }] }], systemInstruction: { parts: [{ text: "Be brief." }] } },
  attempts: [
    { startedAt: T0 + 1, endedAt: T0 + 10, httpStatus: 429, outcome: "429", quota: "per_minute", retry: { reason: "429", delayMs: 1500, source: "retry_info" } },
    { startedAt: T0 + 1510, endedAt: T0 + 1600, httpStatus: 200, outcome: "ok" },
  ],
  response: tapped(
    { promptTokenCount: 120, cachedContentTokenCount: 100, candidatesTokenCount: 3, thoughtsTokenCount: 40, totalTokenCount: 163 },
    { finishReasons: ["STOP"], hasVisibleParts: true, responseId: "resp-xyz", modelVersion: "gemini-2.5-pro-001", text: "Paris." },
  ),
  parentContext: extractParentContext({ traceparent: INCOMING_PARENT }),
  endedAt: T0 + 1700,
});

function byName(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

describe("spans", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("one CLIENT span per call with GenAI attributes, attempt children, retry and trim events, the incoming trace", async () => {
    h = await startHarness();
    const recorded = h.telemetry.turnSink.record(RETRIED);
    const spans = h.spans.getFinishedSpans();
    const [call] = byName(spans, "generate_content gemini-2.5-pro");
    expect(call).toBeDefined();
    expect(call!.kind).toBe(SpanKind.CLIENT);
    expect(call!.spanContext().traceId).toBe(INCOMING_TRACE);
    expect(call!.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(recorded).toEqual({ traceId: INCOMING_TRACE, spanId: call!.spanContext().spanId, costUsd: expect.any(Number) as number });
    expect(call!.startTime).toEqual([Math.floor(T0 / 1000), 0]);
    expect(call!.endTime).toEqual([Math.floor(T0 / 1000) + 1, 700_000_000]);
    expect(call!.attributes).toEqual({
      "gen_ai.operation.name": "generate_content",
      "gen_ai.provider.name": "gcp.gemini",
      "gen_ai.request.model": "gemini-2.5-pro",
      "gemini_gateway.tenant": "acme",
      "server.address": "generativelanguage.googleapis.com",
      "server.port": 443,
      "gen_ai.conversation.id": "sess-42",
      "gemini_gateway.session.turn": 5,
      "gen_ai.request.max_tokens": 256,
      "gen_ai.request.temperature": 0.2,
      "gen_ai.request.top_p": 0.9,
      "gen_ai.request.top_k": 40,
      "gen_ai.request.seed": 7,
      "gen_ai.request.stop_sequences": ["END"],
      "gemini_gateway.attempts": 2,
      "http.response.status_code": 200,
      "gemini_gateway.cost_usd": (20 * 1.25 + 100 * 0.125 + 43 * 10) / 1e6,
      "gen_ai.response.id": "resp-xyz",
      "gen_ai.response.model": "gemini-2.5-pro-001",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.usage.input_tokens": 120,
      "gen_ai.usage.output_tokens": 43,
      "gen_ai.usage.reasoning.output_tokens": 40,
      "gen_ai.usage.cache_read.input_tokens": 100,
    });
    expect(call!.events.map((e) => [e.name, e.attributes])).toEqual([
      ["gemini_gateway.retry", { "gemini_gateway.attempt.number": 1, "gemini_gateway.retry.reason": "429", "gemini_gateway.retry.delay_seconds": 1.5, "gemini_gateway.retry.delay_source": "retry_info" }],
      ["gemini_gateway.history_trimmed", { "gemini_gateway.session.trimmed_turns": 2 }],
    ]);

    const attempts = byName(spans, "upstream_attempt");
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a.kind).toBe(SpanKind.CLIENT);
      expect(a.parentSpanContext?.spanId).toBe(call!.spanContext().spanId);
      expect(a.spanContext().traceId).toBe(INCOMING_TRACE);
    }
    expect(attempts.map((a) => a.attributes)).toEqual([
      { "gemini_gateway.attempt.number": 1, "gemini_gateway.attempt.outcome": "429", "http.response.status_code": 429, "error.type": "429" },
      { "gemini_gateway.attempt.number": 2, "gemini_gateway.attempt.outcome": "ok", "http.response.status_code": 200 },
    ]);
    expect(attempts[0]!.status.code).toBe(SpanStatusCode.ERROR);
    // content capture is off by default
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events]))).not.toMatch(/France|Paris|Be brief/);
  });

  it("installs W3C propagation for producers that extract through the global API", async () => {
    h = await startHarness();
    const parent = propagation.extract(ROOT_CONTEXT, { traceparent: INCOMING_PARENT });
    expect(trace.getSpanContext(parent)?.traceId).toBe(INCOMING_TRACE);
    expect(h.telemetry.turnSink.record(turn({ parentContext: parent })).traceId).toBe(INCOMING_TRACE);
  });

  it("marks failed calls with error.type and status, and starts a new trace without traceparent", async () => {
    h = await startHarness();
    h.telemetry.turnSink.record(
      turn({ stream: true, route: "streamGenerateContent", firstChunkAt: T0 + 120, errorType: "midstream_error", response: { usage: { promptTokenCount: 4 }, finishReasons: [], hasVisibleParts: true } }),
    );
    const [call] = h.spans.getFinishedSpans().filter((s) => s.name.startsWith("generate_content"));
    expect(call!.parentSpanContext).toBeUndefined();
    expect(call!.status).toEqual({ code: SpanStatusCode.ERROR, message: "midstream_error" });
    expect(call!.attributes["error.type"]).toBe("midstream_error");
    expect(call!.attributes["gen_ai.request.stream"]).toBe(true);
    expect(call!.attributes["gen_ai.response.time_to_first_chunk"]).toBe(0.12);
    expect(call!.attributes["gen_ai.response.finish_reasons"]).toBeUndefined();
  });

  it("captures message content only when enabled, on the span or as an event", async () => {
    h = await startHarness({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "SPAN_AND_EVENT" });
    h.telemetry.turnSink.record(RETRIED);
    const [call] = byName(h.spans.getFinishedSpans(), "generate_content gemini-2.5-pro");
    const expected = {
      "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "What is the capital of France?" }] }]),
      "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "Be brief." }]),
      "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "Paris." }], finish_reason: "stop" }]),
    };
    expect(call!.attributes).toMatchObject(expected);
    expect(call!.events.find((e) => e.name === "gen_ai.client.inference.operation.details")?.attributes).toEqual(expected);
  });

  it("makes no spans and no exemplars with OTEL_SDK_DISABLED, and says so once", async () => {
    h = await startHarness({ OTEL_SDK_DISABLED: "true" });
    expect(h.telemetry.turnSink.record(RETRIED)).toEqual({ costUsd: expect.any(Number) as number }); // priced, no span
    expect(h.spans.getFinishedSpans()).toHaveLength(0);
    expect(h.logs).toEqual(["telemetry: OTEL_SDK_DISABLED is set: no spans, no exemplars"]);
    const { body } = await h.scrape("application/openmetrics-text");
    expect(body).toContain('gemini_gateway_responses_total{model="gemini-2.5-pro",finish_reason="stop"} 1\n');
    expect(body).not.toContain("trace_id");
  });

  it("says once at start-up that traces are not exported without an OTLP endpoint", async () => {
    h = await startHarness();
    expect(h.logs).toEqual(["telemetry: no OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT): traces are not exported"]);
  });

  it("exports over real OTLP/HTTP to the configured endpoint", async () => {
    const bodies: unknown[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ path: req.url, contentType: req.headers["content-type"], body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      // http/json, so the body reads as JSON here (the SDK's default, http/protobuf, and grpc: otlp.test.ts).
      h = await startHarness({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_SERVICE_NAME: "gw-under-test" });
      expect(h.logs).toEqual([]);
      h.telemetry.turnSink.record(RETRIED);
      await h.close(); // shutdown flushes the batch processor
      h = undefined;

      expect(bodies).toHaveLength(1);
      const { path, contentType, body } = bodies[0] as { path: string; contentType: string; body: OtlpBody };
      expect(path).toBe("/v1/traces");
      expect(contentType).toBe("application/json");
      const resource = body.resourceSpans[0]!;
      expect(resource.resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "gw-under-test" } });
      const spans = resource.scopeSpans.flatMap((s) => s.spans);
      expect(spans.map((s) => s.name).sort()).toEqual(["generate_content gemini-2.5-pro", "upstream_attempt", "upstream_attempt"]);
      const call = spans.find((s) => s.name.startsWith("generate_content"))!;
      expect(call.traceId).toBe(INCOMING_TRACE);
      expect(call.parentSpanId).toBe("00f067aa0ba902b7");
      expect(call.kind).toBe(3); // SPAN_KIND_CLIENT in OTLP
      expect(call.attributes).toContainEqual({ key: "gen_ai.usage.output_tokens", value: { intValue: 43 } });
      expect(call.events.map((e) => e.name)).toEqual(["gemini_gateway.retry", "gemini_gateway.history_trimmed"]);
      for (const attempt of spans.filter((s) => s.name === "upstream_attempt")) expect(attempt.parentSpanId).toBe(call.spanId);
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});

interface OtlpBody {
  resourceSpans: Array<{
    resource: { attributes: unknown[] };
    scopeSpans: Array<{
      spans: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; kind: number; attributes: unknown[]; events: Array<{ name: string }> }>;
    }>;
  }>;
}
