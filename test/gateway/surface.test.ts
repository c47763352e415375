// The whole REST surface through the gateway, with the official clients unmodified but for base URL and key:
// embeddings, context caches, files, batches, the OpenAI-compatible endpoint, integer enums. In each, the gateway's
// counters must equal what the client received, exactly; the fault mix on the new paths is retried by the same rules.

import { ApiError, type GenerateContentResponse as SdkResponse } from "@google/genai";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { RateLimitError } from "openai";
import type { ChatCompletion } from "openai/resources/chat/completions";
import { describe, expect, test } from "vitest";
import type { UsageMetadata } from "../../src/gemini/types.js";
import { TOKEN_TYPES, tokenBreakdown } from "../../src/gemini/usage.js";
import { loadPriceTable, turnCost } from "../../src/pricing/price-table.js";
import { tokensOfUsageMetadata } from "../../src/gemini/usage.js";
import { delta, sumBy, type Series } from "../helpers/metrics.js";
import { KEY_ALPHA, useSurfaceStack, type SurfaceStack } from "./surface-stack.js";

let stack: SurfaceStack;
const spans = new InMemorySpanExporter();
useSurfaceStack((started) => (stack = started), { spanProcessors: [new SimpleSpanProcessor(spans)] });

const prices = loadPriceTable();

interface Measured {
  tokens: Series;
  requests: Series;
  responses: Series;
  truncations: Series;
  cost: Series;
  attempts: Series;
  retries: Series;
  rateLimited: Series;
  body: string;
}

const TOKENS: [string, string[]] = ["gemini_gateway_tokens_total", ["model", "tenant", "type"]];

function series(body: string): Omit<Measured, "body"> {
  return {
    tokens: sumBy(body, ...TOKENS),
    requests: sumBy(body, "gemini_gateway_requests_total", ["route", "code"]),
    responses: sumBy(body, "gemini_gateway_responses_total", ["model", "finish_reason"]),
    truncations: sumBy(body, "gemini_gateway_truncations_total", ["model", "cause"]),
    cost: sumBy(body, "gemini_gateway_cost_usd_total", ["model", "tenant"]),
    attempts: sumBy(body, "gemini_gateway_upstream_attempts_total", ["model", "outcome"]),
    retries: sumBy(body, "gemini_gateway_retries_total", ["model", "reason"]),
    rateLimited: sumBy(body, "gemini_gateway_rate_limited_total", ["model", "quota"]),
  };
}

/** Runs `calls` requests' worth of work and returns what the metrics gained meanwhile (waiting for every record:
 *  the sink runs once the answer has been written). */
async function measure(calls: number, work: () => Promise<void>): Promise<Measured> {
  const before = series(await stack.metrics());
  await work();
  const total = (s: Series): number => [...s.values()].reduce((a, b) => a + b, 0);
  for (let waited = 0; ; waited += 10) {
    const body = await stack.metrics();
    const after = series(body);
    const gained = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, delta(before[k as keyof typeof before], v)])) as Omit<Measured, "body">;
    if (total(gained.requests) >= calls || waited > 5000) return { ...gained, body };
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The token series one Gemini usageMetadata (as an SDK types it) adds for a model and tenant. */
function tokensOf(model: string, usage: object | undefined, tenant = "alpha"): Series {
  const out: Series = new Map();
  if (!usage) return out;
  const breakdown = tokenBreakdown(usage as UsageMetadata);
  for (const type of TOKEN_TYPES) if (breakdown[type] > 0) out.set(`${model}|${tenant}|${type}`, breakdown[type]);
  return out;
}

function add(...all: Series[]): Series {
  const out: Series = new Map();
  for (const s of all) for (const [k, v] of s) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** Text of at least `tokens` tokens for the simulator's tokenizer (one word is one token). */
const longText = (tokens: number, seed = "word"): string => Array.from({ length: tokens }, (_, i) => `${seed}${i % 97}`).join(" ");

describe("embeddings", () => {
  test("@google/genai models.embedContent (batchEmbedContents): counted under its route, no tokens (the native answer has no usage)", async () => {
    let vectors = 0;
    const m = await measure(1, async () => {
      const answer = await stack.genai().models.embedContent({ model: "gemini-embedding-001", contents: ["first text", "second text"] });
      vectors = answer.embeddings?.length ?? 0;
    });
    expect(vectors).toBe(2);
    expect(m.requests).toEqual(new Map([["batchEmbedContents|200", 1]]));
    expect(m.tokens).toEqual(new Map());
  });

  test("openai embeddings.create: input tokens and cost from usage", async () => {
    let usage = { prompt_tokens: 0, total_tokens: 0 };
    const m = await measure(1, async () => {
      const answer = await stack.openai().embeddings.create({ model: "gemini-embedding-001", input: ["first text", "second, longer text"] });
      expect(answer.data).toHaveLength(2);
      expect(answer.data[0]!.embedding.length).toBeGreaterThan(0);
      usage = answer.usage;
    });
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(m.requests).toEqual(new Map([["openai.embeddings|200", 1]]));
    expect(m.tokens).toEqual(new Map([["gemini-embedding-001|alpha|input", usage.prompt_tokens]]));
    expect(m.cost.get("gemini-embedding-001|alpha")).toBeCloseTo((usage.prompt_tokens * 0.15) / 1e6, 15);
  });
});

describe("context caches", () => {
  test("create / get / list / update / delete, and a generate call that uses the cache", async () => {
    const ai = stack.genai();
    const model = "gemini-2.5-flash";
    let created: Awaited<ReturnType<typeof ai.caches.create>> | undefined;
    const creation = await measure(1, async () => {
      created = await ai.caches.create({ model, config: { contents: [{ role: "user", parts: [{ text: longText(1200) }] }], ttl: "3600s" } });
    });
    const cacheTokens = created!.usageMetadata?.totalTokenCount ?? 0;
    expect(cacheTokens).toBeGreaterThanOrEqual(1024);
    expect(creation.requests).toEqual(new Map([["cachedContents.create|200", 1]]));
    expect(creation.tokens).toEqual(new Map([[`${model}|alpha|input`, cacheTokens]]));
    // Created at the input rate, stored for its TTL (an hour) at the storage rate.
    const hours = (Date.parse(created!.expireTime!) - Date.parse(created!.createTime!)) / 3_600_000;
    expect(hours).toBeCloseTo(1, 6);
    expect(creation.cost.get(`${model}|alpha`)).toBeCloseTo((cacheTokens * 0.3 + cacheTokens * hours * 1.0) / 1e6, 12);

    const name = created!.name!;
    let used: SdkResponse | undefined;
    const crud = await measure(5, async () => {
      expect((await ai.caches.get({ name })).name).toBe(name);
      const listed: string[] = [];
      for await (const cache of await ai.caches.list()) listed.push(cache.name ?? "");
      expect(listed).toContain(name);
      await ai.caches.update({ name, config: { ttl: "7200s" } });
      used = await ai.models.generateContent({ model, contents: "A question about the cached text", config: { cachedContent: name } });
      await ai.caches.delete({ name });
    });
    expect(crud.requests).toEqual(
      new Map([
        ["cachedContents.get|200", 1],
        ["cachedContents.list|200", 1],
        ["cachedContents.update|200", 1],
        ["generateContent|200", 1],
        ["cachedContents.delete|200", 1],
      ]),
    );
    expect(used!.usageMetadata?.cachedContentTokenCount).toBe(cacheTokens);
    // Only the generate call is billed: its cached tokens as `cached`, the rest of its prompt as `input`.
    expect(crud.tokens).toEqual(tokensOf(model, used!.usageMetadata));
    expect(crud.tokens.get(`${model}|alpha|cached`)).toBe(cacheTokens);
    const error = await ai.caches.get({ name }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });

  test("implicit caching: a repeated long prefix reports cached tokens, counted as such", async () => {
    const ai = stack.genai();
    const model = "gemini-2.5-flash";
    const prefix = { role: "user", parts: [{ text: longText(1100, "prefix") }] };
    const answers: SdkResponse[] = [];
    const m = await measure(2, async () => {
      for (const question of ["first question", "second question"]) {
        answers.push(await ai.models.generateContent({ model, contents: [prefix, { role: "model", parts: [{ text: "noted" }] }, { role: "user", parts: [{ text: question }] }] }));
      }
    });
    expect(answers[1]!.usageMetadata?.cachedContentTokenCount).toBeGreaterThan(0);
    expect(m.tokens).toEqual(add(tokensOf(model, answers[0]!.usageMetadata), tokensOf(model, answers[1]!.usageMetadata)));
  });
});

describe("tool use", () => {
  test("code execution: toolUsePromptTokenCount counted as tool_use tokens", async () => {
    let answer: SdkResponse | undefined;
    const m = await measure(1, async () => {
      answer = await stack.genai().models.generateContent({ model: "gemini-2.5-flash", contents: "Compute the 20th prime", config: { tools: [{ codeExecution: {} }] } });
    });
    expect(answer!.usageMetadata?.toolUsePromptTokenCount).toBeGreaterThan(0);
    expect(m.tokens).toEqual(tokensOf("gemini-2.5-flash", answer!.usageMetadata));
  });
});

describe("files", () => {
  test("upload (resumable, through the gateway) / get / list / delete", async () => {
    const ai = stack.genai();
    const content = "file content ".repeat(200);
    const m = await measure(5, async () => {
      const file = await ai.files.upload({ file: new Blob([content], { type: "text/plain" }), config: { displayName: "notes" } });
      expect(file.sizeBytes).toBe(String(Buffer.byteLength(content)));
      expect((await ai.files.get({ name: file.name! })).displayName).toBe("notes");
      const names: string[] = [];
      for await (const listed of await ai.files.list()) names.push(listed.name ?? "");
      expect(names).toContain(file.name);
      await ai.files.delete({ name: file.name! });
    });
    expect(m.requests).toEqual(
      new Map([
        ["files.upload|200", 1],
        ["files.uploadData|200", 1],
        ["files.get|200", 1],
        ["files.list|200", 1],
        ["files.delete|200", 1],
      ]),
    );
    expect(m.tokens).toEqual(new Map());
  });

  test("the upload URL a resumable start returns points back at the gateway", async () => {
    const start = await fetch(`${stack.url}/upload/v1beta/files`, {
      method: "POST",
      headers: {
        "x-goog-api-key": KEY_ALPHA,
        "content-type": "application/json",
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-length": "5",
        "x-goog-upload-header-content-type": "text/plain",
      },
      body: JSON.stringify({ file: { displayName: "raw" } }),
    });
    await start.text();
    const uploadUrl = start.headers.get("x-goog-upload-url")!;
    expect(uploadUrl.startsWith(`${stack.url}/upload/v1beta/files?upload_id=`)).toBe(true);
    const data = await fetch(uploadUrl, { method: "POST", headers: { "x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0" }, body: "hello" });
    expect(data.headers.get("x-goog-upload-status")).toBe("final");
    const { file } = (await data.json()) as { file: { name: string; sizeBytes: string } };
    expect(file.sizeBytes).toBe("5");
    await stack.genai().files.delete({ name: file.name });
  });
});

describe("batches", () => {
  test("create with inlined requests, get until done: the results' tokens counted once, at the batch price", async () => {
    const ai = stack.genai();
    const model = "gemini-2.5-flash";
    const job = await ai.batches.create({ model, src: [{ contents: [{ role: "user", parts: [{ text: "one" }] }] }, { contents: [{ role: "user", parts: [{ text: "two" }] }] }] });
    let done: Awaited<ReturnType<typeof ai.batches.get>> | undefined;
    const polled = await measure(2, async () => {
      for (let i = 0; i < 10 && done?.state !== "JOB_STATE_SUCCEEDED"; i++) done = await ai.batches.get({ name: job.name! });
    });
    expect(done?.state).toBe("JOB_STATE_SUCCEEDED");
    const responses = done!.dest?.inlinedResponses ?? [];
    expect(responses).toHaveLength(2);
    const expected = add(...responses.map((r) => tokensOf(model, r.response?.usageMetadata)));
    expect(polled.tokens).toEqual(expected);
    const standard = responses.reduce((sum, r) => sum + turnCost(prices, prices.models[model]!, tokensOfUsageMetadata(r.response!.usageMetadata! as UsageMetadata)), 0);
    expect(polled.cost.get(`${model}|alpha`)).toBeCloseTo(standard * 0.5, 15);
    // Reading the finished batch again bills nothing more.
    const again = await measure(1, async () => {
      await ai.batches.get({ name: job.name! });
    });
    expect(again.requests).toEqual(new Map([["batches.get|200", 1]]));
    expect(again.tokens).toEqual(new Map());
  });
});

describe("the OpenAI-compatible endpoint", () => {
  const expectTokens = (m: Measured, model: string, usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null; completion_tokens_details?: { reasoning_tokens?: number } | null }) => {
    const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
    const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
    const expected: Series = new Map();
    for (const [type, n] of [
      ["input", usage.prompt_tokens - cached],
      ["cached", cached],
      ["output", usage.completion_tokens - reasoning],
      ["thoughts", reasoning],
    ] as const) {
      if (n > 0) expected.set(`${model}|alpha|${type}`, n);
    }
    expect(m.tokens).toEqual(expected);
  };

  test("chat.completions.create, unary: tokens by kind, the finish reason, one span with the GenAI attributes", async () => {
    spans.reset();
    const model = "gemini-2.5-flash";
    let completion: ChatCompletion | undefined;
    const m = await measure(1, async () => {
      completion = await stack.openai().chat.completions.create({
        model,
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "What is the capital of France?" },
        ],
        max_completion_tokens: 2000,
      });
    });
    expect(completion!.choices[0]!.message.content).toBeTruthy();
    expect(m.requests).toEqual(new Map([["openai.chat.completions|200", 1]]));
    expect(m.responses).toEqual(new Map([[`${model}|${completion!.choices[0]!.finish_reason}`, 1]]));
    expectTokens(m, model, completion!.usage!);
    const span = spans.getFinishedSpans().find((s) => s.name === `chat ${model}`)!;
    expect(span.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "gcp.gemini",
      "gen_ai.request.model": model,
      "gen_ai.request.max_tokens": 2000,
      "gen_ai.usage.input_tokens": completion!.usage!.prompt_tokens,
      "gen_ai.usage.output_tokens": completion!.usage!.completion_tokens,
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.response.id": completion!.id,
    });
  });

  test("chat.completions.create, streamed with include_usage; a length finish is a truncation", async () => {
    const model = "gemini-2.0-flash";
    let usage: Parameters<typeof expectTokens>[2] | undefined;
    let text = "";
    let finish: string | null = null;
    const m = await measure(1, async () => {
      const stream = await stack.openai().chat.completions.create({
        model,
        messages: [{ role: "user", content: "Tell me a long story" }],
        max_tokens: 6,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
    });
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe("length");
    expect(m.requests).toEqual(new Map([["openai.chat.completions|200", 1]]));
    expect(m.responses).toEqual(new Map([[`${model}|max_tokens`, 1]]));
    expect(m.truncations).toEqual(new Map([[`${model}|output_limit`, 1]]));
    expectTokens(m, model, usage!);
  });

  test("models.list through the gateway", async () => {
    const ids: string[] = [];
    for await (const model of stack.openai().models.list()) ids.push(model.id);
    expect(ids).toContain("models/gemini-2.5-flash");
  });

  test("a wrong key: OpenAI's error shape, the SDK's AuthenticationError-family status", async () => {
    const error = await stack.openai("not-a-key").chat.completions.create({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect((error as { status?: number }).status).toBe(400);
    expect((error as { error?: { type?: string } }).error?.type).toBe("invalid_request_error");
    expect((error as Error).message).toMatch(/API key not valid/);
  });
});

describe("integer enums ($alt=json;enum-encoding=int)", () => {
  const post = (path: string, body: unknown) =>
    fetch(`${stack.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-goog-api-key": KEY_ALPHA }, body: JSON.stringify(body) });
  const request = { contents: [{ role: "user", parts: [{ text: "Write a long essay about rivers" }] }], generationConfig: { maxOutputTokens: 12, thinkingConfig: { thinkingBudget: 0 } } };
  const forms: Array<[string, string, string]> = [
    ["unary", ":generateContent", ""],
    ["SSE", ":streamGenerateContent", "alt=sse"],
    ["JSON array", ":streamGenerateContent", ""],
  ];

  for (const [form, method, alt] of forms) {
    test(`${form}: the client gets numbers; the gateway's series equal those of the same call with names`, async () => {
      const path = `/v1beta/models/gemini-2.5-flash${method}`;
      const withNames = await measure(1, async () => {
        await (await post(`${path}${alt ? `?${alt}` : ""}`, request)).text();
      });
      let raw = "";
      const withNumbers = await measure(1, async () => {
        raw = await (await post(`${path}?${alt ? `${alt}&` : ""}%24alt=json%3Benum-encoding%3Dint`, request)).text();
      });
      expect(raw).toMatch(/"finishReason": ?2/);
      expect(raw).toMatch(/"modality": ?1/);
      expect(raw).not.toMatch(/MAX_TOKENS|"TEXT"/);
      const { body: _a, ...namesSeries } = withNames;
      const { body: _b, ...numbersSeries } = withNumbers;
      expect(numbersSeries).toEqual(namesSeries);
      expect(withNumbers.responses).toEqual(new Map([["gemini-2.5-flash|max_tokens", 1]]));
      expect(withNumbers.truncations).toEqual(new Map([["gemini-2.5-flash|output_limit", 1]]));
    });
  }

  test("a blocked prompt: blockReason as a number is still `blocked`", async () => {
    await stack.sim.setFaults([{ fault: { kind: "block", blockReason: "SAFETY" }, times: 1 }]);
    let raw = "";
    const m = await measure(1, async () => {
      raw = await (await post("/v1beta/models/gemini-2.5-flash:generateContent?%24alt=json%3Benum-encoding%3Dint", request)).text();
    });
    expect(raw).toMatch(/"blockReason": ?1/);
    expect(m.responses).toEqual(new Map([["gemini-2.5-flash|blocked", 1]]));
  });
});

describe("the fault mix on the new paths: retried by the same rules, counted", () => {
  test("a 429 with RetryInfo on embeddings, a 503 on a cache's creation: retried, then answered", async () => {
    await stack.sim.setFaults([
      { when: { method: "batchEmbedContents" }, fault: { status: 429, retryDelay: "0.02s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel" }, times: 1 },
      { when: { method: "createCachedContent" }, fault: { status: 503 }, times: 1 },
    ]);
    const ai = stack.genai();
    const m = await measure(2, async () => {
      await ai.models.embedContent({ model: "gemini-embedding-001", contents: "retried" });
      const cache = await ai.caches.create({ model: "gemini-2.5-flash", config: { contents: [{ role: "user", parts: [{ text: longText(1100, "retry") }] }] } });
      await ai.caches.delete({ name: cache.name! });
    });
    expect(m.retries).toEqual(
      new Map([
        ["gemini-embedding-001|429", 1],
        ["gemini-2.5-flash|503", 1],
      ]),
    );
    expect(m.attempts.get("gemini-embedding-001|429")).toBe(1);
    expect(m.attempts.get("gemini-embedding-001|ok")).toBe(1);
    expect(m.attempts.get("gemini-2.5-flash|503")).toBe(1);
    expect(sumBy(m.body, "gemini_gateway_retry_delay_seconds_count", ["source"]).get("retry_info")).toBeGreaterThan(0);
    expect((await stack.sim.stats()).byMethod).toMatchObject({ batchEmbedContents: 2, createCachedContent: 2 });
  });

  test("a 503 on a chat completion is retried; a 429 that outlasts the retries reaches the openai SDK as RateLimitError", async () => {
    await stack.sim.setFaults([
      { when: { method: "openaiChatCompletions" }, fault: { status: 503 }, times: 1 },
    ]);
    const m = await measure(1, async () => {
      await stack.openai().chat.completions.create({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "retry me" }] });
    });
    expect(m.retries).toEqual(new Map([["gemini-2.0-flash|503", 1]]));
    expect(m.requests).toEqual(new Map([["openai.chat.completions|200", 1]]));

    await stack.sim.setFaults([{ when: { method: "openaiChatCompletions" }, fault: { status: 429, retryDelay: "0.01s", quotaId: "GenerateRequestsPerDayPerProjectPerModel" } }]);
    const limited = await measure(1, async () => {
      const error = await stack.openai().chat.completions.create({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "limited" }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitError);
    });
    // A per-day quota is not retried (it will not clear in seconds).
    expect(limited.requests).toEqual(new Map([["openai.chat.completions|429", 1]]));
    expect(limited.rateLimited).toEqual(new Map([["gemini-2.0-flash|per_day", 1]]));
    expect(limited.retries).toEqual(new Map());
  });

  test("a mid-stream error in a streamed chat completion: surfaced, not retried, counted as midstream_error", async () => {
    await stack.sim.setFaults([{ when: { method: "openaiChatCompletions" }, fault: { kind: "midstream_error", afterChunks: 2 }, times: 1 }]);
    const m = await measure(1, async () => {
      const stream = await stack.openai().chat.completions.create({ model: "gemini-2.0-flash", messages: [{ role: "user", content: "stream and fail" }], stream: true });
      const error = await (async () => {
        for await (const _chunk of stream) {
          // read until the error
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
    });
    expect((await stack.sim.stats()).byMethod.openaiChatCompletions).toBe(1);
    expect(m.requests).toEqual(new Map([["openai.chat.completions|200", 1]]));
    const errors = sumBy(m.body, "gen_ai_client_operation_duration_seconds_count", ["gen_ai_operation_name", "error_type"]);
    expect(errors.get("chat|midstream_error")).toBeGreaterThanOrEqual(1);
  });
});

describe("paths", () => {
  test("a doubled slash (the legacy Python SDK's api_endpoint with a trailing slash) is the same call", async () => {
    const m = await measure(1, async () => {
      const res = await fetch(`${stack.url}//v1beta/models/gemini-2.0-flash:generateContent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": KEY_ALPHA },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hello" }] }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    });
    expect(m.requests).toEqual(new Map([["generateContent|200", 1]]));
  });

  test("the resource CRUD stays out of the GenAI latency histogram; inference is in it", async () => {
    const body = await stack.metrics();
    const operations = [...sumBy(body, "gen_ai_client_operation_duration_seconds_count", ["gen_ai_operation_name"]).keys()];
    expect(operations.every((op) => ["generate_content", "chat", "embeddings", "count_tokens", "list_models", "get_model"].includes(op))).toBe(true);
    expect(operations).toContain("chat");
  });
});
