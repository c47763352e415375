// Bytes pass unchanged and unbuffered; a client that goes away stops the upstream request.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { UPSTREAM_KEY, eventually, post, startStack, userContent, type Stack } from "./stack.js";

const STREAM_SSE = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";

describe("same bytes as a direct call", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  for (const path of [
    "/v1beta/models/gemini-2.5-flash:generateContent",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "/v1/models/gemini-2.0-flash:countTokens",
  ]) {
    test(path, async () => {
      // Unknown fields survive: the body is forwarded as sent (the simulator rejects this one, as Google does).
      for (const body of ['{"contents":[{"role":"user","parts":[{"text":"same bytes"}]}]}', '{"contents":[{"parts":[{"text":"x"}]}],"unknownField":1}']) {
        const direct = await fetch(`${stack.sim.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-goog-api-key": UPSTREAM_KEY },
          body,
        });
        const viaGateway = await post(stack, path, body);
        expect(viaGateway.status).toBe(direct.status);
        expect(viaGateway.headers.get("content-type")).toBe(direct.headers.get("content-type"));
        expect(viaGateway.headers.get("server-timing")).toMatch(/^gateway;dur=[\d.]+, upstream;dur=[\d.]+$/);
        expect(await viaGateway.text()).toBe(await direct.text());
      }
    });
  }
});

describe("slow streams", () => {
  let stack: Stack;
  beforeAll(async () => {
    // About a second per reply: the simulator is still producing long after the first chunk.
    stack = await startStack({}, { replyTokens: { min: 40, max: 40 }, tokensPerSecond: 40 });
  });
  afterAll(async () => {
    await stack.close();
  });

  test("not buffered: the first chunk reaches the client while the upstream is still producing", async () => {
    const res = await post(stack, STREAM_SSE, userContent("stream slowly please"));
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    // The call is not over: no record yet, and the simulator has not finished the stream.
    expect(stack.records).toHaveLength(0);
    expect((await stack.sim.stats()).tokens.total).toBe(0);
    let events = (new TextDecoder().decode(first.value).match(/^data: /gm) ?? []).length;
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      events += (new TextDecoder().decode(part.value).match(/^data: /gm) ?? []).length;
    }
    expect(events).toBeGreaterThan(1);
    await eventually(() => stack.records.length === 1);
    expect(stack.records[0]!.response?.finishReasons).toEqual(["STOP"]);
  });

  test("a client abort stops the upstream request at once", async () => {
    const body = userContent("abort me midway");
    await stack.sim.resetStats();
    await (await post(stack, STREAM_SSE, body)).text();
    const full = (await stack.sim.stats()).tokens.candidates;

    await stack.sim.resetStats();
    stack.records.length = 0;
    const controller = new AbortController();
    const res = await fetch(`${stack.url}${STREAM_SSE}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": "gw-test-key-alpha" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    await res.body!.getReader().read();
    controller.abort();
    // The simulator records the usage of the last chunk it sent when its stream ends: here, cut short.
    await eventually(async () => (await stack.sim.stats()).tokens.total > 0);
    expect((await stack.sim.stats()).tokens.candidates).toBeLessThan(full);
    await eventually(() => stack.records.length === 1);
    expect(stack.records[0]).toMatchObject({ clientAborted: true, errorType: "cancelled", httpStatus: 200, attempts: [{ outcome: "ok" }] });
  });
});
