// A turn is never lost to a telemetry fault: when its span, its exemplar or its content cannot be built, its metrics
// are still recorded, and the fault is counted (gemini_gateway_telemetry_errors_total{stage}) and logged once.
import { afterEach, describe, expect, it } from "vitest";
import { ThrowingSpanProcessor } from "../helpers/spans.js";
import { GatewayMetrics } from "../../src/telemetry/metrics.js";
import { samples, startHarness, turn, type Harness } from "./helpers.js";

const value = (body: string, line: string): number => Number(samples(body, line).find((l) => l.startsWith(line))?.split(" ").pop() ?? NaN);

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe("telemetry faults", () => {
  it("span building throws for every call: every turn is still counted, the fault counted per turn and logged once", async () => {
    const errors: string[] = [];
    harness = await startHarness({}, { spanProcessors: [new ThrowingSpanProcessor()], logError: (_err, message) => errors.push(message) });
    for (let i = 0; i < 5; i++) harness.telemetry.turnSink.record(turn());
    const { body } = await harness.scrape();
    expect(value(body, 'gemini_gateway_requests_total{route="generateContent",code="200"}')).toBe(5);
    expect(value(body, 'gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="input"}')).toBe(500);
    expect(value(body, 'gemini_gateway_responses_total{model="gemini-2.5-flash",finish_reason="stop"}')).toBe(5);
    expect(value(body, 'gemini_gateway_telemetry_errors_total{stage="span"}')).toBe(5);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/span stage/);
  });

  it("captured content too deep to serialize costs the span, not the turn", async () => {
    harness = await startHarness({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "SPAN_ONLY" }, { logError: () => undefined });
    let deep: unknown = "x";
    for (let i = 0; i < 20_000; i++) deep = { nested: deep };
    harness.telemetry.turnSink.record(turn({ capturedInput: { contents: [{ role: "user", parts: [{ functionCall: { name: "f", args: deep as Record<string, unknown> } }] }] } }));
    const { body } = await harness.scrape();
    expect(value(body, 'gemini_gateway_requests_total{route="generateContent",code="200"}')).toBe(1);
    expect(value(body, 'gemini_gateway_telemetry_errors_total{stage="span"}')).toBe(1);
  });

  it("an exemplar prom-client refuses is dropped; the counts are kept", async () => {
    const metrics = new GatewayMetrics({ model: (m) => m, tenant: (t) => t });
    const refused: unknown[] = [];
    metrics.onExemplarFault((err) => refused.push(err));
    metrics.recordTurn(turn(), { exemplar: { trace_id: "t".repeat(200), span_id: "s".repeat(16) } });
    const body = (await metrics.render("prometheus")).body;
    expect(value(body, 'gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="output"}')).toBe(20);
    expect(refused.length).toBeGreaterThan(0);
  });

  it("a fault outside the sink (the log line, a settle hook) is counted under its stage", async () => {
    harness = await startHarness({}, { logError: () => undefined });
    harness.telemetry.telemetryFault("log", new Error("log line"));
    const { body } = await harness.scrape();
    expect(value(body, 'gemini_gateway_telemetry_errors_total{stage="log"}')).toBe(1);
  });
});
