// Bad input gets a clear Gemini-format error, and the gateway keeps serving. Log lines never hold keys or text.
import { once } from "node:events";
import { get as httpGet, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GATEWAY_KEY, UPSTREAM_KEY, eventually, post, startStack, userContent, type Stack } from "./stack.js";

const GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ MAX_BODY_BYTES: "1024" });
});
afterAll(async () => {
  await stack.close();
});

async function expectEnvelope(res: Response, code: number, status: string): Promise<string> {
  expect(res.status).toBe(code);
  expect(res.headers.get("content-type")).toBe("application/json; charset=UTF-8");
  const body = (await res.json()) as { error: { code: number; status: string; message: string } };
  expect(body.error).toMatchObject({ code, status });
  return body.error.message;
}

describe("bad input", () => {
  test("malformed JSON: 400, nothing sent upstream", async () => {
    expect(await expectEnvelope(await post(stack, GENERATE, "{not json"), 400, "INVALID_ARGUMENT")).toMatch(/^Invalid JSON payload received/);
  });

  test("a body over MAX_BODY_BYTES: 413", async () => {
    const message = await expectEnvelope(await post(stack, GENERATE, userContent("x".repeat(2048))), 413, "INVALID_ARGUMENT");
    expect(message).toMatch(/exceeds the limit: 1024 bytes/);
  });

  test("a compressed body is decoded before it goes upstream, and the limit applies to the decoded bytes", async () => {
    const encoders: Array<[string, (data: Buffer) => Buffer]> = [
      ["gzip", gzipSync],
      ["deflate", deflateSync],
      ["br", brotliCompressSync],
    ];
    for (const [encoding, encode] of encoders) {
      const res = await post(stack, GENERATE, encode(Buffer.from(JSON.stringify(userContent(`compressed with ${encoding}`)))), {
        "content-encoding": encoding,
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(`first user message: \\"compressed with ${encoding}\\"`);
    }
    const bomb = gzipSync(Buffer.from(JSON.stringify(userContent("x".repeat(4096)))));
    expect(bomb.length).toBeLessThan(1024);
    await expectEnvelope(await post(stack, GENERATE, bomb, { "content-encoding": "gzip" }), 413, "INVALID_ARGUMENT");
    const corrupt = await expectEnvelope(await post(stack, GENERATE, "not gzip at all", { "content-encoding": "gzip" }), 400, "INVALID_ARGUMENT");
    expect(corrupt).toMatch(/^The request body is not valid gzip/);
    const unknown = await expectEnvelope(await post(stack, GENERATE, "{}", { "content-encoding": "zip" }), 400, "INVALID_ARGUMENT");
    expect(unknown).toMatch(/^Unsupported Content-Encoding "zip"/);
  });

  test("a missing key 403, a wrong key 400 API_KEY_INVALID (header or ?key=)", async () => {
    const missing = await fetch(`${stack.url}${GENERATE}`, { method: "POST", body: JSON.stringify(userContent("hi")) });
    await expectEnvelope(missing, 403, "PERMISSION_DENIED");
    await expectEnvelope(await post(stack, GENERATE, userContent("hi"), { "x-goog-api-key": "wrong" }), 400, "INVALID_ARGUMENT");
    // The upstream key is not a gateway key.
    const upstreamKey = await fetch(`${stack.url}${GENERATE}?key=${UPSTREAM_KEY}`, { method: "POST", body: JSON.stringify(userContent("hi")) });
    await expectEnvelope(upstreamKey, 400, "INVALID_ARGUMENT");
    const byQuery = await fetch(`${stack.url}${GENERATE}?key=${GATEWAY_KEY}`, { method: "POST", body: JSON.stringify(userContent("hi")) });
    expect(byQuery.status).toBe(200);
    await byQuery.text();
  });

  test("a path outside the Gemini API 404; an unknown model method goes upstream (its 404); a wrong HTTP method 405 with Allow", async () => {
    await expectEnvelope(await post(stack, "/v2/whatever", {}), 404, "NOT_FOUND");
    await expectEnvelope(await post(stack, "/v1beta/models/gemini-2.5-flash:frobnicate", {}), 404, "NOT_FOUND");
    expect(stack.records.at(-1)).toMatchObject({ route: "modelMethod", httpStatus: 404, attempts: [{ outcome: "404" }] });
    const wrong = await fetch(`${stack.url}${GENERATE}`, { headers: { "x-goog-api-key": GATEWAY_KEY } });
    expect(wrong.headers.get("allow")).toBe("POST");
    await expectEnvelope(wrong, 405, "UNIMPLEMENTED");
  });

  test("a dot segment, an encoded slash or a model name that is not one is refused, and nothing goes upstream", async () => {
    const before = (await stack.sim.stats()).requests;
    // fetch (and a URL string) would resolve the dot segment itself; a raw path goes as it is, as any client could send it.
    const dots = await new Promise<IncomingMessage>((resolve, reject) =>
      httpGet({ host: "127.0.0.1", port: new URL(stack.url).port, path: "/v1beta/models/..", headers: { "x-goog-api-key": GATEWAY_KEY } }, resolve).on(
        "error",
        reject,
      ),
    );
    let text = "";
    for await (const chunk of dots) text += String(chunk);
    expect(dots.statusCode).toBe(400);
    expect((JSON.parse(text) as { error: { message: string } }).error.message).toMatch(/^The path segment "\.\." is not allowed: dot segments/);
    await expectEnvelope(await post(stack, "/v1beta/models/x%2F..%2F..%2Fcorpora:generateContent", userContent("hi")), 400, "INVALID_ARGUMENT");
    await expectEnvelope(await post(stack, "/v1beta/models/gemini%202.5:generateContent", userContent("hi")), 400, "INVALID_ARGUMENT");
    expect((await stack.sim.stats()).requests).toBe(before);
  });

  test("the gateway keeps serving, health and readiness included", async () => {
    const res = await post(stack, GENERATE, userContent("still here?"));
    expect(res.status).toBe(200);
    await res.text();
    expect(await (await fetch(`${stack.url}/healthz`)).json()).toEqual({ status: "ok" });
    expect(await (await fetch(`${stack.url}/readyz`)).json()).toEqual({ status: "ready" });
  });
});

describe("request log", () => {
  test("one line per request; model calls with tenant, model, route, status, attempts, tokens, trace id", async () => {
    stack.logLines.length = 0;
    const res = await post(stack, GENERATE, userContent("a secret prompt"));
    const answer = await res.text();
    await post(stack, GENERATE, "{bad");
    const lines = stack.logLines.filter((l) => l["msg"] === "model call" || l["msg"] === "request");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      msg: "model call",
      tenant: "alpha",
      model: "gemini-2.5-flash",
      route: "generateContent",
      status: 200,
      attempts: 1,
      tokens: { input: expect.any(Number), output: expect.any(Number), total: expect.any(Number) },
      durationMs: expect.any(Number),
      traceId: expect.stringMatching(/^trace-/),
    });
    expect(lines[1]).toMatchObject({ msg: "request", status: 400, path: GENERATE, route: "generateContent" });
    const log = stack.logText();
    for (const secret of [GATEWAY_KEY, UPSTREAM_KEY, "a secret prompt", answer.slice(60, 90)]) expect(log).not.toContain(secret);
  });

  test("a session message refused before any model call still gets its line", async () => {
    stack.logLines.length = 0;
    const res = await post(stack, "/v1/sessions/no-such-session/messages", { message: "hello?" });
    expect(res.status).toBe(404);
    await res.text();
    await eventually(() => stack.logLines.some((l) => l["msg"] === "request"));
    expect(stack.logLines.filter((l) => l["msg"] === "request" || l["msg"] === "model call")).toEqual([
      expect.objectContaining({ msg: "request", status: 404, route: "sessionMessage", path: "/v1/sessions/no-such-session/messages" }),
    ]);
  });

  test("a client that leaves in the middle of its body: answered 400 in case it still reads (a half-close), logged, nothing sent upstream", async () => {
    stack.logLines.length = 0;
    const before = (await stack.sim.stats()).requests;
    const socket = connect(Number(new URL(stack.url).port), "127.0.0.1");
    await once(socket, "connect");
    // Expect: 100-continue: node answers "100 Continue" as it hands the request to the gateway, so the client knows
    // the gateway is reading its body when it leaves.
    socket.write(
      `POST ${GENERATE} HTTP/1.1\r\nhost: gateway\r\nx-goog-api-key: ${GATEWAY_KEY}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nexpect: 100-continue\r\n\r\n`,
    );
    const [interim] = (await once(socket, "data")) as [Buffer];
    expect(interim.toString()).toMatch(/^HTTP\/1\.1 100 Continue/);
    socket.write('{"contents":');
    socket.destroy();
    await eventually(() => stack.logLines.some((l) => l["msg"] === "request"));
    expect(stack.logLines.filter((l) => l["msg"] === "request")).toEqual([expect.objectContaining({ status: 400, route: "generateContent" })]);
    expect((await stack.sim.stats()).requests).toBe(before);
  });
});
