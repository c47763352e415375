// The SDK conformance checks, through the gateway: SDK (apiKey = a gateway key) -> gateway -> simulator.
import { ApiError, GoogleGenAI } from "@google/genai";
import { GoogleGenerativeAI, GoogleGenerativeAIFetchError } from "@google/generative-ai";
import { describe, expect, test } from "vitest";
import { chunksBeforeStreamError, QUESTIONS, runLegacyChat, THIRD_REPLY_CONTEXT } from "../helpers/chat.js";
import { GATEWAY_KEY, UPSTREAM_KEY, useStack, type Stack } from "./stack.js";


let stack: Stack;
// The simulator accepts only the upstream key: a forwarded gateway key would fail.
useStack((started) => (stack = started), {}, { keys: [UPSTREAM_KEY] });

describe("legacy @google/generative-ai through the gateway", () => {
  const model = (apiKey = GATEWAY_KEY) => new GoogleGenerativeAI(apiKey).getGenerativeModel({ model: "gemini-2.5-flash" }, { baseUrl: stack.url });

  test("the chat example, unary: history 2, 4, 6; the third reply shows the whole conversation", async () => {
    const { lengths, replies } = await runLegacyChat(model().startChat({ history: [] }), "unary");
    expect(lengths).toEqual([2, 4, 6]);
    expect(replies[2]!.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
    expect((await stack.sim.stats()).byMethod.generateContent).toBe(3);
    expect(stack.records.map((r) => [r.route, r.tenant, r.httpStatus, r.attempts.length])).toEqual(
      Array(3).fill(["generateContent", "alpha", 200, 1]),
    );
    expect(stack.records[2]!.response?.usage?.promptTokenCount).toBeGreaterThan(0);
  });

  test("the chat example, streamed", async () => {
    const { lengths, replies } = await runLegacyChat(model().startChat({ history: [] }), "stream");
    expect(lengths).toEqual([2, 4, 6]);
    expect(replies[2]!.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
    const record = stack.records[2]!;
    expect(record).toMatchObject({ route: "streamGenerateContent", stream: true, httpStatus: 200, response: { finishReasons: ["STOP"] } });
    expect(record.firstChunkAt).toBeGreaterThanOrEqual(record.startedAt);
  });

  test("countTokens; a wrong gateway key is the SDK's usual 400", async () => {
    expect((await model().countTokens("How many tokens?")).totalTokens).toBeGreaterThan(0);
    const error = await model("not-a-gateway-key").generateContent("hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoogleGenerativeAIFetchError);
    expect((error as GoogleGenerativeAIFetchError).status).toBe(400);
    expect((error as GoogleGenerativeAIFetchError).errorDetails?.[0]).toMatchObject({ reason: "API_KEY_INVALID" });
  });

  test("a mid-stream error surfaces as a stream error, not retried", async () => {
    await stack.sim.setFaults([{ fault: { kind: "midstream_error", afterChunks: 2 } }]);
    expect(await chunksBeforeStreamError(model(), "tell me a story")).toHaveLength(2);
    expect((await stack.sim.stats()).requests).toBe(1);
    expect(stack.records[0]).toMatchObject({ httpStatus: 200, errorType: "midstream_error", attempts: [{ outcome: "ok" }] });
  });
});

describe("new @google/genai through the gateway", () => {
  const ai = () => new GoogleGenAI({ apiKey: GATEWAY_KEY, httpOptions: { baseUrl: stack.url } });

  test("the chat example, unary and streamed", async () => {
    for (const streamed of [false, true]) {
      const chat = ai().chats.create({ model: "gemini-2.0-flash" });
      let last = "";
      for (const question of QUESTIONS) {
        if (streamed) {
          last = "";
          for await (const chunk of await chat.sendMessageStream({ message: question })) last += chunk.text ?? "";
        } else {
          last = (await chat.sendMessage({ message: question })).text ?? "";
        }
      }
      expect(chat.getHistory().filter((c) => c.role === "user")).toHaveLength(3);
      // A streamed reply lands as one model turn per chunk, so the count of contents differs; the first message does not.
      expect(last).toMatch(/^\[context: \d+ contents; first user message: "Explain quantum entanglement in one sentence"\]/);
      if (!streamed) expect(last.startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
    }
    expect((await stack.sim.stats()).byMethod).toMatchObject({ generateContent: 3, streamGenerateContent: 3 });
  });

  test("countTokens and models.list / get", async () => {
    const client = ai();
    const counted = await client.models.countTokens({ model: "gemini-2.5-flash", contents: "How many tokens is this?" });
    expect(counted.totalTokens).toBeGreaterThan(0);
    const names: string[] = [];
    for await (const m of await client.models.list()) names.push(m.name ?? "");
    expect(names).toContain("models/gemini-2.5-pro");
    expect((await client.models.get({ model: "gemini-2.5-flash" })).name).toBe("models/gemini-2.5-flash");
    expect(stack.records.map((r) => r.operation)).toEqual(expect.arrayContaining(["count_tokens", "list_models", "get_model"]));
  });

  test("a per-day 429 reaches the SDK at once with its RetryInfo", async () => {
    await stack.sim.setFaults([{ fault: { status: 429, retryDelay: "3600s", quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" } }]);
    const error = await ai().models.generateContent({ model: "gemini-2.5-flash", contents: "hi" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(429);
    expect((error as ApiError).message).toContain("3600s");
    expect((await stack.sim.stats()).requests).toBe(1);
  });

  test("a mid-stream error surfaces as a stream error", async () => {
    await stack.sim.setFaults([{ fault: { kind: "midstream_error", afterChunks: 1, status: 503 } }]);
    const chat = ai().chats.create({ model: "gemini-2.5-flash" });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of await chat.sendMessageStream({ message: "a long story please" })) seen.push(chunk.text ?? "");
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(seen).toHaveLength(1);
    expect((await stack.sim.stats()).requests).toBe(1);
  });
});
