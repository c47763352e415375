// The wider native surface through @google/genai, unmodified: embeddings, context caches (explicit and implicit),
// code execution, the Files API's resumable upload, batches. Raw fetch where the SDK cannot show the wire.
import { ApiError, GoogleGenAI, JobState } from "@google/genai";
import { describe, expect, test } from "vitest";
import type { TestSimulator } from "../helpers/sim.js";
import { startTestSimulator, useTestSimulator } from "../helpers/sim.js";

let sim: TestSimulator;
useTestSimulator((started) => (sim = started), { batchPollsUntilDone: 2 });

const client = (apiKey = "test-key", base = sim.url) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: base } });

/** About `tokens` tokens of text (the simulator's tokenizer: one short word, one token). */
const longText = (tokens: number, topic = "archive"): string => Array.from({ length: tokens }, (_, i) => `${topic}${i % 100}`).join(" ");

async function apiError(promise: Promise<unknown>): Promise<{ status: number; body: { error: { code: number; message: string; status: string } } }> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return { status: (error as ApiError).status, body: JSON.parse((error as ApiError).message) as { error: { code: number; message: string; status: string } } };
}

describe("embeddings", () => {
  test("models.embedContent (batchEmbedContents): unit vectors of 3072, deterministic, outputDimensionality is a prefix", async () => {
    const ai = client();
    const result = await ai.models.embedContent({ model: "gemini-embedding-001", contents: ["the quick brown fox", "the quick brown fox", "an unrelated sentence"] });
    const vectors = result.embeddings!.map((e) => e.values!);
    expect(vectors.map((v) => v.length)).toEqual([3072, 3072, 3072]);
    expect(Math.hypot(...vectors[0]!)).toBeCloseTo(1, 5);
    expect(vectors[1]).toEqual(vectors[0]);
    expect(vectors[2]).not.toEqual(vectors[0]);
    const short = await ai.models.embedContent({ model: "gemini-embedding-001", contents: "the quick brown fox", config: { outputDimensionality: 768, taskType: "RETRIEVAL_QUERY" } });
    expect(short.embeddings![0]!.values).toEqual(vectors[0]!.slice(0, 768));
    expect((await sim.stats()).byMethod.batchEmbedContents).toBe(2);
  });

  test("embedContent on the wire: {embedding: {values}}, no usage; the wrong kind of model is a 404", async () => {
    const post = (model: string, method: string, body: unknown) =>
      fetch(`${sim.url}/v1beta/models/${model}:${method}`, { method: "POST", headers: { "x-goog-api-key": "k" }, body: JSON.stringify(body) });
    const res = await post("text-embedding-004", "embedContent", { content: { parts: [{ text: "hello" }] }, taskType: 3 });
    const body = (await res.json()) as Record<string, { values: number[] }>;
    expect(Object.keys(body)).toEqual(["embedding"]);
    expect(body.embedding!.values).toHaveLength(768);
    const onChat = await post("gemini-2.5-flash", "embedContent", { content: { parts: [{ text: "hello" }] } });
    expect(onChat.status).toBe(404);
    expect(((await onChat.json()) as { error: { message: string } }).error.message).toContain("is not supported for embedContent");
    const generateOnEmbedding = await apiError(client().models.generateContent({ model: "gemini-embedding-001", contents: "hi" }));
    expect(generateOnEmbedding.status).toBe(404);
  });
});

describe("explicit context caches", () => {
  test("create, get, list, update, delete through caches.*; a generate with the cache reports cachedContentTokenCount", async () => {
    const ai = client();
    const document = longText(1200);
    const cache = await ai.caches.create({
      model: "gemini-2.5-flash",
      config: { contents: [{ role: "user", parts: [{ text: document }] }], systemInstruction: "Answer from the document.", displayName: "doc", ttl: "300s" },
    });
    expect(cache.name).toMatch(/^cachedContents\/[a-z0-9]+$/);
    expect(cache).toMatchObject({ model: "models/gemini-2.5-flash", displayName: "doc" });
    const cachedTokens = cache.usageMetadata!.totalTokenCount!;
    expect(cachedTokens).toBeGreaterThanOrEqual(1200);
    expect(Date.parse(cache.expireTime!) - Date.parse(cache.createTime!)).toBe(300_000);

    expect((await ai.caches.get({ name: cache.name! })).usageMetadata?.totalTokenCount).toBe(cachedTokens);
    const listed: string[] = [];
    for await (const c of await ai.caches.list()) listed.push(c.name ?? "");
    expect(listed).toEqual([cache.name]);
    const updated = await ai.caches.update({ name: cache.name!, config: { ttl: "600s" } });
    expect(Date.parse(updated.expireTime!) - Date.parse(updated.updateTime!)).toBe(600_000);

    const response = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "What does it say?", config: { cachedContent: cache.name! } });
    const usage = response.usageMetadata!;
    expect(usage.cachedContentTokenCount).toBe(cachedTokens);
    expect(usage.promptTokenCount).toBe(cachedTokens + 5);
    expect(usage.cacheTokensDetails).toEqual([{ modality: "TEXT", tokenCount: cachedTokens }]);
    expect(usage.totalTokenCount).toBe(usage.promptTokenCount! + usage.candidatesTokenCount! + (usage.thoughtsTokenCount ?? 0));
    expect(response.text).toMatch(/^\[context: 2 contents; first user message: "archive0 archive1/);
    const counted = await fetch(`${sim.url}/v1beta/models/gemini-2.5-flash:countTokens`, {
      method: "POST",
      headers: { "x-goog-api-key": "test-key" },
      body: JSON.stringify({ generateContentRequest: { model: "models/gemini-2.5-flash", contents: [{ parts: [{ text: "What does it say?" }] }], cachedContent: cache.name } }),
    });
    expect(await counted.json()).toMatchObject({ totalTokens: usage.promptTokenCount, cachedContentTokenCount: cachedTokens });

    await ai.caches.delete({ name: cache.name! });
    const gone = await apiError(ai.caches.get({ name: cache.name! }));
    expect(gone.status).toBe(403);
    expect(gone.body.error.message).toBe("CachedContent not found (or permission denied)");
    const stats = await sim.stats();
    expect(stats.tokens.cached).toBe(cachedTokens);
    expect(stats.byMethod).toMatchObject({ createCachedContent: 1, getCachedContent: 2, listCachedContents: 1, updateCachedContent: 1, deleteCachedContent: 1 });
  });

  test("Google's 400s: too small for the model, instruction or tools beside the cache, another model; another key's cache is 403", async () => {
    const ai = client();
    const small = await apiError(ai.caches.create({ model: "gemini-2.5-pro", config: { contents: longText(2000) } }));
    expect(small.body.error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    expect(small.body.error.message).toMatch(/^Cached content is too small\. total_token_count=\d+, min_total_token_count=4096$/);
    const cache = await ai.caches.create({ model: "gemini-2.5-flash", config: { contents: longText(1100) } });
    const name = cache.name!;
    const withSystem = await apiError(ai.models.generateContent({ model: "gemini-2.5-flash", contents: "q", config: { cachedContent: name, systemInstruction: "x" } }));
    expect(withSystem.body.error.message).toBe("Tool config, tools and system instruction should not be set in the request when using cached content.");
    const otherModel = await apiError(ai.models.generateContent({ model: "gemini-2.5-pro", contents: "q", config: { cachedContent: name } }));
    expect(otherModel.body.error.message).toBe(`Model used by GenerateContent request (models/gemini-2.5-pro) and CachedContent (models/gemini-2.5-flash) has to be the same.`);
    const stranger = await apiError(client("other-key").models.generateContent({ model: "gemini-2.5-flash", contents: "q", config: { cachedContent: name } }));
    expect(stranger.status).toBe(403);
    expect((await apiError(client("other-key").caches.get({ name }))).status).toBe(403);
  });

  test("expired caches vanish (injected clock)", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const own = await startTestSimulator({ clock: () => now });
    try {
      const ai = client("k", own.url);
      const cache = await ai.caches.create({ model: "gemini-2.5-flash", config: { contents: longText(1100), ttl: "60s" } });
      expect(cache.expireTime).toBe("2026-01-01T00:01:00.000Z");
      now += 59_000;
      expect((await ai.caches.get({ name: cache.name! })).name).toBe(cache.name);
      now += 1_000;
      expect((await apiError(ai.caches.get({ name: cache.name! }))).status).toBe(403);
    } finally {
      await own.close();
    }
  });
});

describe("implicit caching", () => {
  test("a repeated long prefix within the window reports cached tokens; a short one, another key or a late one does not", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const own = await startTestSimulator({ clock: () => now, implicitCacheWindowMs: 60_000 });
    try {
      const prefix = [{ role: "user", parts: [{ text: longText(1500, "manual") }] }, { role: "model", parts: [{ text: "Read it." }] }];
      const ask = (question: string, apiKey = "k") => client(apiKey, own.url).models.generateContent({ model: "gemini-2.5-flash", contents: [...prefix, { role: "user", parts: [{ text: question }] }] });
      const first = await ask("First question?");
      expect(first.usageMetadata?.cachedContentTokenCount).toBeUndefined();
      const second = await ask("Second question?");
      const prefixTokens = first.usageMetadata!.promptTokenCount! - 3;
      expect(second.usageMetadata?.cachedContentTokenCount).toBe(prefixTokens);
      expect(second.usageMetadata?.cacheTokensDetails).toEqual([{ modality: "TEXT", tokenCount: prefixTokens }]);
      expect((await ask("Another key?", "k2")).usageMetadata?.cachedContentTokenCount).toBeUndefined();
      now += 60_000;
      expect((await ask("Too late?")).usageMetadata?.cachedContentTokenCount).toBeUndefined();
      const short = [{ role: "user", parts: [{ text: "short" }] }];
      await client("k", own.url).models.generateContent({ model: "gemini-2.5-flash", contents: short });
      expect((await client("k", own.url).models.generateContent({ model: "gemini-2.5-flash", contents: short })).usageMetadata?.cachedContentTokenCount).toBeUndefined();
      expect((await own.stats()).tokens.cached).toBe(prefixTokens);
    } finally {
      await own.close();
    }
  });
});

describe("code execution", () => {
  test("executableCode and codeExecutionResult before the text; toolUsePromptTokenCount in the total", async () => {
    const response = await client().models.generateContent({
      model: "gemini-2.5-flash",
      contents: "How many words are in this question?",
      config: { tools: [{ codeExecution: {} }], thinkingConfig: { thinkingBudget: 0 } },
    });
    const parts = response.candidates![0]!.content!.parts!;
    expect(parts[0]!.executableCode).toEqual({ language: "PYTHON", code: 'words = "How many words are in this question?".split()\nprint(len(words))\n' });
    expect(parts[1]!.codeExecutionResult).toEqual({ outcome: "OUTCOME_OK", output: "7\n" });
    expect(parts[2]!.text).toMatch(/^\[context: 1 content;/);
    expect(response.executableCode).toContain("print(len(words))");
    expect(response.codeExecutionResult).toBe("7\n");
    const usage = response.usageMetadata!;
    expect(usage.toolUsePromptTokenCount).toBe(1);
    expect(usage.toolUsePromptTokensDetails).toEqual([{ modality: "TEXT", tokenCount: 1 }]);
    expect(usage.totalTokenCount).toBe(usage.promptTokenCount! + usage.candidatesTokenCount! + usage.toolUsePromptTokenCount!);
    const counted = await client().models.countTokens({ model: "gemini-2.5-flash", contents: "How many words are in this question?" });
    expect(counted.totalTokens).toBe(8);
    expect((await sim.stats()).tokens.toolUse).toBe(1);
  });

  test("streamed: the code and its result come in chunks of their own, the last chunk's usage matches the unary one", async () => {
    const request = { model: "gemini-2.0-flash", contents: "Count my words", config: { tools: [{ codeExecution: {} }] } };
    const chunks = [];
    for await (const chunk of await client().models.generateContentStream(request)) chunks.push(chunk);
    expect(chunks[0]!.candidates![0]!.content!.parts![0]!.executableCode).toBeDefined();
    expect(chunks[0]!.usageMetadata?.toolUsePromptTokenCount).toBeUndefined();
    expect(chunks[1]!.candidates![0]!.content!.parts![0]!.codeExecutionResult?.output).toBe("3\n");
    const unary = await client().models.generateContent(request);
    expect(chunks.at(-1)!.usageMetadata).toEqual(unary.usageMetadata);
  });
});

describe("files", () => {
  test("files.upload (a Blob, resumable), get, list, delete; a generate may use the file, another key may not", async () => {
    const ai = client();
    const bytes = new Uint8Array(3000).map((_, i) => i % 251);
    const file = await ai.files.upload({ file: new Blob([bytes], { type: "image/png" }), config: { displayName: "pixels" } });
    expect(file).toMatchObject({ displayName: "pixels", mimeType: "image/png", sizeBytes: "3000", state: "ACTIVE", source: "UPLOADED" });
    expect(file.name).toMatch(/^files\/[a-z0-9]{12}$/);
    expect(file.uri).toBe(`${sim.url}/v1beta/${file.name}`);
    expect(Date.parse(file.expirationTime!) - Date.parse(file.createTime!)).toBe(48 * 3_600_000);
    expect(Buffer.from(file.sha256Hash!, "base64").toString()).toMatch(/^[0-9a-f]{64}$/);

    expect(await ai.files.get({ name: file.name! })).toEqual(file);
    const names: string[] = [];
    for await (const f of await ai.files.list()) names.push(f.name ?? "");
    expect(names).toEqual([file.name]);

    const withFile = { model: "gemini-2.5-flash", contents: [{ role: "user", parts: [{ fileData: { fileUri: file.uri!, mimeType: "image/png" } }, { text: "Describe it" }] }] };
    const response = await ai.models.generateContent(withFile);
    expect(response.usageMetadata?.promptTokensDetails).toContainEqual({ modality: "IMAGE", tokenCount: 258 });
    const stranger = await apiError(client("other-key").models.generateContent(withFile));
    expect(stranger.status).toBe(403);
    expect(stranger.body.error.message).toBe(`You do not have permission to access the File ${file.name!.slice(6)} or it may not exist.`);
    expect((await apiError(client("other-key").files.get({ name: file.name! }))).status).toBe(403);

    await ai.files.delete({ name: file.name! });
    expect((await apiError(ai.files.get({ name: file.name! }))).status).toBe(403);
    expect((await sim.stats()).byMethod).toMatchObject({ createFile: 1, uploadFileData: 1, getFile: 3, listFiles: 1, deleteFile: 1 });
  });

  test("the resumable protocol on the wire: absolute upload URL, offsets checked, query, chunks, finalize", async () => {
    const start = await fetch(`${sim.url}/upload/v1beta/files`, {
      method: "POST",
      headers: {
        "x-goog-api-key": "k",
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-length": "10",
        "x-goog-upload-header-content-type": "text/plain",
      },
      body: JSON.stringify({ file: { displayName: "notes" } }),
    });
    expect(start.status).toBe(200);
    expect(start.headers.get("x-goog-upload-status")).toBe("active");
    const uploadUrl = start.headers.get("x-goog-upload-url")!;
    expect(uploadUrl).toMatch(new RegExp(`^${sim.url}/upload/v1beta/files\\?upload_id=[a-z0-9]+&upload_protocol=resumable$`));
    const send = (command: string, offset: number, body: string) =>
      fetch(uploadUrl, { method: "POST", headers: { "x-goog-upload-command": command, "x-goog-upload-offset": String(offset) }, body });
    const first = await send("upload", 0, "hello");
    expect(first.headers.get("x-goog-upload-status")).toBe("active");
    expect((await send("upload", 3, "xx")).status).toBe(400);
    const query = await send("query", 0, "");
    expect(query.headers.get("x-goog-upload-size-received")).toBe("5");
    const last = await send("upload, finalize", 5, "world");
    expect(last.headers.get("x-goog-upload-status")).toBe("final");
    const { file } = (await last.json()) as { file: { name: string; sizeBytes: string; mimeType: string } };
    expect(file).toMatchObject({ sizeBytes: "10", mimeType: "text/plain" });
    const download = await fetch(`${sim.url}/v1beta/${file.name}:download?alt=media&key=k`);
    expect(await download.text()).toBe("helloworld");
  });
});

describe("batches", () => {
  test("batches.create with inlined requests, then batches.get: pending, running, succeeded with inlined responses", async () => {
    const ai = client();
    const created = await ai.batches.create({
      model: "gemini-2.5-flash",
      src: [
        { contents: [{ role: "user", parts: [{ text: "First question" }] }], metadata: { key: "one" } },
        { contents: [{ role: "user", parts: [{ text: "Second question" }] }], config: { maxOutputTokens: 5, thinkingConfig: { thinkingBudget: 0 } } },
      ],
      config: { displayName: "nightly" },
    });
    expect(created).toMatchObject({ displayName: "nightly", state: JobState.JOB_STATE_PENDING, model: "models/gemini-2.5-flash" });
    expect(created.name).toMatch(/^batches\/[a-z0-9]{36}$/);
    const running = await ai.batches.get({ name: created.name! });
    expect(running.state).toBe(JobState.JOB_STATE_RUNNING);
    expect(running.dest).toBeUndefined();
    const done = await ai.batches.get({ name: created.name! });
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(done.endTime).toBeDefined();
    const [first, second] = done.dest!.inlinedResponses!;
    expect(first!.metadata).toEqual({ key: "one" });
    expect(first!.response!.candidates![0]!.content!.parts![0]!.text).toMatch(/^\[context: 1 content; first user message: "First question"\]/);
    const direct = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "First question" });
    expect(first!.response!.usageMetadata).toEqual(direct.usageMetadata);
    expect(second!.response!.candidates![0]!.finishReason).toBe("MAX_TOKENS");
    expect(second!.response!.usageMetadata?.candidatesTokenCount).toBe(5);

    const listed: string[] = [];
    for await (const job of await ai.batches.list()) listed.push(job.name ?? "");
    expect(listed).toEqual([created.name]);
    await ai.batches.delete({ name: created.name! });
    expect((await apiError(ai.batches.get({ name: created.name! }))).status).toBe(404);
    const stats = await sim.stats();
    expect(stats.byMethod).toMatchObject({ batchGenerateContent: 1, getBatch: 3, listBatches: 1, deleteBatch: 1 });
    expect(stats.tokens.candidates).toBe(first!.response!.usageMetadata!.candidatesTokenCount! + 5 + direct.usageMetadata!.candidatesTokenCount!);
  });

  test("the operation on the wire; a JSONL file batch answers a responses file; cancel; other keys see nothing", async () => {
    const headers = { "x-goog-api-key": "k" };
    const lines = [
      JSON.stringify({ key: "a", request: { contents: [{ parts: [{ text: "alpha" }] }] } }),
      JSON.stringify({ key: "b", request: { contents: [{ role: "robot", parts: [{ text: "beta" }] }] } }),
    ].join("\n");
    const input = await client("k").files.upload({ file: new Blob([lines], { type: "application/jsonl" }) });
    const create = await fetch(`${sim.url}/v1beta/models/gemini-2.0-flash:batchGenerateContent`, {
      method: "POST",
      headers,
      body: JSON.stringify({ batch: { inputConfig: { fileName: input.name } } }),
    });
    const operation = (await create.json()) as { name: string; metadata: Record<string, unknown> };
    expect(Object.keys(operation)).toEqual(["name", "metadata"]);
    expect(operation.metadata).toMatchObject({
      "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
      model: "models/gemini-2.0-flash",
      inputConfig: { fileName: input.name },
      batchStats: { requestCount: "2", pendingRequestCount: "2" },
      state: "BATCH_STATE_PENDING",
      name: operation.name,
    });
    const get = async (key = "k") => (await fetch(`${sim.url}/v1beta/${operation.name}?key=${key}`)).json() as Promise<Record<string, unknown>>;
    expect((await get("other")) as unknown).toMatchObject({ error: { code: 404 } });
    await get();
    const done = (await get()) as { done: boolean; response: Record<string, unknown>; metadata: Record<string, unknown> };
    expect(done.done).toBe(true);
    expect(done.metadata.batchStats).toEqual({ requestCount: "2", successfulRequestCount: "1", failedRequestCount: "1" });
    const responsesFile = `files/batch-${operation.name.slice("batches/".length)}`;
    expect(done.response).toEqual({ "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput", responsesFile });
    const output = (await (await fetch(`${sim.url}/download/v1beta/${responsesFile}:download?alt=media&key=k`)).text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(output[0]).toMatchObject({ key: "a", response: { candidates: [{ finishReason: "STOP" }] } });
    expect(output[1]).toEqual({ key: "b", error: { code: 3, message: "Please use a valid role: user, model." } });

    const other = await client("k").batches.create({ model: "gemini-2.0-flash", src: [{ contents: "x" }] });
    await client("k").batches.cancel({ name: other.name! });
    expect((await client("k").batches.get({ name: other.name! })).state).toBe(JobState.JOB_STATE_CANCELLED);
  });
});
