// The pure parts of the wider surface: routes, integer enums, paging, caches (explicit and implicit), embeddings,
// files, batches, the OpenAI-compatible translation, code execution in the reply plan.
import { describe, expect, test } from "vitest";
import { GeminiError } from "../../src/gemini/errors.js";
import type { GenerateContentRequest } from "../../src/gemini/types.js";
import type { BatchRecord } from "../../src/simulator/batches.js";
import { describeBatch, nextState, parseBatchCreate, parseInputFile } from "../../src/simulator/batches.js";
import { parseCreateCachedContent, parseExpiryUpdate, withCachedContent } from "../../src/simulator/cached-contents.js";
import type { CachedContentRecord } from "../../src/simulator/cached-contents.js";
import { embedText } from "../../src/simulator/embeddings.js";
import { encodeIntEnums } from "../../src/simulator/enum-encoding.js";
import { fileIdOfUri, parseUploadStart, sha256Hash, uploadCommands } from "../../src/simulator/files.js";
import { planReply, streamChunks, unaryResponse } from "../../src/simulator/generation.js";
import { ImplicitCache, prefixUnits } from "../../src/simulator/implicit-cache.js";
import { findModel } from "../../src/simulator/models.js";
import { chatFinishReason, chatToGenerateBody, chatUsage, float32Base64 } from "../../src/simulator/openai.js";
import { listAnswer, pageOf } from "../../src/simulator/paging.js";
import { matchRoute } from "../../src/simulator/routes.js";
import { countPromptTokens } from "../../src/simulator/tokenizer.js";

const flash = findModel("gemini-2.5-flash")!;
const flash20 = findModel("gemini-2.0-flash")!;
const embedding = findModel("gemini-embedding-001")!;
const RANGE = { min: 20, max: 20 };
const words = (n: number, word = "lorem"): string => Array.from({ length: n }, () => word).join(" ");

function rejects(fn: () => unknown, message: string | RegExp, code = 400): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GeminiError);
    expect((err as GeminiError).code).toBe(code);
    expect((err as GeminiError).message).toMatch(message);
    return;
  }
  throw new Error("expected a GeminiError");
}

describe("routes", () => {
  const match = (method: string, path: string) => matchRoute(method, new URL(path, "http://s").pathname, new URL(path, "http://s").searchParams);

  test("every resource maps to one operation; versions, ids and models come out decoded", () => {
    expect(match("POST", "/v1/models/gemini-2.5-flash:embedContent")).toEqual({ operation: "embedContent", family: "native", version: "v1", model: "gemini-2.5-flash" });
    expect(match("GET", "/v1beta/cachedContents/abc/")).toEqual({ operation: "getCachedContent", family: "native", version: "v1beta", id: "abc" });
    expect(match("PATCH", "/v1beta/cachedContents/abc")?.operation).toBe("updateCachedContent");
    expect(match("GET", "/v1/cachedContents")).toBeUndefined();
    expect(match("POST", "/upload/v1beta/files")?.operation).toBe("createFile");
    expect(match("POST", "/upload/v1beta/files?upload_id=x&upload_protocol=resumable")).toMatchObject({ operation: "uploadFileData", family: "upload" });
    expect(match("GET", "/download/v1beta/files/batch-1:download?alt=media")).toMatchObject({ operation: "downloadFile", id: "batch-1" });
    expect(match("POST", "/v1beta/batches/b1:cancel")).toMatchObject({ operation: "cancelBatch", id: "b1" });
    expect(match("GET", "/v1beta/openai/models/models%2Fgemini-2.5-pro")).toMatchObject({ operation: "openaiGetModel", family: "openai", model: "models/gemini-2.5-pro" });
    expect(match("GET", "/v1beta/openai/models/models/gemini-2.5-pro")?.model).toBe("models/gemini-2.5-pro");
    expect(match("POST", "/v1beta/openai/chat/completions")?.operation).toBe("openaiChatCompletions");
    expect(match("GET", "/v1beta/models/gemini-2.5-flash:generateContent")).toBeUndefined();
    expect(match("POST", "/v1beta/interactions")).toEqual({ operation: "createInteraction", family: "native", version: "v1beta" });
    expect(match("GET", "/v1/interactions/v1_abc")).toEqual({ operation: "getInteraction", family: "native", version: "v1", id: "v1_abc" });
    expect(match("DELETE", "/v1alpha/interactions/v1_abc")?.operation).toBe("deleteInteraction");
    expect(match("POST", "/v1beta/interactions/v1_abc/cancel")).toMatchObject({ operation: "cancelInteraction", id: "v1_abc" });
    expect(match("PATCH", "/v1beta/interactions/v1_abc")).toBeUndefined();
  });
});

describe("integer enums", () => {
  test("names become numbers by field name, in nested objects and lists; caller JSON is left alone", () => {
    const answer = {
      candidates: [{ finishReason: "MAX_TOKENS", content: { parts: [{ functionCall: { name: "f", args: { state: "ACTIVE", finishReason: "STOP" } } }] } }],
      usageMetadata: { promptTokensDetails: [{ modality: "AUDIO", tokenCount: 3 }] },
      state: "BATCH_STATE_SUCCEEDED",
      inlinedResponses: [{ metadata: { state: "ACTIVE" }, response: { candidates: [{ finishReason: "SAFETY" }] } }],
      mystery: { finishReason: "NOT_A_REASON" },
    };
    expect(encodeIntEnums(answer)).toEqual({
      candidates: [{ finishReason: 2, content: { parts: [{ functionCall: { name: "f", args: { state: "ACTIVE", finishReason: "STOP" } } }] } }],
      usageMetadata: { promptTokensDetails: [{ modality: 4, tokenCount: 3 }] },
      state: 3,
      inlinedResponses: [{ metadata: { state: "ACTIVE" }, response: { candidates: [{ finishReason: 3 }] } }],
      mystery: { finishReason: "NOT_A_REASON" },
    });
  });
});

describe("paging", () => {
  test("default and capped sizes, opaque tokens, Google's 400s; empty lists are {}", () => {
    const items = Array.from({ length: 5 }, (_, i) => i);
    const limits = { defaultSize: 2, maxSize: 3 };
    const first = pageOf(items, new URLSearchParams(), limits);
    expect(first.items).toEqual([0, 1]);
    const second = pageOf(items, new URLSearchParams({ pageSize: "10", pageToken: first.nextPageToken! }), limits);
    expect(second).toEqual({ items: [2, 3, 4] });
    rejects(() => pageOf(items, new URLSearchParams({ pageSize: "-1" }), limits), `Invalid value at 'page_size' (TYPE_INT32), "-1"`);
    rejects(() => pageOf(items, new URLSearchParams({ pageToken: "bogus" }), limits), "Invalid page token.");
    expect(listAnswer("files", { items: [] })).toEqual({});
    expect(listAnswer("files", first)).toEqual({ files: [0, 1], nextPageToken: first.nextPageToken });
  });
});

describe("explicit caches", () => {
  test("create: model, contents, minimum tokens per model, expiry from ttl or expireTime", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const body = (model: string, tokens: number, extra: Record<string, unknown> = {}) => ({ model, contents: [{ role: "user", parts: [{ text: words(tokens) }] }], ...extra });
    const cache = parseCreateCachedContent(body("models/gemini-2.5-flash", 1024, { ttl: "1.5s", display_name: "d" }), "v1beta", now);
    expect(cache).toMatchObject({ model: flash, displayName: "d", expireTime: now + 1500, tokens: { total: 1024 } });
    expect(parseCreateCachedContent(body("gemini-2.5-flash", 1024), "v1beta", now).expireTime).toBe(now + 3_600_000);
    expect(parseCreateCachedContent(body("gemini-2.5-flash", 1024, { expireTime: "2026-01-02T00:00:00Z" }), "v1beta", now).expireTime).toBe(now + 86_400_000);
    rejects(() => parseCreateCachedContent(body("models/gemini-2.5-flash", 1023), "v1beta", now), "Cached content is too small. total_token_count=1023, min_total_token_count=1024");
    rejects(() => parseCreateCachedContent(body("models/gemini-2.5-pro", 4095), "v1beta", now), "Cached content is too small. total_token_count=4095, min_total_token_count=4096");
    rejects(() => parseCreateCachedContent(body("models/gemini-2.0-flash-lite", 5000), "v1beta", now), /is not supported for createCachedContent/, 404);
    rejects(() => parseCreateCachedContent(body("models/gemini-2.5-flash", 2000, { ttl: "soon" }), "v1beta", now), `Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), "soon"`);
    rejects(() => parseCreateCachedContent(body("models/gemini-2.5-flash", 2000, { colour: 1 }), "v1beta", now), 'Invalid JSON payload received. Unknown name "colour": Cannot find field.');
  });

  test("update: only the expiry, by body or updateMask", () => {
    expect(parseExpiryUpdate({ ttl: "10s" }, null, 1000)).toBe(11_000);
    expect(parseExpiryUpdate({ expire_time: "1970-01-01T00:00:20Z" }, "expire_time", 1000)).toBe(20_000);
    rejects(() => parseExpiryUpdate({ displayName: "x" }, null, 0), "Field displayName cannot be updated: only ttl and expire_time can.");
    rejects(() => parseExpiryUpdate({ ttl: "10s" }, "ttl,contents", 0), "Field contents cannot be updated: only ttl and expire_time can.");
  });

  test("a request on a cache: the cache's contents first, its instruction and tools", () => {
    const cache = {
      model: flash,
      contents: [{ role: "user", parts: [{ text: "doc" }] }],
      systemInstruction: { parts: [{ text: "sys" }] },
      tools: [{ codeExecution: {} }],
    } as unknown as CachedContentRecord;
    const request: GenerateContentRequest = { contents: [{ role: "user", parts: [{ text: "q" }] }], cachedContent: "cachedContents/x", generationConfig: { temperature: 0 } };
    expect(withCachedContent(cache, request, flash)).toEqual({
      contents: [...cache.contents, ...request.contents],
      generationConfig: { temperature: 0 },
      systemInstruction: cache.systemInstruction,
      tools: cache.tools,
    });
  });
});

describe("implicit cache", () => {
  test("the longest recent prefix, per owner and model, from the model's minimum, within the window", () => {
    const cache = new ImplicitCache(1000);
    const prefix = [{ role: "user", parts: [{ text: words(1100) }] }, { role: "model", parts: [{ text: "ok" }] }];
    const first = prefixUnits("k", flash, { contents: [...prefix, { role: "user", parts: [{ text: "a" }] }] });
    const second = prefixUnits("k", flash, { contents: [...prefix, { role: "user", parts: [{ text: "b" }] }], systemInstruction: undefined });
    expect(cache.lookup(flash, first, 0)).toBeUndefined();
    cache.record(flash, first, 0);
    expect(cache.lookup(flash, second, 999)).toEqual({ total: 1101, details: [{ modality: "TEXT", tokenCount: 1101 }] });
    expect(cache.lookup(flash, second, 1000)).toBeUndefined();
    expect(cache.lookup(flash, prefixUnits("other", flash, { contents: prefix }), 10)).toBeUndefined();
    const withSystem = prefixUnits("k", flash, { contents: prefix, systemInstruction: { parts: [{ text: "s" }] } });
    expect(cache.lookup(flash, withSystem, 10)).toBeUndefined();
    cache.record(flash20, first, 0);
    expect(cache.lookup(flash20, first, 10)).toBeUndefined(); // 2.0 models do not cache implicitly
    const short = prefixUnits("k", flash, { contents: [{ role: "user", parts: [{ text: words(10) }] }] });
    cache.record(flash, short, 0);
    expect(cache.lookup(flash, short, 1)).toBeUndefined();
  });
});

describe("embeddings", () => {
  test("unit length at full size, deterministic, prefixes, texts sharing words are closer", () => {
    const a = embedText(embedding, "the cat sat on the mat");
    expect(a).toHaveLength(3072);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(embedText(embedding, "The cat sat on the mat!")).toEqual(a);
    expect(embedText(embedding, "the cat sat on the mat", 8)).toEqual(a.slice(0, 8));
    const dot = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + v * y[i]!, 0);
    expect(dot(a, embedText(embedding, "a cat sat on a mat"))).toBeGreaterThan(dot(a, embedText(embedding, "quarterly revenue grew strongly")));
  });
});

describe("files", () => {
  test("upload commands, URIs of the Files API, Google's sha256Hash, the start request", () => {
    expect([...uploadCommands("upload, Finalize")]).toEqual(["upload", "finalize"]);
    expect(fileIdOfUri("https://generativelanguage.googleapis.com/v1beta/files/abc-123")).toBe("abc-123");
    expect(fileIdOfUri("http://127.0.0.1:9/v1/files/x")).toBe("x");
    expect(fileIdOfUri("https://example.com/cat.png")).toBeUndefined();
    expect(fileIdOfUri("not a url")).toBeUndefined();
    expect(Buffer.from(sha256Hash(Buffer.from("abc")), "base64").toString()).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(parseUploadStart({ file: { display_name: "n", name: "files/my-file" } }, { contentType: "text/plain", contentLength: "12" })).toEqual({
      fileId: "my-file",
      displayName: "n",
      mimeType: "text/plain",
      declaredSize: 12,
    });
    rejects(() => parseUploadStart({}, { contentLength: String(65 * 1024 * 1024) }), "Request payload size exceeds the limit.", 413);
    rejects(() => parseUploadStart({ file: { name: "files/Bad_Name" } }, {}), /^Invalid file name: files\/Bad_Name\./);
  });
});

describe("batches", () => {
  test("pending, running until the configured GET, then succeeded; a cancelled batch stays cancelled", () => {
    const states = [1, 2, 3, 4].map((polls) => nextState("BATCH_STATE_PENDING", polls, 3));
    expect(states).toEqual(["BATCH_STATE_RUNNING", "BATCH_STATE_RUNNING", "BATCH_STATE_SUCCEEDED", "BATCH_STATE_SUCCEEDED"]);
    expect(nextState("BATCH_STATE_PENDING", 1, 1)).toBe("BATCH_STATE_SUCCEEDED");
    expect(nextState("BATCH_STATE_CANCELLED", 5, 1)).toBe("BATCH_STATE_CANCELLED");
  });

  test("create bodies and input files", () => {
    expect(parseBatchCreate({ batch: { display_name: "d", input_config: { requests: { requests: [{ request: { contents: [] }, metadata: { key: "k" } }] } } } })).toEqual({
      displayName: "d",
      inlined: [{ request: { contents: [] }, metadata: { key: "k" } }],
    });
    expect(parseBatchCreate({ batch: { inputConfig: { fileName: "abc" } } })).toEqual({ inputFile: "files/abc" });
    rejects(() => parseBatchCreate({ batch: { inputConfig: {} } }), "* BatchGenerateContentRequest.batch.input_config: exactly one of requests and file_name must be set\n");
    rejects(() => parseBatchCreate({}), "* BatchGenerateContentRequest.batch: batch is required\n");
    expect(parseInputFile('{"key":"a","request":{}}\n\nnot json\n')).toEqual([{ key: "a", request: {} }, { request: undefined }]);
  });

  test("the operation of a pending batch", () => {
    const batch = { id: "b1", model: flash, items: [{ request: {} }, { request: {} }], state: "BATCH_STATE_PENDING", createTime: 0, updateTime: 0 } as unknown as BatchRecord;
    expect(describeBatch(batch)).toEqual({
      name: "batches/b1",
      metadata: {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        model: "models/gemini-2.5-flash",
        createTime: "1970-01-01T00:00:00.000Z",
        updateTime: "1970-01-01T00:00:00.000Z",
        batchStats: { requestCount: "2", pendingRequestCount: "2" },
        state: "BATCH_STATE_PENDING",
        name: "batches/b1",
      },
    });
  });
});

describe("OpenAI-compatible translation", () => {
  test("messages, limits, reasoning, stop, tools and Gemini's extra_body", () => {
    const body = chatToGenerateBody({
      model: "gemini-2.5-flash",
      messages: [
        { role: "developer", content: "Be terse." },
        { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "look", arguments: '{"x":1}' } }, { id: "c2", type: "function", function: { name: "see", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "a cat" },
        { role: "tool", tool_call_id: "c2", content: "a mat" },
      ],
      max_completion_tokens: 50,
      reasoning_effort: "low",
      stop: "END",
      tools: [{ type: "function", function: { name: "look", parameters: { type: "object" } } }],
      tool_choice: "required",
      extra_body: { google: { cached_content: "cachedContents/c" } },
    });
    expect(body).toEqual({
      contents: [
        { role: "user", parts: [{ text: "What is this?" }, { inlineData: { mimeType: "image/png", data: "AAAA" } }] },
        { role: "model", parts: [{ functionCall: { name: "look", args: { x: 1 }, id: "c1" } }, { functionCall: { name: "see", args: {}, id: "c2" } }] },
        {
          role: "user",
          parts: [
            { functionResponse: { name: "look", response: { content: "a cat" }, id: "c1" } },
            { functionResponse: { name: "see", response: { content: "a mat" }, id: "c2" } },
          ],
        },
      ],
      systemInstruction: { parts: [{ text: "Be terse." }] },
      generationConfig: { maxOutputTokens: 50, stopSequences: ["END"], thinkingConfig: { thinkingBudget: 1024 } },
      tools: [{ functionDeclarations: [{ name: "look", parameters: { type: "object" } }] }],
      toolConfig: { functionCallingConfig: { mode: "ANY" } },
      cachedContent: "cachedContents/c",
    });
    rejects(() => chatToGenerateBody({ messages: [{ role: "user", content: "x" }], n: 2 }), "Only one candidate (n = 1) is supported.");
    rejects(() => chatToGenerateBody({ messages: [{ role: "robot", content: "x" }] }), /^Invalid role: "robot"/);
    rejects(() => chatToGenerateBody({ messages: [] }), "messages must be a non-empty list of messages.");
  });

  test("finish reasons and usage", () => {
    expect(chatFinishReason({ finishReason: "STOP", content: { parts: [{ text: "x" }] } })).toBe("stop");
    expect(chatFinishReason({ finishReason: "STOP", content: { parts: [{ functionCall: { name: "f" } }] } })).toBe("tool_calls");
    expect(chatFinishReason({ finishReason: "MAX_TOKENS" })).toBe("length");
    expect(chatFinishReason({ finishReason: "PROHIBITED_CONTENT" })).toBe("content_filter");
    expect(chatFinishReason(undefined)).toBe("content_filter");
    expect(chatUsage({ promptTokenCount: 100, cachedContentTokenCount: 60, candidatesTokenCount: 10, thoughtsTokenCount: 5, toolUsePromptTokenCount: 2, totalTokenCount: 117 })).toEqual({
      prompt_tokens: 102,
      completion_tokens: 15,
      total_tokens: 117,
      prompt_tokens_details: { cached_tokens: 60 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
  });

  test("base64 embeddings are little-endian float32", () => {
    const bytes = Buffer.from(float32Base64([1, -0.5]), "base64");
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)]).toEqual([1, -0.5]);
  });
});

describe("reply plan: caches and code execution", () => {
  const ask = (text: string, extra: Partial<GenerateContentRequest> = {}): GenerateContentRequest => ({ contents: [{ role: "user", parts: [{ text }] }], ...extra });

  test("cached tokens are reported within the prompt, with their details", () => {
    const cached = countPromptTokens({ contents: [{ parts: [{ text: words(5) }] }] });
    const usage = unaryResponse(planReply(flash20, ask(words(5)), RANGE, {}, cached)).usageMetadata;
    expect(usage).toEqual({
      promptTokenCount: 5,
      candidatesTokenCount: 20,
      totalTokenCount: 25,
      cachedContentTokenCount: 5,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 5 }],
      cacheTokensDetails: [{ modality: "TEXT", tokenCount: 5 }],
    });
  });

  test("code execution: code among candidates, its result as tool-use prompt; maxOutputTokens covers the code first", () => {
    const request = ask("count these three words", { tools: [{ code_execution: {} }] });
    const plan = planReply(flash20, request, RANGE);
    expect(plan.codeExecution).toMatchObject({ output: "4\n", outputTokens: 1 });
    const codeTokens = plan.codeExecution!.codeTokens;
    expect(unaryResponse(plan).usageMetadata).toMatchObject({ candidatesTokenCount: codeTokens + 20, toolUsePromptTokenCount: 1, totalTokenCount: plan.prompt.total + codeTokens + 21 });
    const chunks = streamChunks(plan);
    expect(chunks.map((c) => c.usageMetadata?.toolUsePromptTokenCount)).toEqual([undefined, 1, 1, 1, 1, 1]);
    const tight = planReply(flash20, { ...request, generationConfig: { maxOutputTokens: codeTokens + 3 } }, RANGE);
    expect(tight).toMatchObject({ finishReason: "MAX_TOKENS" });
    expect(tight.pieces).toHaveLength(3);
    const tooTight = planReply(flash20, { ...request, generationConfig: { maxOutputTokens: codeTokens - 1 } }, RANGE);
    expect(tooTight.codeExecution).toBeUndefined();
    expect(unaryResponse(tooTight).candidates![0]).toEqual({ content: { role: "model" }, finishReason: "MAX_TOKENS", index: 0 });
  });
});
