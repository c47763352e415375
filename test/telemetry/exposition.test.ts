import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROMETHEUS_ACCEPT, samples, startHarness, turn } from "./helpers.js";
import type { Harness } from "./helpers.js";
import { extractParentContext } from "../../src/telemetry/context.js";

const UNSAMPLED_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

describe("/metrics exposition", () => {
  let h: Harness;
  let sampled: { traceId?: string; spanId?: string };
  beforeAll(async () => {
    h = await startHarness();
    sampled = h.telemetry.turnSink.record(turn());
    // A parent that was not sampled: the span is not sampled either, so no exemplar may point at it.
    h.telemetry.turnSink.record(
      turn({ model: "gemini-2.0-flash", parentContext: extractParentContext({ traceparent: UNSAMPLED_PARENT }) }),
    );
    h.telemetry.sessionEvent({ type: "evicted", reason: "bytes" });
  });
  afterAll(() => h.close());

  it("serves OpenMetrics with trace_id/span_id exemplars when the scraper asks for it", async () => {
    const { contentType, body } = await h.scrape(PROMETHEUS_ACCEPT);
    expect(contentType).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    expect(body.endsWith("# EOF\n")).toBe(true);
    expect(body).toContain("# TYPE gemini_gateway_responses counter\n");
    const exemplar = `# {trace_id="${sampled.traceId}",span_id="${sampled.spanId}"}`;
    const [responses] = samples(body, 'gemini_gateway_responses_total{model="gemini-2.5-flash"');
    expect(responses).toMatch(new RegExp(`^gemini_gateway_responses_total\\{model="gemini-2.5-flash",finish_reason="stop"\\} 1 ${escape(exemplar)} 1 \\d+\\.\\d+$`));
    const [tokens] = samples(body, 'gemini_gateway_tokens_total{model="gemini-2.5-flash",tenant="acme",type="thoughts"}');
    expect(tokens).toContain(`30 ${exemplar} 30 `);
    const bucket = samples(body, 'gen_ai_client_operation_duration_seconds_bucket{le="0.32"');
    expect(bucket.some((l) => l.includes(exemplar))).toBe(true);
  });

  it("puts no exemplar on series of unsampled spans", async () => {
    const { body } = await h.scrape(PROMETHEUS_ACCEPT);
    const flash20 = samples(body, 'gemini_gateway_responses_total{model="gemini-2.0-flash"', 'gemini_gateway_tokens_total{model="gemini-2.0-flash"');
    expect(flash20.length).toBeGreaterThan(0);
    for (const line of flash20) expect(line).not.toContain("#");
    expect(body).not.toContain("0af7651916cd43dd8448eb211c80319c");
  });

  it("serves the classic format to curl and keeps counter names after an OpenMetrics scrape", async () => {
    await h.scrape(PROMETHEUS_ACCEPT);
    const { contentType, body } = await h.scrape("*/*");
    expect(contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(body).toContain("# TYPE gemini_gateway_responses_total counter\n");
    expect(body).toContain('gemini_gateway_session_evictions_total{reason="bytes"} 1\n');
    expect(body).toMatch(/^process_cpu_seconds_total /m);
    expect(body).not.toContain("# {");
  });

  it("concurrent scrapes of both formats each get their own format", async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h.scrape(i % 2 ? PROMETHEUS_ACCEPT : "text/plain")),
    );
    results.forEach((r, i) => {
      if (i % 2) expect(r.body).toContain("gemini_gateway_responses_total{");
      if (i % 2) expect(r.body.endsWith("# EOF\n")).toBe(true);
      else expect(r.body).toContain("# TYPE gemini_gateway_tokens_total counter");
    });
  });

  it("passes promtool check metrics", async () => {
    const { body } = await h.scrape();
    // promtool prints lint problems and exits non-zero on any; execFileSync throws then, with the output.
    expect(execFileSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" })).toBe("");
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
