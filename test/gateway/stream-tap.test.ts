import { describe, expect, test } from "vitest";
import { parseAlt } from "../../src/gemini/alt.js";
import { GenerateContentTap, responseFormat, type ResponseFormat } from "../../src/taps/generate-content.js";

const chunks = [
  {
    candidates: [{ content: { role: "model", parts: [{ text: "thinking...", thought: true }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 10, totalTokenCount: 15, thoughtsTokenCount: 5 },
    modelVersion: "gemini-2.5-flash",
    responseId: "r1",
  },
  {
    candidates: [{ content: { role: "model", parts: [{ text: "Hello, " }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, totalTokenCount: 17, thoughtsTokenCount: 5 },
    modelVersion: "gemini-2.5-flash",
    responseId: "r1",
  },
  {
    candidates: [{ content: { role: "model", parts: [{ text: "world" }, { functionCall: { name: "f", args: { a: "}\"]" } } }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 4, totalTokenCount: 20, thoughtsTokenCount: 5 },
    modelVersion: "gemini-2.5-flash",
    responseId: "r1",
  },
  {
    candidates: [{ content: { role: "model", parts: [{ text: "" }] }, finishReason: "STOP", index: 0 }],
    usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 5, totalTokenCount: 21, thoughtsTokenCount: 5 },
    modelVersion: "gemini-2.5-flash",
    responseId: "r1",
  },
];

const sse = (objects: unknown[]): string => objects.map((o) => `data: ${JSON.stringify(o)}\r\n\r\n`).join("");
const jsonArray = (objects: unknown[]): string => `[${objects.map((o) => JSON.stringify(o, null, 2)).join(",\r\n")}]`;

/** Feeds the text in pieces of `size` bytes, so objects, lines and UTF-8 characters are split across pushes. */
function tapIn(format: ResponseFormat, text: string, size: number, captureContent = true) {
  const tap = new GenerateContentTap(format, { captureContent });
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size));
  return tap.finish();
}

describe("response tap", () => {
  test("format from the method and alt, in every spelling of the parameter", () => {
    expect(responseFormat(true, new URLSearchParams("alt=sse"))).toBe("sse");
    expect(responseFormat(true, new URLSearchParams("$alt=sse;enum-encoding=int"))).toBe("sse");
    expect(responseFormat(true, new URLSearchParams(""))).toBe("json_array");
    expect(responseFormat(true, new URLSearchParams("alt=json"))).toBe("json_array");
    expect(responseFormat(true, new URLSearchParams("%24alt=json%3Benum-encoding%3Dint"))).toBe("json_array");
    expect(responseFormat(false, new URLSearchParams("alt=sse"))).toBe("json");
  });

  test("enums sent as numbers (enum-encoding=int) are read as their names", () => {
    const numbered = chunks.map((chunk, i) => ({
      ...chunk,
      usageMetadata: { ...chunk.usageMetadata, promptTokensDetails: [{ modality: 4, tokenCount: 6 }, { modality: 1, tokenCount: 5 }] },
      candidates: chunk.candidates.map((c) => (i === 3 ? { ...c, finishReason: 2 } : c)),
    }));
    const result = tapIn("sse", sse(numbered), 13);
    expect(result.response.finishReasons).toEqual(["MAX_TOKENS"]);
    // 6 audio tokens among the 11 of the prompt: billed at the audio rate.
    expect(result.response.tokens).toMatchObject({ input: 11, inputAudio: 6 });
    const blocked = JSON.stringify({ promptFeedback: { blockReason: 1 }, usageMetadata: { promptTokenCount: 4 } });
    expect(tapIn("json", blocked, 100).response.blockReason).toBe("SAFETY");
    expect(tapIn("json", JSON.stringify({ candidates: [{ finishReason: 99 }] }), 100).response.finishReasons).toEqual(["UNKNOWN_99"]);
  });

  test("an answer of any shape is read without throwing: odd fields are ignored, counts never negative", () => {
    const odd = [
      { candidates: "x", usageMetadata: { promptTokenCount: -5, candidatesTokenCount: "7", thoughtsTokenCount: 1.5 } },
      { candidates: [null, 3, { content: { parts: [null, { text: null }, { text: 5 }] }, finishReason: {} }], promptFeedback: [] },
      [1, 2],
      "text",
    ];
    for (const body of odd) {
      const { response } = tapIn("json", JSON.stringify(body), 7);
      for (const count of Object.values(response.tokens ?? {})) expect(count).toBeGreaterThanOrEqual(0);
    }
    expect(tapIn("json", JSON.stringify(odd[0]), 7).response.tokens).toEqual({ input: 0, cached: 0, output: 0, thoughts: 1, tool_use: 0, inputAudio: 0 });
  });

  for (const [format, text] of [
    ["sse", sse(chunks)],
    ["json_array", jsonArray(chunks)],
  ] as const) {
    for (const size of [1, 7, 100_000]) {
      test(`${format} in pieces of ${size}: last usage (never summed), finish, ids, model turn without thoughts`, () => {
        const result = tapIn(format, text, size);
        expect(result.chunks).toBe(4);
        expect(result.malformed).toBe(false);
        expect(result.streamError).toBeUndefined();
        expect(result.response).toEqual({
          usage: chunks[3]!.usageMetadata,
          tokens: { input: 11, cached: 0, output: 5, thoughts: 5, tool_use: 0, inputAudio: 0 },
          finishReasons: ["STOP"],
          responseId: "r1",
          modelVersion: "gemini-2.5-flash",
          hasVisibleParts: true,
          text: "Hello, world",
          modelContent: { role: "model", parts: [{ text: "Hello, world" }, { functionCall: { name: "f", args: { a: "}\"]" } } }] },
        });
      });
    }
  }

  test("unary JSON, multi-byte text split across pushes, content capture off", () => {
    const body = JSON.stringify(
      {
        candidates: [{ content: { role: "model", parts: [{ text: "Ünïcödé ✓" }] }, finishReason: "MAX_TOKENS", index: 0 }],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 },
      },
      null,
      2,
    );
    expect(tapIn("json", body, 3, false).response).toEqual({
      usage: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 },
      tokens: { input: 3, cached: 0, output: 4, thoughts: 0, tool_use: 0, inputAudio: 0 },
      finishReasons: ["MAX_TOKENS"],
      hasVisibleParts: true,
    });
    expect(tapIn("json", body, 3).response.text).toBe("Ünïcödé ✓");
  });

  test("thinking spent the whole budget: no parts, not visible", () => {
    const body = JSON.stringify({ candidates: [{ content: { role: "model" }, finishReason: "MAX_TOKENS", index: 0 }] });
    const { response } = tapIn("json", body, 10);
    expect(response.hasVisibleParts).toBe(false);
    expect(response.modelContent).toBeUndefined();
    expect(response.text).toBe("");
  });

  test("blocked prompt", () => {
    const body = JSON.stringify({ promptFeedback: { blockReason: "SAFETY" }, usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 } });
    expect(tapIn("json", body, 5).response).toMatchObject({ blockReason: "SAFETY", finishReasons: [], hasVisibleParts: false });
  });

  test("SSE mid-stream error: the raw pretty-printed tail", () => {
    const tail = `${JSON.stringify({ error: { code: 503, message: "This model is currently experiencing high demand.", status: "UNAVAILABLE" } }, null, 2)}\n`;
    const result = tapIn("sse", sse(chunks.slice(0, 2)) + tail, 9);
    expect(result.chunks).toBe(2);
    expect(result.streamError).toMatchObject({ code: 503, status: "UNAVAILABLE" });
    expect(result.response.usage).toEqual(chunks[1]!.usageMetadata);
  });

  test("JSON-array mid-stream error element", () => {
    const text = `[${JSON.stringify(chunks[1])},\r\n${JSON.stringify({ error: { code: 500, message: "x", status: "INTERNAL" } })}]`;
    const result = tapIn("json_array", text, 4);
    expect(result.chunks).toBe(1);
    expect(result.streamError).toMatchObject({ code: 500 });
  });

  test("truncated streams are malformed", () => {
    expect(tapIn("json_array", jsonArray(chunks).slice(0, -30), 50).malformed).toBe(true);
    expect(tapIn("sse", "data: {\"candidates\": [\n", 50).malformed).toBe(true);
  });

  test("several candidates: finish reasons by index", () => {
    const body = JSON.stringify({
      candidates: [
        { content: { parts: [{ text: "b" }] }, finishReason: "MAX_TOKENS", index: 1 },
        { content: { parts: [{ text: "a" }] }, finishReason: "STOP", index: 0 },
      ],
    });
    const { response } = tapIn("json", body, 1000);
    expect(response.finishReasons).toEqual(["STOP", "MAX_TOKENS"]);
    expect(response.text).toBe("a");
  });
});

describe("the alt parameter", () => {
  test("every spelling; sse wins over json; enum-encoding=int on either", () => {
    expect(parseAlt(new URLSearchParams("alt=sse"))).toEqual({ form: "sse", intEnums: false });
    expect(parseAlt(new URLSearchParams("%24alt=json%3Benum-encoding%3Dint"))).toEqual({ form: "json", intEnums: true });
    expect(parseAlt(new URLSearchParams("alt=sse&$alt=json;enum-encoding=int"))).toEqual({ form: "sse", intEnums: true });
    expect(parseAlt(new URLSearchParams("$alt=json;enum-encoding=int&alt=sse"))).toEqual({ form: "sse", intEnums: true });
    expect(parseAlt(new URLSearchParams(""))).toEqual({ intEnums: false });
  });
});
