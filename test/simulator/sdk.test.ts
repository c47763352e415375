// Conformance: both official SDKs, pointed at the simulator by their base-URL option, must accept what it sends.
import { ApiError, GoogleGenAI } from "@google/genai";
import { GoogleGenerativeAI, GoogleGenerativeAIFetchError } from "@google/generative-ai";
import { describe, expect, test, vi } from "vitest";
import type { TestSimulator } from "../helpers/sim.js";
import { chunksBeforeStreamError, QUESTIONS, runLegacyChat, THIRD_REPLY_CONTEXT } from "../helpers/chat.js";
import { startTestSimulator, useTestSimulator } from "../helpers/sim.js";


/** The legacy SDK's UsageMetadata type predates thinking; the field is on the wire all the same. */
const thoughtsOf = (usage: object | undefined): number | undefined => (usage as { thoughtsTokenCount?: number } | undefined)?.thoughtsTokenCount;

let sim: TestSimulator;
useTestSimulator((started) => (sim = started));

describe("legacy @google/generative-ai", () => {
  const model = (name = "gemini-2.5-flash") => new GoogleGenerativeAI("test-key").getGenerativeModel({ model: name }, { baseUrl: sim.url });

  test("the chat example: history 2, 4, 6 and the third reply shows the whole conversation", async () => {
    const { lengths, replies } = await runLegacyChat(model().startChat({ history: [] }), "unary");
    expect(lengths).toEqual([2, 4, 6]);
    expect(replies[0]).toMatch(/^\[context: 1 content; first user message: "Explain quantum entanglement in one sentence"\]/);
    expect(replies[2]!.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
    expect((await sim.stats()).byMethod.generateContent).toBe(3);
  });

  test("the chat example streamed: chunks concatenate to the reply, usage on the aggregate", async () => {
    const { lengths, replies, responses } = await runLegacyChat(model().startChat({ history: [] }), "stream");
    expect(responses.map((r) => r.candidates?.[0]?.finishReason)).toEqual(["STOP", "STOP", "STOP"]);
    expect(lengths).toEqual([2, 4, 6]);
    expect(replies[2]!.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
  });

  test("countTokens equals the promptTokenCount of generateContent, system instruction included", async () => {
    const m = new GoogleGenerativeAI("k").getGenerativeModel(
      { model: "gemini-2.0-flash", systemInstruction: "You are terse." },
      { baseUrl: sim.url },
    );
    const request = { contents: [{ role: "user", parts: [{ text: "How many tokens is this sentence, roughly?" }] }] };
    const counted = await m.countTokens(request);
    const generated = await m.generateContent(request);
    expect(counted.totalTokens).toBeGreaterThan(0);
    expect(generated.response.usageMetadata?.promptTokenCount).toBe(counted.totalTokens);
    expect(thoughtsOf(generated.response.usageMetadata)).toBeUndefined();
  });

  test("a 429 fault: the SDK error carries the RetryInfo retryDelay and QuotaFailure", async () => {
    await sim.setFaults([{ fault: { status: 429, retryDelay: "1.5s" }, times: 1 }]);
    const error = await model().generateContent("hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoogleGenerativeAIFetchError);
    const fetchError = error as GoogleGenerativeAIFetchError;
    expect(fetchError.status).toBe(429);
    const details = fetchError.errorDetails as Array<Record<string, unknown>>;
    expect(details.find((d) => String(d["@type"]).endsWith("RetryInfo"))?.retryDelay).toBe("1.5s");
    expect(details.find((d) => String(d["@type"]).endsWith("QuotaFailure"))).toBeDefined();
    expect(fetchError.message).toContain("Please retry in 1.5s.");
  });

  test("a mid-stream error surfaces as a stream error after the first chunks", async () => {
    await sim.setFaults([{ fault: { kind: "midstream_error", afterChunks: 2 } }]);
    expect(await chunksBeforeStreamError(model(), "tell me a story")).toHaveLength(2);
    expect((await sim.stats()).byFault).toEqual({ midstream_error: 1 });
  });

  test("thoughts that use the whole maxOutputTokens: MAX_TOKENS, no parts, chat history unchanged", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const m = new GoogleGenerativeAI("k").getGenerativeModel(
      { model: "gemini-2.5-flash", generationConfig: { maxOutputTokens: 10 } },
      { baseUrl: sim.url },
    );
    const chat = m.startChat();
    const result = await chat.sendMessage("think hard");
    expect(result.response.candidates?.[0]).toEqual({ content: { role: "model" }, finishReason: "MAX_TOKENS", index: 0 });
    expect(thoughtsOf(result.response.usageMetadata)).toBe(10);
    expect(await chat.getHistory()).toHaveLength(0);
    warn.mockRestore();
  });

  test("a bad key (restricted keys) and an unknown model are SDK fetch errors with the real statuses", async () => {
    const restricted = await startTestSimulator({ keys: ["good"] });
    try {
      const bad = new GoogleGenerativeAI("bad").getGenerativeModel({ model: "gemini-2.5-flash" }, { baseUrl: restricted.url });
      const error = (await bad.generateContent("hi").catch((e: unknown) => e)) as GoogleGenerativeAIFetchError;
      expect(error.status).toBe(400);
      expect(error.message).toContain("API key not valid. Please pass a valid API key.");
      expect(JSON.stringify(error.errorDetails)).toContain("API_KEY_INVALID");
      const good = new GoogleGenerativeAI("good").getGenerativeModel({ model: "gemini-2.5-flash" }, { baseUrl: restricted.url });
      expect((await good.generateContent("hi")).response.text()).toContain("[context: 1 content;");
    } finally {
      await restricted.close();
    }
    const unknown = (await model("gemini-9").generateContent("hi").catch((e: unknown) => e)) as GoogleGenerativeAIFetchError;
    expect(unknown.status).toBe(404);
    expect(unknown.message).toContain("models/gemini-9 is not found for API version v1beta");
  });
});

describe("new @google/genai", () => {
  const client = () => new GoogleGenAI({ apiKey: "test-key", httpOptions: { baseUrl: sim.url } });

  test("the chat example: history 2, 4, 6 and the third reply shows the whole conversation", async () => {
    const chat = client().chats.create({ model: "gemini-2.5-flash" });
    const lengths: number[] = [];
    const replies: string[] = [];
    for (const message of QUESTIONS) {
      const response = await chat.sendMessage({ message });
      replies.push(response.text ?? "");
      lengths.push(chat.getHistory().length);
    }
    expect(lengths).toEqual([2, 4, 6]);
    expect(replies[2]!.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
  });

  test("includeThoughts: a thought-summary part before the answer, which response.text leaves out", async () => {
    const ai = client();
    const config = { thinkingConfig: { includeThoughts: true } };
    const response = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "Why is the sky blue?", config });
    const parts = response.candidates?.[0]?.content?.parts ?? [];
    expect(parts.map((p) => p.thought === true)).toEqual([true, false]);
    expect(parts[0]!.text).toContain('"Why is the sky blue?"');
    expect(response.text).toBe(parts[1]!.text);
    expect(response.usageMetadata?.thoughtsTokenCount).toBeGreaterThan(0);
    const chunks = [];
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "Why is the sky blue?", config })) chunks.push(chunk);
    expect(chunks[0]!.candidates?.[0]?.content?.parts?.[0]?.thought).toBe(true);
    expect(chunks.slice(1).map((c) => c.text).join("")).toBe(response.text);
    // thinking turned off: nothing to summarise
    const plain = await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: "Why is the sky blue?",
      config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 0 } },
    });
    expect(plain.candidates?.[0]?.content?.parts?.some((p) => p.thought)).toBe(false);
  });

  test("sendMessageStream: running usage, finishReason on the last chunk only, one responseId", async () => {
    const chat = client().chats.create({ model: "gemini-2.5-pro" });
    const stream = await chat.sendMessageStream({ message: QUESTIONS[0]! });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.slice(0, -1).every((c) => c.candidates?.[0]?.finishReason === undefined)).toBe(true);
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe("STOP");
    expect(new Set(chunks.map((c) => c.responseId)).size).toBe(1);
    const running = chunks.map((c) => c.usageMetadata?.candidatesTokenCount ?? 0);
    expect(running).toEqual([...running].sort((a, b) => a - b));
    const last = chunks.at(-1)!.usageMetadata!;
    expect(last.thoughtsTokenCount).toBeGreaterThan(0);
    expect(last.totalTokenCount).toBe(last.promptTokenCount! + last.candidatesTokenCount! + last.thoughtsTokenCount!);
    expect(chunks.map((c) => c.text).join("")).toMatch(/^\[context: 1 content;/);
  });

  test("countTokens equals promptTokenCount; models.list pages through every model", async () => {
    const ai = client();
    const contents = "Count these tokens, please: supercalifragilistic!";
    const counted = await ai.models.countTokens({ model: "gemini-2.5-flash", contents });
    const generated = await ai.models.generateContent({ model: "gemini-2.5-flash", contents });
    expect(generated.usageMetadata?.promptTokenCount).toBe(counted.totalTokens);
    const names: string[] = [];
    const pager = await ai.models.list({ config: { pageSize: 2 } });
    for await (const m of pager) names.push(m.name ?? "");
    expect(names).toEqual([
      "models/gemini-2.5-pro",
      "models/gemini-2.5-flash",
      "models/gemini-2.5-flash-lite",
      "models/gemini-2.0-flash",
      "models/gemini-2.0-flash-lite",
      "models/gemini-embedding-001",
      "models/text-embedding-004",
    ]);
    expect((await sim.stats()).byMethod.listModels).toBe(4);
  });

  test("thinkingBudget 0 turns thinking off on flash; pro rejects it with the exact message", async () => {
    const ai = client();
    const off = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi", config: { thinkingConfig: { thinkingBudget: 0 } } });
    expect(off.usageMetadata?.thoughtsTokenCount).toBeUndefined();
    const error = await ai.models
      .generateContent({ model: "gemini-2.5-pro", contents: "hi", config: { thinkingConfig: { thinkingBudget: 0 } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect(JSON.parse((error as ApiError).message)).toEqual({
      error: { code: 400, message: "Budget 0 is invalid. This model only works in thinking mode.", status: "INVALID_ARGUMENT" },
    });
  });

  test("a 429 fault: the ApiError body carries the retryDelay", async () => {
    await sim.setFaults([{ when: { method: "generateContent" }, fault: { status: 429, retryDelay: "12.345s" } }]);
    const error = (await client()
      .models.generateContent({ model: "gemini-2.5-flash", contents: "hi" })
      .catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(429);
    const body = JSON.parse(error.message) as { error: { details: Array<Record<string, unknown>> } };
    expect(body.error.details.find((d) => String(d["@type"]).endsWith("RetryInfo"))?.retryDelay).toBe("12.345s");
  });

  test("a mid-stream error surfaces as a stream error", async () => {
    await sim.setFaults([{ fault: { kind: "midstream_error", afterChunks: 1, status: 503 } }]);
    const stream = await client().models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" });
    const seen: string[] = [];
    const consume = async () => {
      for await (const chunk of stream) seen.push(chunk.text ?? "");
    };
    await expect(consume()).rejects.toThrow(/503|UNAVAILABLE|Incomplete JSON/);
    expect(seen).toHaveLength(1);
  });

  test("a blocked prompt: no candidates, promptFeedback, prompt-only usage; the curated history drops the turn", async () => {
    await sim.setFaults([{ fault: { kind: "block", blockReason: "SAFETY" }, times: 1 }]);
    const chat = client().chats.create({ model: "gemini-2.0-flash" });
    const response = await chat.sendMessage({ message: "something bad" });
    expect(response.candidates).toBeUndefined();
    expect(response.promptFeedback?.blockReason).toBe("SAFETY");
    expect(response.usageMetadata?.candidatesTokenCount).toBeUndefined();
    expect(response.usageMetadata?.totalTokenCount).toBe(response.usageMetadata?.promptTokenCount);
    expect(chat.getHistory(true)).toHaveLength(0);
  });
});
