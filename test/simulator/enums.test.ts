// `$alt=json;enum-encoding=int` (what gapic REST clients send): every enum of every answer as its number, in unary
// answers, SSE events and the JSON-array stream; numbers accepted for enum fields of requests.
import { describe, expect, test } from "vitest";
import type { TestSimulator } from "../helpers/sim.js";
import { useTestSimulator } from "../helpers/sim.js";

let sim: TestSimulator;
useTestSimulator((started) => (sim = started));

const HEADERS = { "x-goog-api-key": "k", "content-type": "application/json" };
const HELLO = { contents: [{ role: "user", parts: [{ text: "Hello there, simulator" }] }] };
/** How gapic clients spell it on the wire: `%24alt=json%3Benum-encoding%3Dint`. */
const INT_ENUMS = `?${encodeURIComponent("$alt")}=${encodeURIComponent("json;enum-encoding=int")}`;

const post = (path: string, body: unknown = HELLO) => fetch(`${sim.url}${path}`, { method: "POST", headers: HEADERS, body: JSON.stringify(body) });

interface Chunk {
  candidates?: Array<{ finishReason?: unknown; content?: { parts?: Array<Record<string, Record<string, unknown>>> } }>;
  promptFeedback?: { blockReason: unknown; safetyRatings: Array<{ category: unknown; probability: unknown }> };
  usageMetadata: { promptTokensDetails: Array<{ modality: unknown }>; toolUsePromptTokensDetails?: Array<{ modality: unknown }> };
}

describe("enum-encoding=int", () => {
  test("unary: finishReason and modalities as numbers; the same answer as names otherwise", async () => {
    const named = (await (await post("/v1beta/models/gemini-2.5-flash:generateContent")).json()) as Chunk;
    const numbered = (await (await post(`/v1beta/models/gemini-2.5-flash:generateContent${INT_ENUMS}`)).json()) as Chunk;
    expect(named.candidates![0]!.finishReason).toBe("STOP");
    expect(numbered.candidates![0]!.finishReason).toBe(1);
    expect(numbered.usageMetadata.promptTokensDetails).toEqual([{ modality: 1, tokenCount: 5 }]);
    expect({ ...numbered, candidates: [{ ...numbered.candidates![0], finishReason: "STOP" }], usageMetadata: named.usageMetadata }).toEqual(named);
    // plain alt=json and $alt=json keep the names
    for (const query of ["?alt=json", "?$alt=json"]) {
      expect(((await (await post(`/v1beta/models/gemini-2.5-flash:generateContent${query}`)).json()) as Chunk).candidates![0]!.finishReason).toBe("STOP");
    }
  });

  test("SSE ($alt=sse;enum-encoding=int) and the JSON-array stream ($alt=json;enum-encoding=int): numbers in every chunk", async () => {
    const sse = await (await post(`/v1beta/models/gemini-2.0-flash:streamGenerateContent?$alt=${encodeURIComponent("sse;enum-encoding=int")}`)).text();
    const events = sse.trim().split("\r\n\r\n").map((e) => JSON.parse(e.slice("data: ".length)) as Chunk);
    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.usageMetadata.promptTokensDetails[0]!.modality === 1)).toBe(true);
    expect(events.at(-1)!.candidates![0]!.finishReason).toBe(1);
    const array = JSON.parse(await (await post(`/v1beta/models/gemini-2.0-flash:streamGenerateContent${INT_ENUMS}`)).text()) as Chunk[];
    expect(array).toEqual(events);
  });

  test("a blocked prompt: blockReason, categories and probabilities as numbers", async () => {
    await sim.setFaults([{ fault: { kind: "block", blockReason: "PROHIBITED_CONTENT" } }]);
    const blocked = (await (await post(`/v1beta/models/gemini-2.5-flash:generateContent${INT_ENUMS}`)).json()) as Chunk;
    expect(blocked.promptFeedback).toEqual({
      blockReason: 4,
      safetyRatings: [
        { category: 9, probability: 1 },
        { category: 8, probability: 1 },
        { category: 7, probability: 1 },
        { category: 10, probability: 1 },
      ],
    });
  });

  test("code execution parts: language and outcome as numbers; enum-named keys in function arguments are the caller's", async () => {
    const body = {
      contents: [
        { role: "user", parts: [{ text: "weather?" }] },
        { role: "model", parts: [{ functionCall: { name: "weather", args: { state: "ACTIVE" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "weather", response: { category: "HARM_CATEGORY_HARASSMENT" } } }] },
      ],
      tools: [{ codeExecution: {} }],
    };
    const answer = (await (await post(`/v1beta/models/gemini-2.0-flash:generateContent${INT_ENUMS}`, body)).json()) as Chunk;
    const parts = answer.candidates![0]!.content!.parts!;
    expect(parts[0]!.executableCode!.language).toBe(1);
    expect(parts[1]!.codeExecutionResult!.outcome).toBe(1);
    expect(answer.usageMetadata.toolUsePromptTokensDetails).toEqual([{ modality: 1, tokenCount: 1 }]);
  });

  test("requests may carry numbers: safety settings, response modalities, code parts; unknown values are 400", async () => {
    const body = {
      ...HELLO,
      safetySettings: [{ category: 10, threshold: 4 }, { category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_ONLY_HIGH" }],
      generationConfig: { responseModalities: [1] },
    };
    const numbered = await post(`/v1beta/models/gemini-2.5-flash:generateContent${INT_ENUMS}`, body);
    expect(numbered.status).toBe(200);
    const named = await post("/v1beta/models/gemini-2.5-flash:generateContent", {
      ...body,
      safetySettings: [{ category: "HARM_CATEGORY_DANGEROUS_CONTENT", threshold: "BLOCK_NONE" }, body.safetySettings[1]],
      generationConfig: { responseModalities: ["TEXT"] },
    });
    // the same request either way: the same deterministic reply
    expect(((await named.json()) as { responseId: string }).responseId).toBe(((await numbered.json()) as { responseId: string }).responseId);
    const bad = await post("/v1beta/models/gemini-2.5-flash:generateContent", { ...HELLO, safetySettings: [{ category: 99, threshold: "BLOCK_NONE" }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe(
      "Invalid value at 'safety_settings[0].category' (type.googleapis.com/google.ai.generativelanguage.v1beta.HarmCategory), 99",
    );
  });

  test("files and batches: state and source as numbers", async () => {
    const start = await fetch(`${sim.url}/upload/v1beta/files`, {
      method: "POST",
      headers: { ...HEADERS, "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start", "x-goog-upload-header-content-type": "text/plain" },
      body: "{}",
    });
    const done = await fetch(start.headers.get("x-goog-upload-url")!, { method: "POST", headers: { "x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0" }, body: "hi" });
    const { file } = (await done.json()) as { file: { name: string } };
    expect(await (await fetch(`${sim.url}/v1beta/${file.name}${INT_ENUMS}&key=k`)).json()).toMatchObject({ state: 2, source: 1 });
    const batch = (await (await post(`/v1beta/models/gemini-2.5-flash:batchGenerateContent${INT_ENUMS}`, { batch: { inputConfig: { requests: { requests: [{ request: HELLO, metadata: { state: "ACTIVE" } }] } } } })).json()) as {
      name: string;
      metadata: { state: unknown };
    };
    expect(batch.metadata.state).toBe(1);
    const poll = () => fetch(`${sim.url}/v1beta/${batch.name}${INT_ENUMS}&key=k`).then((r) => r.json()) as Promise<{ metadata: { state: unknown }; response?: { inlinedResponses: { inlinedResponses: Array<{ metadata: unknown; response: Chunk }> } } }>;
    expect((await poll()).metadata.state).toBe(2);
    const finished = await poll();
    expect(finished.metadata.state).toBe(3);
    const [inlined] = finished.response!.inlinedResponses.inlinedResponses;
    expect(inlined!.metadata).toEqual({ state: "ACTIVE" });
    expect(inlined!.response.candidates![0]!.finishReason).toBe(1);
  });
});
