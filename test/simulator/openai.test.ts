// The OpenAI-compatible endpoint through the `openai` package, unmodified: chat completions (unary, streamed, with
// usage), embeddings (base64 by default, float), models, and errors as the SDK surfaces them.
import { GoogleGenAI } from "@google/genai";
import OpenAI, { APIError, NotFoundError, RateLimitError } from "openai";
import { describe, expect, test } from "vitest";
import type { TestSimulator } from "../helpers/sim.js";
import { useTestSimulator } from "../helpers/sim.js";

let sim: TestSimulator;
useTestSimulator((started) => (sim = started));

const openai = (apiKey = "test-key") => new OpenAI({ apiKey, baseURL: `${sim.url}/v1beta/openai/`, maxRetries: 0 });
const genai = () => new GoogleGenAI({ apiKey: "test-key", httpOptions: { baseUrl: sim.url } });

describe("chat completions", () => {
  test("unary: the same generation as generateContent, in OpenAI's shape and usage", async () => {
    const completion = await openai().chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Explain quantum entanglement in one sentence" },
      ],
    });
    const native = await genai().models.generateContent({
      model: "gemini-2.5-flash",
      contents: "Explain quantum entanglement in one sentence",
      config: { systemInstruction: { parts: [{ text: "Be brief." }] } },
    });
    const usage = native.usageMetadata!;
    expect(completion).toMatchObject({ object: "chat.completion", model: "gemini-2.5-flash", id: native.responseId });
    expect(completion.choices).toEqual([{ index: 0, finish_reason: "stop", message: { role: "assistant", content: native.text } }]);
    expect(completion.usage).toEqual({
      prompt_tokens: usage.promptTokenCount,
      completion_tokens: usage.candidatesTokenCount! + usage.thoughtsTokenCount!,
      total_tokens: usage.totalTokenCount,
      completion_tokens_details: { reasoning_tokens: usage.thoughtsTokenCount },
    });
    expect(completion.created).toBeGreaterThan(1_700_000_000);
  });

  test("max_tokens, reasoning_effort, assistant turns; finish_reason length", async () => {
    const completion = await openai().chat.completions.create({
      model: "gemini-2.5-flash",
      reasoning_effort: "none",
      max_tokens: 6,
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "Tell me more" },
      ],
    });
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(completion.choices[0]!.message.content).toBe("[context: 3 contents;");
    expect(completion.usage).toEqual({ prompt_tokens: 6, completion_tokens: 6, total_tokens: 12 });
  });

  test("stream with include_usage: chunks, then one with no choices and the usage, then [DONE]", async () => {
    const stream = await openai().chat.completions.create({
      model: "gemini-2.0-flash",
      messages: [{ role: "user", content: "Stream a story" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    const content = chunks.slice(0, -1);
    expect(content.length).toBeGreaterThan(2);
    expect(content.every((c) => c.object === "chat.completion.chunk" && c.usage === undefined)).toBe(true);
    expect(content.map((c) => c.choices[0]!.finish_reason)).toEqual([...Array<null>(content.length - 1).fill(null), "stop"]);
    const text = content.map((c) => c.choices[0]!.delta.content).join("");
    const native = await genai().models.generateContent({ model: "gemini-2.0-flash", contents: "Stream a story" });
    expect(text).toBe(native.text);
    expect(usageChunk.usage).toEqual({
      prompt_tokens: native.usageMetadata!.promptTokenCount,
      completion_tokens: native.usageMetadata!.candidatesTokenCount,
      total_tokens: native.usageMetadata!.totalTokenCount,
    });

    const raw = await fetch(`${sim.url}/v1beta/openai/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: JSON.stringify({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "Stream a story" }], stream: true }),
    });
    expect(raw.headers.get("content-type")).toBe("text/event-stream");
    const events = (await raw.text()).split("\n\n");
    expect(events.at(-2)).toBe("data: [DONE]");
    expect(events.slice(0, -2).every((e) => /^data: \{.*"object":"chat\.completion\.chunk".*\}$/.test(e))).toBe(true);
    expect(events.slice(0, -2).some((e) => e.includes('"usage"'))).toBe(false);
  });

  test("a mid-stream failure: an error event after some chunks, no [DONE]; the SDK throws an APIError", async () => {
    await sim.setFaults([{ when: { method: "openaiChatCompletions" }, fault: { kind: "midstream_error", afterChunks: 2 } }]);
    const stream = await openai().chat.completions.create({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "x" }], stream: true });
    const seen: string[] = [];
    const consume = async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    };
    const error = await consume().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain("This model is currently experiencing high demand");
    expect(seen).toHaveLength(2);
    const raw = await fetch(`${sim.url}/v1beta/openai/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k" },
      body: JSON.stringify({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    const events = (await raw.text()).trim().split("\n\n");
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[2]!.slice("data: ".length))).toEqual({
      error: { code: 503, message: "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.", status: "UNAVAILABLE" },
    });
  });

  test("a 429 is the SDK's RateLimitError; the body is Gemini's envelope in a list, details kept", async () => {
    await sim.setFaults([{ when: { method: "openaiChatCompletions", model: "gemini-2.5-flash" }, fault: { status: 429, retryDelay: "7s" } }]);
    const error = await openai().chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).status).toBe(429);
    const raw = await fetch(`${sim.url}/v1beta/openai/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k" },
      body: JSON.stringify({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }),
    });
    const body = (await raw.json()) as Array<{ error: { code: number; status: string; details: Array<Record<string, unknown>> } }>;
    expect(body).toHaveLength(1);
    expect(body[0]!.error).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    expect(body[0]!.error.details.find((d) => String(d["@type"]).endsWith("RetryInfo"))).toEqual({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" });
    expect(JSON.stringify(body[0]!.error.details)).toContain('"model":"gemini-2.5-flash"');
    expect((await sim.stats()).byFault).toEqual({ "status:429": 2 });
  });

  test("an unknown model is a 404 NotFoundError; validation errors are 400s in the list form", async () => {
    const unknown = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    const bad = await fetch(`${sim.url}/v1beta/openai/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k" },
      body: JSON.stringify({ model: "gemini-2.5-pro", reasoning_effort: "none", messages: [{ role: "user", content: "x" }] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual([{ error: { code: 400, message: "Budget 0 is invalid. This model only works in thinking mode.", status: "INVALID_ARGUMENT" } }]);
    const stats = await sim.stats();
    expect(stats.byModel).toEqual({ "gpt-4o": 1, "gemini-2.5-pro": 1 });
  });
});

describe("embeddings and models", () => {
  test("embeddings.create: base64 by default (decoded by the SDK), float on request; dimensions; usage", async () => {
    const client = openai();
    const base64 = await client.embeddings.create({ model: "gemini-embedding-001", input: ["hello world", "goodbye"] });
    expect(base64.object).toBe("list");
    expect(base64.data.map((d) => [d.index, d.embedding.length])).toEqual([
      [0, 3072],
      [1, 3072],
    ]);
    expect(base64.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const float = await client.embeddings.create({ model: "models/gemini-embedding-001", input: "hello world", encoding_format: "float", dimensions: 256 });
    expect(float.data[0]!.embedding).toEqual(base64.data[0]!.embedding.slice(0, 256));
    const native = await genai().models.embedContent({ model: "gemini-embedding-001", contents: "hello world" });
    expect(native.embeddings![0]!.values).toEqual(base64.data[0]!.embedding);
    expect((await sim.stats()).byMethod.openaiEmbeddings).toBe(2);
  });

  test("models.list and models.retrieve", async () => {
    const ids: string[] = [];
    for await (const model of openai().models.list()) {
      expect(model).toMatchObject({ object: "model", owned_by: "google" });
      ids.push(model.id);
    }
    expect(ids).toContain("models/gemini-2.5-flash");
    expect(ids).toContain("models/gemini-embedding-001");
    expect(await openai().models.retrieve("gemini-2.5-pro")).toEqual({ id: "models/gemini-2.5-pro", object: "model", created: 0, owned_by: "google" });
    expect(await openai().models.retrieve("models/gemini-2.5-pro")).toMatchObject({ id: "models/gemini-2.5-pro" });
    await expect(openai().models.retrieve("nope")).rejects.toBeInstanceOf(NotFoundError);
  });

  test("the Bearer key is the API key: caches made by one key are not another's", async () => {
    const document = Array.from({ length: 1100 }, (_, i) => `word${i % 50}`).join(" ");
    const cache = await new GoogleGenAI({ apiKey: "owner", httpOptions: { baseUrl: sim.url } }).caches.create({ model: "gemini-2.5-flash", config: { contents: document } });
    const ask = (apiKey: string) =>
      fetch(`${sim.url}/v1beta/openai/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "q" }], extra_body: { google: { cached_content: cache.name } } }),
      });
    const owned = (await (await ask("owner")).json()) as { usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
    expect(owned.usage.prompt_tokens_details.cached_tokens).toBe(cache.usageMetadata!.totalTokenCount);
    expect(owned.usage.prompt_tokens).toBe(cache.usageMetadata!.totalTokenCount! + 1);
    expect((await ask("stranger")).status).toBe(403);
    const noKey = await fetch(`${sim.url}/v1beta/openai/models`);
    expect(noKey.status).toBe(403);
    expect(Array.isArray(await noKey.json())).toBe(true);
  });
});
