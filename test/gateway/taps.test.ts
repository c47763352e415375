// The taps of the OpenAI-compatible chat completions and of the resource answers that carry usage.
import { describe, expect, test } from "vitest";
import { ChatCompletionTap, geminiFinishReason, tokensOfCompletionUsage } from "../../src/taps/chat-completion.js";
import { readResourceUsage, ResourceTap } from "../../src/taps/resource.js";
import type { Tap } from "../../src/taps/tap.js";
import { chatCapturedInput, chatGenerationConfig } from "../../src/openai/request.js";

function feed(tap: Tap, text: string, size: number) {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size));
  return tap.finish();
}

const usage = {
  prompt_tokens: 120,
  completion_tokens: 50,
  total_tokens: 170,
  prompt_tokens_details: { cached_tokens: 100 },
  completion_tokens_details: { reasoning_tokens: 40 },
};

describe("chat completion tap", () => {
  test("finish reasons in Gemini's vocabulary; usage in the same token kinds", () => {
    expect(["stop", "length", "content_filter", "tool_calls", "odd"].map(geminiFinishReason)).toEqual(["STOP", "MAX_TOKENS", "SAFETY", "STOP", "ODD"]);
    expect(tokensOfCompletionUsage(usage)).toEqual({ input: 20, cached: 100, output: 10, thoughts: 40, tool_use: 0, inputAudio: 0 });
    // Inconsistent or hostile numbers never go negative.
    expect(tokensOfCompletionUsage({ prompt_tokens: 5, completion_tokens: -3, total_tokens: 2, prompt_tokens_details: { cached_tokens: 9 } })).toEqual({
      input: 0,
      cached: 5,
      output: 0,
      thoughts: 0,
      tool_use: 0,
      inputAudio: 0,
    });
  });

  test("unary chat.completion", () => {
    const body = JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "gemini-2.5-flash",
      choices: [{ index: 0, message: { role: "assistant", content: "Ünï ✓" }, finish_reason: "length" }],
      usage,
    });
    for (const size of [1, 5, 10_000]) {
      expect(feed(new ChatCompletionTap(false, { captureContent: true }), body, size).response).toEqual({
        finishReasons: ["MAX_TOKENS"],
        hasVisibleParts: true,
        tokens: { input: 20, cached: 100, output: 10, thoughts: 40, tool_use: 0, inputAudio: 0 },
        responseId: "chatcmpl-1",
        modelVersion: "gemini-2.5-flash",
        text: "Ünï ✓",
      });
    }
  });

  test("SSE chunks with [DONE], usage in the last chunk (include_usage), split anywhere", () => {
    const chunk = (delta: object, finish: string | null, extra: object = {}) =>
      `data: ${JSON.stringify({ id: "c2", object: "chat.completion.chunk", created: 1, model: "gemini-2.0-flash", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
    const text =
      chunk({ role: "assistant", content: "Hel" }, null) +
      chunk({ content: "lo" }, "stop") +
      `data: ${JSON.stringify({ id: "c2", object: "chat.completion.chunk", created: 1, model: "gemini-2.0-flash", choices: [], usage })}\n\n` +
      "data: [DONE]\n\n";
    for (const size of [1, 3, 100_000]) {
      const result = feed(new ChatCompletionTap(true, { captureContent: true }), text, size);
      expect(result).toMatchObject({ chunks: 3, malformed: false, response: { finishReasons: ["STOP"], text: "Hello", tokens: { cached: 100 } } });
      expect(result.streamError).toBeUndefined();
    }
  });

  test("a stream that ends in an error event; a tool call is a visible answer", () => {
    const text = `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]},"finish_reason":"tool_calls"}]}\n\ndata: {"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}\n\n`;
    const result = feed(new ChatCompletionTap(true, { captureContent: false }), text, 7);
    expect(result.streamError).toMatchObject({ code: 503 });
    expect(result.response).toMatchObject({ hasVisibleParts: true, finishReasons: ["STOP"] });
  });
});

describe("resource tap", () => {
  test("embeddings: OpenAI usage, or none (the native answer carries none)", () => {
    expect(readResourceUsage("embeddings", { object: "list", data: [], usage: { prompt_tokens: 7, total_tokens: 7 } }).tokens).toMatchObject({ input: 7, output: 0 });
    expect(readResourceUsage("embeddings", { embeddings: [{ values: [0.1] }] })).toEqual({});
  });

  test("a cache's creation: its tokens as input, kept until expireTime", () => {
    const created = readResourceUsage("cached_content", {
      name: "cachedContents/c1",
      model: "models/gemini-2.5-flash",
      usageMetadata: { totalTokenCount: 2048 },
      createTime: "2026-01-01T00:00:00.000000Z",
      expireTime: "2026-01-01T01:00:00.000000Z",
    });
    expect(created).toEqual({
      tokens: { input: 2048, cached: 0, output: 0, thoughts: 0, tool_use: 0, inputAudio: 0 },
      cacheStorage: { tokens: 2048, seconds: 3600 },
      modelVersion: "models/gemini-2.5-flash",
    });
  });

  test("a batch: nothing until it succeeded, then the sum of its inlined responses at the batch rate (state as name or number)", () => {
    const response = (prompt: number, out: number) => ({ response: { usageMetadata: { promptTokenCount: prompt, candidatesTokenCount: out, totalTokenCount: prompt + out } } });
    const batch = (state: string | number) => ({
      name: "batches/b1",
      metadata: { model: "models/gemini-2.5-flash", state, output: { inlinedResponses: { inlinedResponses: [response(10, 3), response(20, 4), { error: {} }] } } },
      done: true,
    });
    expect(readResourceUsage("batch", batch("BATCH_STATE_RUNNING"))).toEqual({});
    for (const state of ["BATCH_STATE_SUCCEEDED", 3]) {
      expect(readResourceUsage("batch", batch(state))).toEqual({
        tokens: { input: 30, cached: 0, output: 7, thoughts: 0, tool_use: 0, inputAudio: 0 },
        billing: "batch",
        modelVersion: "models/gemini-2.5-flash",
      });
    }
  });

  test("a body that is not JSON is malformed, never a throw", () => {
    expect(feed(new ResourceTap("batch"), "<html>", 2)).toMatchObject({ malformed: true, chunks: 0 });
  });
});

describe("OpenAI request in Gemini's terms", () => {
  test("generation parameters and captured messages", () => {
    const request = {
      model: "gemini-2.5-flash",
      max_completion_tokens: 64,
      temperature: 0.3,
      top_p: 0.9,
      stop: "END",
      seed: 4,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Hi" }] },
        { role: "assistant", content: "Hello" },
      ],
    };
    expect(chatGenerationConfig(request)).toEqual({ maxOutputTokens: 64, temperature: 0.3, topP: 0.9, seed: 4, stopSequences: ["END"] });
    expect(chatCapturedInput(request)).toEqual({
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ text: "Hello" }] },
      ],
      systemInstruction: { parts: [{ text: "Be brief." }] },
    });
    expect(chatGenerationConfig({ messages: [] })).toBeUndefined();
  });
});
