import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { samples, startHarness, turn } from "./helpers.js";
import type { Harness } from "./helpers.js";

function seriesCount(body: string): number {
  return body.split("\n").filter((l) => l.startsWith("gemini_gateway_") || l.startsWith("gen_ai_")).length;
}

describe("cardinality", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it("10,000 session ids, 1,000 bogus models and unknown tenants leave the series bounded", async () => {
    // Warm-up: every label combination the workload below can reach, once.
    h.telemetry.turnSink.record(turn({ model: "bogus-0", tenant: "stranger-0", conversationId: "s-0", sessionTurn: 1, route: "sessionMessage" }));
    h.telemetry.turnSink.record(turn({ conversationId: "s-0", sessionTurn: 1, route: "sessionMessage" }));
    const before = seriesCount((await h.scrape()).body);

    for (let i = 0; i < 10_000; i++) {
      h.telemetry.turnSink.record(
        turn({
          route: "sessionMessage",
          model: i < 1000 ? `bogus-${i}` : "gemini-2.5-flash",
          tenant: i < 1000 ? `stranger-${i}` : "acme",
          conversationId: `s-${i}`,
          sessionTurn: 1 + (i % 200),
          response: { usage: { promptTokenCount: i, candidatesTokenCount: 1, totalTokenCount: i + 1 }, finishReasons: ["STOP"], hasVisibleParts: true, responseId: `r-${i}` },
        }),
      );
    }
    const { body } = await h.scrape();
    expect(seriesCount(body)).toBe(before);
    expect(body).not.toMatch(/bogus-|stranger-|s-\d|r-\d/);
    expect(samples(body, 'gemini_gateway_responses_total{model="other"')).toEqual(['gemini_gateway_responses_total{model="other",finish_reason="stop"} 1001']);
  });
});
