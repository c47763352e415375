// A gateway whose span building throws for every call (a broken span processor): every turn, whatever its route and
// wire format, must still be in the metrics, exactly; the fault is counted per call and logged once.

import { describe, expect, test } from "vitest";
import { ThrowingSpanProcessor } from "../helpers/spans.js";
import type { UsageMetadata } from "../../src/gemini/types.js";
import { breakdownTotal, tokenBreakdown } from "../../src/gemini/usage.js";
import { sumBy } from "../helpers/metrics.js";
import { useSurfaceStack, type SurfaceStack } from "./surface-stack.js";

let stack: SurfaceStack;
useSurfaceStack((started) => (stack = started), { spanProcessors: [new ThrowingSpanProcessor()] });

describe("span building throws for every call", () => {
  test("native, streamed, OpenAI-compatible and resource calls are all counted, tokens exact", async () => {
    const ai = stack.genai();
    const openai = stack.openai();
    let tokens = 0;
    const count = (usage: object | undefined): void => {
      if (usage) tokens += breakdownTotal(tokenBreakdown(usage as UsageMetadata));
    };

    count((await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "unary" })).usageMetadata);
    let last: object | undefined;
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "streamed" })) last = chunk.usageMetadata ?? last;
    count(last);
    const completion = await openai.chat.completions.create({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "chat" }] });
    tokens += completion.usage!.total_tokens;
    let streamedUsage = 0;
    for await (const chunk of await openai.chat.completions.create({
      model: "gemini-2.0-flash",
      messages: [{ role: "user", content: "chat, streamed" }],
      stream: true,
      stream_options: { include_usage: true },
    })) {
      if (chunk.usage) streamedUsage = chunk.usage.total_tokens;
    }
    tokens += streamedUsage;
    tokens += (await openai.embeddings.create({ model: "gemini-embedding-001", input: "embed" })).usage.total_tokens;
    await ai.models.embedContent({ model: "gemini-embedding-001", contents: "native embed" });
    const calls = 6;

    let body = "";
    for (let waited = 0; waited < 5000; waited += 10) {
      body = await stack.metrics();
      const counted = [...sumBy(body, "gemini_gateway_requests_total", []).values()].reduce((a, b) => a + b, 0);
      if (counted >= calls) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(sumBy(body, "gemini_gateway_requests_total", ["route", "code"])).toEqual(
      new Map([
        ["generateContent|200", 1],
        ["streamGenerateContent|200", 1],
        ["openai.chat.completions|200", 2],
        ["openai.embeddings|200", 1],
        ["batchEmbedContents|200", 1],
      ]),
    );
    expect([...sumBy(body, "gemini_gateway_tokens_total", []).values()].reduce((a, b) => a + b, 0)).toBe(tokens);
    expect(sumBy(body, "gemini_gateway_responses_total", []).get("")).toBe(4);
    expect(sumBy(body, "gemini_gateway_telemetry_errors_total", ["stage"])).toEqual(new Map([["span", calls]]));
    // Logged once, at error level, whatever the number of faults.
    expect(stack.errors.filter((line) => line.includes("span stage"))).toHaveLength(1);
  });
});
