// The simulator on the wire: exact bytes, every validation error, every fault kind, quotas, stats.
import { describe, expect, test } from "vitest";
import type { TestSimulator } from "../helpers/sim.js";
import { startTestSimulator, useTestSimulator } from "../helpers/sim.js";

interface Reply {
  status: number;
  contentType: string | null;
  text: string;
}

const HELLO = { contents: [{ role: "user", parts: [{ text: "Hello there, simulator" }] }] };

let sim: TestSimulator;
useTestSimulator((started) => (sim = started));

async function call(path: string, body?: unknown, init: { key?: string | null; method?: string; raw?: string; url?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.key !== null) headers["x-goog-api-key"] = init.key ?? "test-key";
  const res = await fetch(`${init.url ?? sim.url}${path}`, {
    method: init.method ?? (body === undefined && init.raw === undefined ? "GET" : "POST"),
    headers,
    body: init.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

const generate = (body: unknown, model = "gemini-2.5-flash", version = "v1beta") => call(`/${version}/models/${model}:generateContent`, body);
const sse = (body: unknown, model = "gemini-2.5-flash") => call(`/v1beta/models/${model}:streamGenerateContent?alt=sse`, body);

/** SSE events as parsed JSON; asserts the framing is exactly `data: <one line>\r\n\r\n`. */
function events(text: string): Array<Record<string, unknown>> {
  expect(text.endsWith("\r\n\r\n")).toBe(true);
  return text
    .slice(0, -4)
    .split("\r\n\r\n")
    .map((event) => {
      expect(event).toMatch(/^data: \{[^\n\r]*\}$/);
      return JSON.parse(event.slice("data: ".length)) as Record<string, unknown>;
    });
}

function expectError(reply: Reply, code: number, status: string, message: string): void {
  expect(reply.status).toBe(code);
  expect(reply.contentType).toBe("application/json; charset=UTF-8");
  const parsed = JSON.parse(reply.text) as { error: { code: number; status: string; message: string } };
  expect(reply.text).toBe(`${JSON.stringify(parsed, null, 2)}\n`);
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.status).toBe(status);
  expect(parsed.error.message).toBe(message);
}

describe("wire format", () => {
  test("unary: pretty-printed JSON with trailing newline, Google's key order, zero fields omitted", async () => {
    const reply = await generate(HELLO, "gemini-2.0-flash");
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe("application/json; charset=UTF-8");
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    expect(reply.text).toBe(`${JSON.stringify(body, null, 2)}\n`);
    expect(Object.keys(body)).toEqual(["candidates", "usageMetadata", "modelVersion", "responseId"]);
    expect(body.modelVersion).toBe("gemini-2.0-flash");
    expect(body.responseId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const usage = body.usageMetadata as Record<string, number>;
    expect(usage.thoughtsTokenCount).toBeUndefined();
    expect(usage.totalTokenCount).toBe(usage.promptTokenCount! + usage.candidatesTokenCount!);
    expect(usage.candidatesTokenCount).toBeGreaterThanOrEqual(20);
    expect(usage.candidatesTokenCount).toBeLessThanOrEqual(80);
  });

  test("deterministic: the same request gives the same bytes", async () => {
    const [a, b] = await Promise.all([generate(HELLO), generate(HELLO)]);
    expect(a.text).toBe(b.text);
  });

  test("SSE: one-line events, running usage, finishReason only on the last; the array form carries the same chunks", async () => {
    const reply = await sse(HELLO);
    expect(reply.contentType).toBe("text/event-stream");
    const chunks = events(reply.text);
    expect(chunks.length).toBeGreaterThan(2);
    const finishes = chunks.map((c) => (c.candidates as Array<{ finishReason?: string }>)[0]!.finishReason);
    expect(finishes.at(-1)).toBe("STOP");
    expect(finishes.slice(0, -1).every((f) => f === undefined)).toBe(true);
    const unary = JSON.parse((await generate(HELLO)).text) as Record<string, unknown>;
    expect(chunks.at(-1)!.usageMetadata).toEqual(unary.usageMetadata);

    const array = await call("/v1beta/models/gemini-2.5-flash:streamGenerateContent", HELLO);
    expect(array.contentType).toBe("application/json; charset=UTF-8");
    expect(array.text.startsWith("[{\n")).toBe(true);
    expect(array.text).toContain("}\r\n,{\n");
    expect(array.text.endsWith("}\r\n]")).toBe(true);
    expect(JSON.parse(array.text)).toEqual(chunks);
  });

  test("maxOutputTokens cuts the text and ends with MAX_TOKENS", async () => {
    const body = { ...HELLO, generationConfig: { maxOutputTokens: 12, thinkingConfig: { thinkingBudget: 0 } } };
    const reply = JSON.parse((await generate(body)).text) as { candidates: Array<{ finishReason: string }>; usageMetadata: Record<string, number> };
    expect(reply.candidates[0]!.finishReason).toBe("MAX_TOKENS");
    expect(reply.usageMetadata.candidatesTokenCount).toBe(12);
  });

  test("models: list with pageSize/pageToken, get one, unknown one", async () => {
    const first = JSON.parse((await call("/v1beta/models?pageSize=3")).text) as { models: Array<{ name: string }>; nextPageToken: string };
    expect(first.models.map((m) => m.name)).toEqual(["models/gemini-2.5-pro", "models/gemini-2.5-flash", "models/gemini-2.5-flash-lite"]);
    const second = JSON.parse((await call(`/v1beta/models?pageSize=4&pageToken=${first.nextPageToken}`)).text) as Record<string, unknown>;
    expect((second.models as unknown[]).length).toBe(4);
    expect(second.nextPageToken).toBeUndefined();
    const one = JSON.parse((await call("/v1/models/gemini-2.5-pro")).text) as Record<string, unknown>;
    expect(one).toMatchObject({ name: "models/gemini-2.5-pro", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: true });
    expectError(await call("/v1beta/models/nope"), 404, "NOT_FOUND", "Model is not found: models/nope for api version v1beta");
  });

  test("countTokens: {contents} or {generateContentRequest}, not both", async () => {
    const counted = JSON.parse((await call("/v1beta/models/gemini-2.5-flash:countTokens", HELLO)).text) as Record<string, unknown>;
    const usage = (JSON.parse((await generate(HELLO)).text) as { usageMetadata: Record<string, unknown> }).usageMetadata;
    expect(counted).toEqual({ totalTokens: usage.promptTokenCount, promptTokensDetails: usage.promptTokensDetails });
    const withSystem = { ...HELLO, systemInstruction: { parts: [{ text: "Be brief and kind." }] } };
    const viaRequest = JSON.parse(
      (await call("/v1beta/models/gemini-2.5-flash:countTokens", { generateContentRequest: { model: "models/gemini-2.5-flash", ...withSystem } })).text,
    ) as { totalTokens: number };
    const generated = JSON.parse((await generate(withSystem)).text) as { usageMetadata: { promptTokenCount: number } };
    expect(viaRequest.totalTokens).toBe(generated.usageMetadata.promptTokenCount);
    expectError(
      await call("/v1beta/models/gemini-2.5-flash:countTokens", { ...HELLO, generateContentRequest: HELLO }),
      400,
      "INVALID_ARGUMENT",
      "CountTokensRequest must have one of contents or generateContentRequest, not both.",
    );
  });
});

describe("validation", () => {
  const cases: Array<[string, unknown, string]> = [
    ["a role other than user/model", { contents: [{ role: "assistant", parts: [{ text: "x" }] }] }, "Please use a valid role: user, model."],
    ["contents missing", {}, "* GenerateContentRequest.contents: contents is not specified\n"],
    ["contents empty", { contents: [] }, "* GenerateContentRequest.contents: contents is not specified\n"],
    [
      "empty parts",
      { contents: [{ role: "user", parts: [{ text: "a" }] }, { role: "model", parts: [] }] },
      "* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.\n",
    ],
    [
      "a {} part",
      { contents: [{ role: "user", parts: [{ text: "a" }] }, { role: "model", parts: [{}] }] },
      "* GenerateContentRequest.contents[1].parts[0].data: required oneof field 'data' must have one initialized field\n",
    ],
    ["an unknown top-level field", { ...HELLO, temperature: 1 }, 'Invalid JSON payload received. Unknown name "temperature": Cannot find field.'],
    [
      "an unknown generationConfig field",
      { ...HELLO, generationConfig: { maxTokens: 5 } },
      "Invalid JSON payload received. Unknown name \"maxTokens\" at 'generation_config': Cannot find field.",
    ],
    [
      "a function call first",
      { contents: [{ role: "model", parts: [{ functionCall: { name: "f", args: {} } }] }] },
      "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
    ],
    [
      "a function call after a model turn",
      {
        contents: [
          { role: "user", parts: [{ text: "q" }] },
          { role: "model", parts: [{ text: "a" }] },
          { role: "model", parts: [{ functionCall: { name: "f", args: {} } }] },
        ],
      },
      "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
    ],
    [
      "fewer function responses than calls",
      {
        contents: [
          { role: "user", parts: [{ text: "q" }] },
          { role: "model", parts: [{ functionCall: { name: "f", args: {} } }, { functionCall: { name: "g", args: {} } }] },
          { role: "user", parts: [{ functionResponse: { name: "f", response: { ok: true } } }] },
        ],
      },
      "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
    ],
    ["a thinking budget out of range", { ...HELLO, generationConfig: { thinkingConfig: { thinkingBudget: 99999 } } }, "The thinking budget (99999) is invalid."],
  ];
  test.each(cases)("%s: 400 INVALID_ARGUMENT with the exact message", async (_name, body, message) => {
    expectError(await generate(body), 400, "INVALID_ARGUMENT", message);
  });

  test("thinking budgets per model: pro cannot turn thinking off; flash-lite minimum 512; 2.0 does not think", async () => {
    const budget = (thinkingBudget: number) => ({ ...HELLO, generationConfig: { thinkingConfig: { thinkingBudget } } });
    expectError(await generate(budget(0), "gemini-2.5-pro"), 400, "INVALID_ARGUMENT", "Budget 0 is invalid. This model only works in thinking mode.");
    expectError(await generate(budget(100), "gemini-2.5-flash-lite"), 400, "INVALID_ARGUMENT", "The thinking budget (100) is invalid.");
    const capped = JSON.parse((await generate(budget(128), "gemini-2.5-pro")).text) as { usageMetadata: Record<string, number> };
    expect(capped.usageMetadata.thoughtsTokenCount).toBeGreaterThan(0);
    expect(capped.usageMetadata.thoughtsTokenCount).toBeLessThanOrEqual(128);
    const off = JSON.parse((await generate(budget(0), "gemini-2.5-flash-lite")).text) as { usageMetadata: Record<string, number> };
    expect(off.usageMetadata.thoughtsTokenCount).toBeUndefined();
  });

  test("accepted: snake_case names, {text: ''}, consecutive same-role turns, a function call answered in full", async () => {
    const snake = {
      contents: [{ role: "user", parts: [{ text: "" }] }, { role: "user", parts: [{ text: "again" }] }],
      system_instruction: { parts: [{ text: "terse" }] },
      generation_config: { max_output_tokens: 500, thinking_config: { thinking_budget: 1024 } },
    };
    expect((await generate(snake)).status).toBe(200);
    const tools = {
      contents: [
        { role: "user", parts: [{ text: "weather?" }] },
        { role: "model", parts: [{ functionCall: { name: "weather", args: { city: "Paris" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "weather", response: { sky: "clear" } } }] },
      ],
    };
    expect((await generate(tools)).status).toBe(200);
  });

  test("v1 does not know systemInstruction", async () => {
    const body = { ...HELLO, systemInstruction: { parts: [{ text: "x" }] } };
    expectError(await generate(body, "gemini-2.5-flash", "v1"), 400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "systemInstruction": Cannot find field.');
    expect((await generate(body, "gemini-2.5-flash", "v1beta")).status).toBe(200);
  });

  test("an invalid JSON body", async () => {
    const reply = await call("/v1beta/models/gemini-2.5-flash:generateContent", undefined, { raw: "{not json" });
    expect(reply.status).toBe(400);
    expect((JSON.parse(reply.text) as { error: { message: string } }).error.message).toMatch(/^Invalid JSON payload received\. /);
  });

  test("keys: none is 403, any non-empty key by default, ?key= works, unknown route is a 404 envelope", async () => {
    expectError(
      await call("/v1beta/models/gemini-2.5-flash:generateContent", HELLO, { key: null }),
      403,
      "PERMISSION_DENIED",
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
    expect((await call("/v1beta/models/gemini-2.5-flash:generateContent?key=abc", HELLO, { key: null })).status).toBe(200);
    expectError(await call("/v2/whatever", HELLO), 404, "NOT_FOUND", "Requested entity was not found.");
    expectError(
      await generate(HELLO, "gemini-1.0-pro"),
      404,
      "NOT_FOUND",
      "models/gemini-1.0-pro is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.",
    );
  });

  test("restricted keys: an unknown key is 400 API_KEY_INVALID", async () => {
    const restricted = await startTestSimulator({ keys: ["a", "b"] });
    try {
      const reply = await call("/v1beta/models/gemini-2.5-flash:generateContent", HELLO, { url: restricted.url, key: "c" });
      expectError(reply, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.");
      expect(reply.text).toContain('"reason": "API_KEY_INVALID"');
      expect((await call("/v1beta/models/gemini-2.5-flash:generateContent", HELLO, { url: restricted.url, key: "b" })).status).toBe(200);
    } finally {
      await restricted.close();
    }
  });
});
