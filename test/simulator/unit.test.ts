// The pure parts of the simulator: tokenizer, generation, validation, quota window math, fault rules.
import { describe, expect, test } from "vitest";
import { GeminiError } from "../../src/gemini/errors.js";
import type { GenerateContentRequest } from "../../src/gemini/types.js";
import { FaultBook, faultConfigSchema, faultLabel } from "../../src/simulator/faults.js";
import { contextLine, planReply, streamChunks, unaryResponse } from "../../src/simulator/generation.js";
import { findModel } from "../../src/simulator/models.js";
import { QuotaLedger, formatDuration, waitUntilFits } from "../../src/simulator/quota.js";
import { MEDIA_PART_TOKENS, countPromptTokens, countTextTokens, splitTokens } from "../../src/simulator/tokenizer.js";
import { parseCountTokensRequest, parseGenerateContentRequest, snakeToCamel } from "../../src/simulator/validate.js";

const flash = findModel("gemini-2.5-flash")!;
const flash20 = findModel("gemini-2.0-flash")!;
const RANGE = { min: 20, max: 80 };
const ask = (text: string, extra: Partial<GenerateContentRequest> = {}): GenerateContentRequest => ({
  contents: [{ role: "user", parts: [{ text }] }],
  ...extra,
});

describe("tokenizer", () => {
  test("words up to 8 letters are one token, longer ones split by 8, each punctuation mark is one", () => {
    expect(splitTokens("Hello, world!")).toEqual(["Hello", ",", " world", "!"]);
    expect(splitTokens("entanglement")).toEqual(["entangle", "ment"]);
    expect(countTextTokens("")).toBe(0);
    expect(countTextTokens("  \n ")).toBe(0);
    expect(countTextTokens("Explain quantum entanglement in one sentence")).toBe(7);
  });

  test("pieces join back to the text", () => {
    const text = "  A multi-line\n\ntext: with ünïcode wörds and 12345678901 digits.";
    expect(splitTokens(text).join("")).toBe(text);
  });

  test("prompt: system instruction, contents and tools, per modality", () => {
    const prompt = countPromptTokens({
      systemInstruction: { parts: [{ text: "Be brief" }] },
      contents: [{ role: "user", parts: [{ text: "What is this?" }, { inlineData: { mimeType: "image/png", data: "AAAA" } }] }],
      tools: [{ functionDeclarations: [{ name: "f" }] }],
    });
    const toolTokens = countTextTokens(JSON.stringify([{ functionDeclarations: [{ name: "f" }] }]));
    expect(prompt.details).toEqual([
      { modality: "TEXT", tokenCount: 2 + 4 + toolTokens },
      { modality: "IMAGE", tokenCount: MEDIA_PART_TOKENS },
    ]);
    expect(prompt.total).toBe(6 + toolTokens + MEDIA_PART_TOKENS);
  });
});

describe("generation", () => {
  test("the context line names the contents and the first user words", () => {
    expect(
      contextLine([
        { role: "user", parts: [{ text: "Explain quantum entanglement in one sentence please, right now" }] },
        { role: "model", parts: [{ text: "ok" }] },
      ]),
    ).toBe('[context: 2 contents; first user message: "Explain quantum entanglement in one sentence please, right"]');
    expect(contextLine([{ role: "model", parts: [{ text: "x" }] }])).toBe("[context: 1 content; first user message: none]");
  });

  test("deterministic, within the range, and different requests differ", () => {
    const a = planReply(flash20, ask("one"), RANGE);
    expect(planReply(flash20, ask("one"), RANGE)).toEqual(a);
    const lengths = new Set<number>();
    for (let i = 0; i < 30; i += 1) {
      const plan = planReply(flash20, ask(`question ${i}`), RANGE);
      expect(plan.pieces.length).toBeGreaterThanOrEqual(20);
      expect(plan.pieces.length).toBeLessThanOrEqual(80);
      expect(plan.thoughtsTokens).toBe(0);
      lengths.add(plan.pieces.length);
    }
    expect(lengths.size).toBeGreaterThan(5);
    expect(planReply(flash20, ask("one"), { min: 3, max: 3 }).pieces).toEqual(["[", "context", ":"]);
  });

  test("thinking: 2.5 thinks by default, a budget caps it, 0 turns it off", () => {
    expect(planReply(flash, ask("x"), RANGE).thoughtsTokens).toBeGreaterThan(0);
    const budget = (thinkingBudget: number) => ask("x", { generationConfig: { thinkingConfig: { thinkingBudget } } });
    expect(planReply(flash, budget(10), RANGE).thoughtsTokens).toBe(10);
    expect(planReply(flash, budget(0), RANGE).thoughtsTokens).toBe(0);
  });

  test("maxOutputTokens covers thoughts and text", () => {
    const limited = (maxOutputTokens: number, thinkingBudget = -1) =>
      planReply(flash, ask("x", { generationConfig: { maxOutputTokens, thinkingConfig: { thinkingBudget } } }), RANGE);
    const exhausted = limited(30);
    expect(exhausted).toMatchObject({ thoughtsTokens: 30, pieces: [], finishReason: "MAX_TOKENS" });
    expect(unaryResponse(exhausted).candidates).toEqual([{ content: { role: "model" }, finishReason: "MAX_TOKENS", index: 0 }]);
    expect(streamChunks(exhausted)).toEqual([unaryResponse(exhausted)]);
    const cut = limited(25, 10);
    expect(cut).toMatchObject({ thoughtsTokens: 10, finishReason: "MAX_TOKENS" });
    expect(cut.pieces).toHaveLength(15);
    expect(unaryResponse(cut).usageMetadata).toMatchObject({ candidatesTokenCount: 15, thoughtsTokenCount: 10, totalTokenCount: cut.prompt.total + 25 });
  });

  test("stream chunks: running usage, text concatenates to the unary text, finishReason on the last", () => {
    const plan = planReply(flash, ask("stream me"), RANGE);
    const chunks = streamChunks(plan, 5);
    expect(chunks).toHaveLength(Math.ceil(plan.pieces.length / 5));
    expect(chunks.map((c) => c.candidates![0]!.content!.parts![0]!.text).join("")).toBe(unaryResponse(plan).candidates![0]!.content!.parts![0]!.text);
    expect(chunks.at(-1)!.usageMetadata).toEqual(unaryResponse(plan).usageMetadata);
    expect(chunks.filter((c) => c.candidates![0]!.finishReason !== undefined)).toHaveLength(1);
  });

  test("forced finish and block", () => {
    const plan = planReply(flash20, ask("x"), RANGE);
    const safety = planReply(flash20, ask("x"), RANGE, { finishReason: "SAFETY" });
    expect(safety.finishReason).toBe("SAFETY");
    expect(safety.pieces.length).toBe(Math.ceil(plan.pieces.length / 2));
    const blocked = unaryResponse(planReply(flash, ask("x"), RANGE, { blockReason: "SAFETY" }));
    expect(blocked.candidates).toBeUndefined();
    expect(blocked.promptFeedback?.blockReason).toBe("SAFETY");
    expect(blocked.usageMetadata).toEqual({ promptTokenCount: 1, totalTokenCount: 1, promptTokensDetails: [{ modality: "TEXT", tokenCount: 1 }] });
  });
});

describe("validation", () => {
  const rejects = (fn: () => unknown, message: string) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(GeminiError);
      expect((err as GeminiError).message).toBe(message);
      return;
    }
    throw new Error("expected a GeminiError");
  };

  test("snake_case is normalized; function args keep their own keys", () => {
    expect(snakeToCamel("max_output_tokens")).toBe("maxOutputTokens");
    const request = parseGenerateContentRequest(
      {
        contents: [
          { role: "user", parts: [{ text: "q" }] },
          { role: "model", parts: [{ function_call: { name: "f", args: { snake_key: 1 } } }] },
          { role: "user", parts: [{ function_response: { name: "f", response: { ok: true } } }] },
        ],
        generation_config: { thinking_config: { thinking_budget: 0 } },
      },
      flash,
      "v1beta",
    );
    expect(request.contents[1]!.parts[0]!.functionCall).toEqual({ name: "f", args: { snake_key: 1 } });
    expect(request.generationConfig?.thinkingConfig?.thinkingBudget).toBe(0);
  });

  test("countTokens paths name the CountTokensRequest", () => {
    rejects(
      () => parseCountTokensRequest({ generateContentRequest: { contents: [] } }, flash, "v1beta"),
      "* CountTokensRequest.generate_content_request.contents: contents is not specified\n",
    );
    expect(parseCountTokensRequest({}, flash, "v1beta")).toEqual({ contents: [] });
  });

  test("cachedContent is kept as a name; a part with two data fields is rejected", () => {
    expect(parseGenerateContentRequest({ ...ask("x"), cachedContent: "cachedContents/abc" }, flash, "v1beta").cachedContent).toBe("cachedContents/abc");
    rejects(
      () => parseGenerateContentRequest({ contents: [{ parts: [{ text: "a", inlineData: { mimeType: "image/png", data: "" } }] }] }, flash, "v1beta"),
      "* GenerateContentRequest.contents[0].parts[0].data: oneof field 'data' is already set. Cannot set 'inlineData'\n",
    );
  });
});

describe("quota windows", () => {
  test("waitUntilFits: time until the oldest admissions leave the window", () => {
    const history = [{ at: 1_000, tokens: 5 }, { at: 21_000, tokens: 5 }];
    const requests = () => 1;
    expect(waitUntilFits(history, 30_000, 60_000, 3, requests, 1)).toBe(0);
    expect(waitUntilFits(history, 30_000, 60_000, 2, requests, 1)).toBe(31_000);
    expect(waitUntilFits(history, 30_000, 60_000, 1, requests, 1)).toBe(51_000);
    expect(waitUntilFits(history, 30_000, 60_000, 8, (a) => a.tokens, 3)).toBe(31_000);
    expect(waitUntilFits(history, 30_000, 60_000, 8, (a) => a.tokens, 4)).toBe(51_000);
    expect(waitUntilFits(history, 30_000, 60_000, 8, (a) => a.tokens, 9)).toBe(Infinity);
  });

  test("the ledger: per key+model, rejected requests are not recorded, the window slides", () => {
    const ledger = new QuotaLedger({ rpm: 2 });
    expect(ledger.admit("k", "m", 1, 0)).toBeUndefined();
    expect(ledger.admit("k", "m", 1, 10_500)).toBeUndefined();
    expect(ledger.admit("k", "m", 1, 20_000)).toMatchObject({ limit: 2, retryAfterMs: 40_000 });
    expect(ledger.admit("k2", "m", 1, 20_000)).toBeUndefined();
    expect(ledger.admit("k", "m2", 1, 20_000)).toBeUndefined();
    expect(ledger.admit("k", "m", 1, 60_001)).toBeUndefined();
    expect(ledger.admit("k", "m", 1, 60_002)?.retryAfterMs).toBe(10_498);
  });

  test("durations are protobuf strings with up to millisecond precision", () => {
    expect(formatDuration(12_345)).toBe("12.345s");
    expect(formatDuration(500)).toBe("0.5s");
    expect(formatDuration(28_000)).toBe("28s");
    expect(formatDuration(10_498.4)).toBe("10.498s");
  });
});

describe("fault rules", () => {
  test("schema, labels, first match, times, seeded probability", () => {
    const config = faultConfigSchema.parse({
      seed: 7,
      rules: [
        { when: { method: "countTokens" }, fault: { kind: "reset" }, times: 1 },
        { fault: { status: 503 }, probability: 0.3 },
      ],
    });
    const book = new FaultBook();
    book.set(config);
    expect(book.pick("countTokens", "m")).toEqual({ kind: "reset" });
    expect(book.show().rules).toHaveLength(1);
    const draws = Array.from({ length: 40 }, () => book.pick("generateContent", "m"));
    book.set(config);
    book.pick("countTokens", "m");
    expect(Array.from({ length: 40 }, () => book.pick("generateContent", "m"))).toEqual(draws);
    const hits = draws.filter((d) => d !== undefined).length;
    expect(hits).toBeGreaterThan(0);
    expect(hits).toBeLessThan(40);
    expect(faultLabel({ status: 503 })).toBe("status:503");
    expect(faultLabel({ kind: "midstream_error" })).toBe("midstream_error");
    expect(faultConfigSchema.safeParse({ rules: [{ fault: { status: 418 } }] }).success).toBe(false);
  });
});
