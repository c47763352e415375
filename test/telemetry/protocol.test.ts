import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTelemetryConfig } from "../../src/config/telemetry.js";
import { finishReasonLabel, truncationCause } from "../../src/gemini/finish.js";
import type { UsageMetadata } from "../../src/gemini/types.js";
import { breakdownTotal, tokenBreakdown, tokensOfUsageMetadata } from "../../src/gemini/usage.js";
import { errorTypeLabel, negotiateFormat } from "../../src/telemetry/metrics.js";
import { loadPriceTable, normalizeModel, turnCost } from "../../src/pricing/price-table.js";

describe("tokenBreakdown", () => {
  it("splits the total into disjoint parts that add up to totalTokenCount", () => {
    const usage = {
      promptTokenCount: 1000,
      cachedContentTokenCount: 600,
      candidatesTokenCount: 50,
      thoughtsTokenCount: 300,
      toolUsePromptTokenCount: 20,
      totalTokenCount: 1370,
    };
    const b = tokenBreakdown(usage);
    expect(b).toEqual({ input: 400, cached: 600, output: 50, thoughts: 300, tool_use: 20 });
    expect(breakdownTotal(b)).toBe(usage.totalTokenCount);
  });

  it("treats omitted fields as zero (Gemini omits zero counts)", () => {
    expect(tokenBreakdown({ promptTokenCount: 7, totalTokenCount: 7 })).toEqual({ input: 7, cached: 0, output: 0, thoughts: 0, tool_use: 0 });
    expect(breakdownTotal(tokenBreakdown({}))).toBe(0);
  });
});

describe("finish reasons", () => {
  const facts = (finishReasons: string[], extra: { blockReason?: string; hasVisibleParts?: boolean } = {}) => ({
    finishReasons,
    hasVisibleParts: extra.hasVisibleParts ?? true,
    blockReason: extra.blockReason,
  });

  it("labels Gemini's enum in lower case, blocked prompts, absent and unknown reasons", () => {
    expect(finishReasonLabel(facts(["STOP"]))).toBe("stop");
    expect(finishReasonLabel(facts(["MAX_TOKENS"]))).toBe("max_tokens");
    expect(finishReasonLabel(facts(["SAFETY"]))).toBe("safety");
    expect(finishReasonLabel(facts(["MALFORMED_FUNCTION_CALL"]))).toBe("malformed_function_call");
    expect(finishReasonLabel(facts([], { blockReason: "SAFETY" }))).toBe("blocked");
    expect(finishReasonLabel(facts([]))).toBe("unspecified");
    expect(finishReasonLabel(facts(["FINISH_REASON_UNSPECIFIED"]))).toBe("unspecified");
    expect(finishReasonLabel(facts(["SOMETHING_NEW_2027"]))).toBe("other");
  });

  it("tells a thinking truncation (no visible parts) from an output-limit one", () => {
    expect(truncationCause(facts(["MAX_TOKENS"], { hasVisibleParts: true }))).toBe("output_limit");
    expect(truncationCause(facts(["MAX_TOKENS"], { hasVisibleParts: false }))).toBe("thinking");
    expect(truncationCause(facts(["STOP"]))).toBeUndefined();
    expect(truncationCause(facts([], { blockReason: "OTHER", hasVisibleParts: false }))).toBeUndefined();
  });
});

describe("pricing", () => {
  const table = loadPriceTable();
  const known = Object.keys(table.models);
  const price = (model: string) => table.models[model]!;
  const cost = (model: string, usage: UsageMetadata): number => turnCost(table, price(model), tokensOfUsageMetadata(usage));

  it("ships the reference prices for the five chat models and the embedding model", () => {
    expect(known.sort()).toEqual([
      "gemini-2.0-flash", "gemini-2.0-flash-lite", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro", "gemini-embedding-001",
    ]);
    expect(table.batchMultiplier).toBe(0.5);
  });

  it("bills thinking as output and cached input at the cache rate", () => {
    // flash: 0.30 input, 2.50 output, 0.03 cached (per 1M)
    const billed = cost("gemini-2.5-flash", {
      promptTokenCount: 1_000_000,
      cachedContentTokenCount: 400_000,
      candidatesTokenCount: 100_000,
      thoughtsTokenCount: 300_000,
      totalTokenCount: 1_400_000,
    });
    expect(billed).toBeCloseTo(0.6 * 0.3 + 0.4 * 0.03 + 0.4 * 2.5, 12);
  });

  it("switches gemini-2.5-pro to the >200k tier by prompt size", () => {
    const at = (prompt: number) =>
      cost("gemini-2.5-pro", { promptTokenCount: prompt, candidatesTokenCount: 1000, thoughtsTokenCount: 1000 });
    expect(at(200_000)).toBeCloseTo((200_000 * 1.25 + 2000 * 10) / 1e6, 12);
    expect(at(200_001)).toBeCloseTo((200_001 * 2.5 + 2000 * 15) / 1e6, 12);
    const cachedLong = cost("gemini-2.5-pro", { promptTokenCount: 300_000, cachedContentTokenCount: 100_000 });
    expect(cachedLong).toBeCloseTo((200_000 * 2.5 + 100_000 * 0.25) / 1e6, 12);
  });

  it("bills audio input at its own rate where the table has one", () => {
    const billed = cost("gemini-2.5-flash", {
      promptTokenCount: 1000,
      promptTokensDetails: [
        { modality: "TEXT", tokenCount: 400 },
        { modality: "AUDIO", tokenCount: 600 },
      ],
    });
    expect(billed).toBeCloseTo((400 * 0.3 + 600 * 1.0) / 1e6, 12);
  });

  it("bills cached tokens as input when a model has no cache rate, and tool-use prompt tokens as input", () => {
    const billed = cost("gemini-2.0-flash-lite", { promptTokenCount: 100, cachedContentTokenCount: 40, toolUsePromptTokenCount: 10 });
    expect(billed).toBeCloseTo((60 * 0.075 + 40 * 0.075 + 10 * 0.075) / 1e6, 12);
  });

  it("bills batch mode at the batch multiplier, and a cache's storage per token-hour", () => {
    const tokens = tokensOfUsageMetadata({ promptTokenCount: 1000, candidatesTokenCount: 100 });
    const standard = turnCost(table, price("gemini-2.5-flash"), tokens);
    expect(turnCost(table, price("gemini-2.5-flash"), tokens, "batch")).toBeCloseTo(standard * 0.5, 15);
    // A 2,000-token cache kept 2 hours on 2.5 Flash: created at the input rate, stored at 1.00 per 1M per hour.
    const created = tokensOfUsageMetadata({ promptTokenCount: 2000 });
    expect(turnCost(table, price("gemini-2.5-flash"), created, "standard", { tokens: 2000, seconds: 7200 })).toBeCloseTo(
      (2000 * 0.3 + 2000 * 2 * 1.0) / 1e6,
      15,
    );
  });

  it("normalises models/ prefixes and version suffixes, and rejects other names", () => {
    expect(normalizeModel("gemini-2.5-flash", known)).toBe("gemini-2.5-flash");
    expect(normalizeModel("models/gemini-2.5-flash-lite", known)).toBe("gemini-2.5-flash-lite");
    expect(normalizeModel("gemini-2.5-flash-lite-001", known)).toBe("gemini-2.5-flash-lite");
    expect(normalizeModel("gemini-2.5-flash-preview-05-20", known)).toBe("gemini-2.5-flash");
    expect(normalizeModel("gemini-2.0-flash-001", known)).toBe("gemini-2.0-flash");
    expect(normalizeModel("gemini-2.5-pro-latest", known)).toBe("gemini-2.5-pro");
    expect(normalizeModel("gemini-2.5-flash-image", known)).toBeUndefined();
    expect(normalizeModel("gpt-4o", known)).toBeUndefined();
    expect(normalizeModel("", known)).toBeUndefined();
  });

  it("loads PRICING_FILE and reports every problem of a bad one with the file name", () => {
    const dir = mkdtempSync(join(tmpdir(), "pricing-"));
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify({ currency: "USD", models: { "my-model": { input: 1, output: 2 } } }));
    expect(loadPriceTable(good).models["my-model"]).toEqual({ input: 1, output: 2 });

    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ currency: "USD", models: { "my-model": { input: -1, outptu: 2 } } }));
    expect(() => loadPriceTable(bad)).toThrow(/bad\.json: .*models\.my-model\.input.*;.*models\.my-model\.output/);
    expect(() => loadPriceTable(join(dir, "missing.json"))).toThrow(/missing\.json: ENOENT/);
    writeFileSync(bad, "{not json");
    expect(() => loadPriceTable(bad)).toThrow(/bad\.json: .*JSON/);
  });
});

describe("labels", () => {
  it("negotiates OpenMetrics only when preferred", () => {
    expect(negotiateFormat("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")).toBe("openmetrics");
    expect(negotiateFormat("application/openmetrics-text; version=1.0.0; charset=utf-8")).toBe("openmetrics");
    expect(negotiateFormat(undefined)).toBe("prometheus");
    expect(negotiateFormat("*/*")).toBe("prometheus");
    expect(negotiateFormat("text/plain;version=0.0.4")).toBe("prometheus");
    expect(negotiateFormat("text/plain, application/openmetrics-text;q=0.9")).toBe("prometheus");
    expect(negotiateFormat("application/openmetrics-text;q=0")).toBe("prometheus");
  });


  it("keeps error_type bounded", () => {
    expect(errorTypeLabel(undefined)).toBe("");
    expect(errorTypeLabel("429")).toBe("429");
    expect(errorTypeLabel("midstream_error")).toBe("midstream_error");
    expect(errorTypeLabel("ECONNRESET at 10.0.0.1")).toBe("other");
  });
});

describe("telemetry config", () => {
  it("defaults: no export, no content, shipped prices", () => {
    expect(loadTelemetryConfig({})).toEqual({
      serviceName: "gemini-chat-gateway",
      tracingDisabled: false,
      otlpTracesUrl: undefined,
      contentCapture: { onSpan: false, onEvent: false },
      pricingFile: undefined,
      extraModels: [],
    });
  });

  it("reads the standard OTEL_* variables", () => {
    const config = loadTelemetryConfig({
      OTEL_SERVICE_NAME: "gw",
      OTEL_SDK_DISABLED: "TRUE",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "SPAN_AND_EVENT",
      METRICS_EXTRA_MODELS: "gemini-3-pro, gemma-3",
    });
    expect(config.serviceName).toBe("gw");
    expect(config.tracingDisabled).toBe(true);
    expect(config.otlpTracesUrl).toBe("http://collector:4318/v1/traces");
    expect(config.contentCapture).toEqual({ onSpan: true, onEvent: true });
    expect(config.extraModels).toEqual(["gemini-3-pro", "gemma-3"]);
    expect(loadTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:4318/custom" }).otlpTracesUrl).toBe("http://t:4318/custom");
    expect(loadTelemetryConfig({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true" }).contentCapture).toEqual({ onSpan: true, onEvent: false });
    expect(loadTelemetryConfig({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "EVENT_ONLY" }).contentCapture).toEqual({ onSpan: false, onEvent: true });
  });

  it("says what is wrong, one line per problem", () => {
    expect(() =>
      loadTelemetryConfig({ OTEL_SDK_DISABLED: "yes", OTEL_EXPORTER_OTLP_ENDPOINT: "not a url", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "maybe" }),
    ).toThrow(/OTEL_SDK_DISABLED.*\nOTEL_EXPORTER_OTLP_ENDPOINT.*\nOTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: expected true/);
  });
});
