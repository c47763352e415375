// Hostile input and exposure: bad values answer 400 and never poison a session; bodies are bounded before they are
// read and time out when they stall; /metrics can live on its own listener; only what Gemini needs goes upstream, and
// only what describes the answer comes back; a gone session is nobody else's business; a give-up says how long to wait.

import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { startGateway, type RunningGateway } from "../../src/server/gateway.js";
import { GATEWAY_KEY, post, useStack, userContent, type Stack } from "./stack.js";

let stack: Stack;
useStack((started) => (stack = started), { REQUEST_BODY_TIMEOUT_MS: "300" });

const GENERATE = "/v1beta/models/gemini-2.0-flash:generateContent";
const deep = (levels: number, leaf: string): string => `${"[".repeat(levels)}${leaf}${"]".repeat(levels)}`;

async function session(body: unknown = { model: "gemini-2.0-flash" }): Promise<string> {
  const res = await post(stack, "/v1/sessions", body);
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function errorOf(res: Response): Promise<{ code: number; message: string; status: string }> {
  return ((await res.json()) as { error: { code: number; message: string; status: string } }).error;
}

/** Writes raw bytes and reads the whole answer (the gateway closes the connection, or the timeout fails the test). */
function raw(url: string, request: string, waitMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${waitMs} ms; got: ${answer}`));
    }, waitMs);
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on("error", () => undefined);
    socket.write(request);
  });
}

describe("values the gateway reads are checked, and a session is never poisoned", () => {
  test("a part with text: null is a 400 naming it, in a message and in an imported history; the session stays usable", async () => {
    const id = await session();
    const bad = await post(stack, `/v1/sessions/${id}/messages`, { message: [{ text: null }] });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toBe("message.parts[0]: text must be a string");
    const imported = await post(stack, "/v1/sessions", { model: "gemini-2.0-flash", history: [{ role: "user", parts: [{ text: null }] }] });
    expect(imported.status).toBe(400);
    expect((await errorOf(imported)).message).toBe("history[0].parts[0]: text must be a string");
    const good = await post(stack, `/v1/sessions/${id}/messages`, { message: "still here" });
    expect(good.status).toBe(200);
    expect(((await good.json()) as { turn: number }).turn).toBe(1);
  });

  test("nesting past 100 levels in tools, toolConfig, stopSequences or a message's generationConfig: a 400 naming where", async () => {
    for (const [field, value] of [
      ["tools", `[${deep(5000, "1")}]`],
      ["toolConfig", `{"a":${deep(5000, "1")}}`],
      ["generationConfig", `{"stopSequences":${deep(10000, '"x"')}}`],
    ] as const) {
      const res = await post(stack, "/v1/sessions", `{"model":"gemini-2.0-flash","${field}":${value}}`);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(new RegExp(`^Invalid JSON payload received\\. Nesting deeper than 100 levels at ${field}`));
    }
    const id = await session();
    const res = await post(stack, `/v1/sessions/${id}/messages`, `{"message":"hi","generationConfig":{"stopSequences":${deep(8000, '"x"')}}}`);
    expect(res.status).toBe(400);
    expect((await post(stack, `/v1/sessions/${id}/messages`, { message: "fine" })).status).toBe(200);
  });

  test("a deeply nested body on a proxy route is refused before upstream (which would answer 500 and be retried)", async () => {
    const before = (await stack.sim.stats()).requests;
    const res = await post(stack, GENERATE, `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":${deep(3000, "{}")}}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/Nesting deeper than 100 levels/);
    expect((await stack.sim.stats()).requests).toBe(before);
  });
});

describe("bodies are bounded before they are read, and time out when they stall", () => {
  for (const path of [GENERATE, "/v1/sessions"]) {
    test(`Content-Length 52428800 with no body: 413 at once, connection closed (${path})`, async () => {
      const answer = await raw(stack.url, `POST ${path} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: ${GATEWAY_KEY}\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase()).toContain("connection: close");
      expect(answer).toContain('"status": "INVALID_ARGUMENT"');
    });
  }

  test("a body that stops arriving: 408 after REQUEST_BODY_TIMEOUT_MS of silence", async () => {
    const answer = await raw(stack.url, `POST ${GENERATE} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: ${GATEWAY_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"contents":`);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain("REQUEST_BODY_TIMEOUT_MS");
  });

  test("what Node's parser refuses comes back in Gemini's envelope", async () => {
    const bad = await raw(stack.url, "GE T /v1beta/models HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad).toContain('"status": "INVALID_ARGUMENT"');
    const huge = await raw(stack.url, `GET /v1beta/models HTTP/1.1\r\nHost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    const expect202 = await raw(stack.url, `POST ${GENERATE} HTTP/1.1\r\nHost: x\r\nExpect: 202-accepted\r\ncontent-length: 2\r\n\r\n{}`);
    expect(expect202).toMatch(/^HTTP\/1\.1 417 /);
    expect(expect202).toContain('"code": 417');
  });
});

describe("a gone session is its own tenant's business", () => {
  test("after tenant alpha deletes a session, beta is told it was never found; alpha that it was deleted", async () => {
    const id = await session();
    expect((await fetch(`${stack.url}/v1/sessions/${id}`, { method: "DELETE", headers: { "x-goog-api-key": GATEWAY_KEY } })).status).toBe(204);
    const owner = await fetch(`${stack.url}/v1/sessions/${id}`, { headers: { "x-goog-api-key": GATEWAY_KEY } });
    expect((await errorOf(owner)).message).toBe(`Session ${id} is gone: it was deleted.`);
    const other = await fetch(`${stack.url}/v1/sessions/${id}`, { headers: { "x-goog-api-key": "gw-test-key-beta" } });
    expect(other.status).toBe(404);
    expect((await errorOf(other)).message).toBe(`Session ${id} was not found.`);
  });
});

describe("only what Gemini needs goes upstream; only what describes the answer comes back", () => {
  let recorder: Server;
  let seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const gateways: RunningGateway[] = [];
  const answer = { candidates: [{ content: { role: "model", parts: [{ text: "ok" }] }, finishReason: "STOP", index: 0 }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 } };

  beforeAll(async () => {
    recorder = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "set-cookie": "session=upstream", "x-internal-trace": "abc", "x-goog-upload-status": "final", server: "ESF" });
        res.end(JSON.stringify(answer));
      });
    }).listen(0, "127.0.0.1");
    await new Promise((resolve) => recorder.once("listening", resolve));
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await new Promise((resolve) => recorder.close(resolve));
  });
  const gateway = async (env: Record<string, string>): Promise<RunningGateway> => {
    const base = { PORT: "0", HOST: "127.0.0.1", GEMINI_BASE_URL: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`, LOG_LEVEL: "silent" };
    const started = await startGateway({ gateway: loadGatewayConfig({ ...base, ...env }) }, { turnSink: { record: () => ({}) } });
    gateways.push(started);
    return started;
  };
  const call = (gw: RunningGateway, path: string, key: string) =>
    fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": key, "x-goog-user-project": "someone-elses-project", cookie: "c=1", "x-forwarded-for": "1.2.3.4" },
      body: JSON.stringify(userContent("hi")),
    });

  test("keys mode: the allow-listed query and headers only; never the key, the billing project, access_token, quotaUser, callback", async () => {
    seen = [];
    const gw = await gateway({ GEMINI_API_KEY: "upstream-key", GATEWAY_KEYS: "client-key:team" });
    const res = await call(gw, `${GENERATE}?key=client-key&alt=json&access_token=t&quotaUser=q&callback=cb&userIp=1.1.1.1&prettyPrint=false`, "client-key");
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("x-internal-trace")).toBeNull();
    expect(res.headers.get("server")).toBeNull();
    expect(res.headers.get("x-goog-upload-status")).toBe("final");
    expect(seen[0]!.url).toBe(`${GENERATE}?alt=json&prettyPrint=false`);
    expect(seen[0]!.headers["x-goog-api-key"]).toBe("upstream-key");
    for (const header of ["x-goog-user-project", "cookie", "x-forwarded-for"]) expect(seen[0]!.headers[header]).toBeUndefined();
  });

  test("passthrough mode: the client's own key may pick its billing project", async () => {
    seen = [];
    const gw = await gateway({ GATEWAY_AUTH: "passthrough" });
    expect((await call(gw, GENERATE, "their-own-key")).status).toBe(200);
    expect(seen[0]!.headers).toMatchObject({ "x-goog-api-key": "their-own-key", "x-goog-user-project": "someone-elses-project" });
  });

  test("a field mask is refused where the gateway reads usage, passed where it does not", async () => {
    seen = [];
    const gw = await gateway({ GEMINI_API_KEY: "upstream-key", GATEWAY_KEYS: "client-key:team" });
    const masked = await call(gw, `${GENERATE}?fields=candidates`, "client-key");
    expect(masked.status).toBe(400);
    expect((await errorOf(masked)).message).toMatch(/"fields" field mask is not accepted/);
    const dollar = await call(gw, `${GENERATE}?%24fields=candidates`, "client-key");
    expect(dollar.status).toBe(400);
    expect(seen).toHaveLength(0);
    await (await fetch(`${gw.url}/v1beta/files?fields=files.name`, { headers: { "x-goog-api-key": "client-key" } })).text();
    expect(seen[0]!.url).toBe("/v1beta/files?fields=files.name");
  });
});

describe("/metrics on its own listener", () => {
  test("METRICS_PORT: /metrics only there; the probes on both, or only there with HEALTH_ON_API_PORT=false", async () => {
    const env = { PORT: "0", HOST: "127.0.0.1", GEMINI_BASE_URL: stack.sim.url, GEMINI_API_KEY: "k", GATEWAY_KEYS: "a:alpha", LOG_LEVEL: "silent", METRICS_PORT: "0", METRICS_HOST: "127.0.0.1" };
    for (const healthOnApi of ["true", "false"]) {
      const gw = await startGateway({ gateway: loadGatewayConfig({ ...env, HEALTH_ON_API_PORT: healthOnApi }) });
      try {
        expect(gw.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(gw.metricsUrl).not.toBe(gw.url);
        expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
        const metrics = await fetch(`${gw.metricsUrl}/metrics`);
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toContain("gemini_gateway_requests_total");
        expect((await fetch(`${gw.metricsUrl}/healthz`)).status).toBe(200);
        expect((await fetch(`${gw.url}/healthz`)).status).toBe(healthOnApi === "true" ? 200 : 404);
        expect((await fetch(`${gw.metricsUrl}/v1beta/models`)).status).toBe(404);
      } finally {
        await gw.close();
      }
    }
  });
});

describe("giving up", () => {
  test("an unreachable upstream: 503 with Retry-After, retry-after-ms and a RetryInfo from the backoff", async () => {
    const gw = await startGateway({
      gateway: loadGatewayConfig({
        PORT: "0",
        HOST: "127.0.0.1",
        GEMINI_BASE_URL: "http://127.0.0.1:1",
        GEMINI_API_KEY: "k",
        GATEWAY_KEYS: "a:alpha",
        LOG_LEVEL: "silent",
        RETRY_BASE_MS: "1000",
        RETRY_CAP_MS: "4000",
        RETRY_MAX_ATTEMPTS: "1",
      }),
    });
    try {
      const res = await fetch(`${gw.url}${GENERATE}`, { method: "POST", headers: { "x-goog-api-key": "a" }, body: JSON.stringify(userContent("hi")) });
      expect(res.status).toBe(503);
      // One attempt made: the next backoff would have been base x 2^1 = 2 s.
      expect(res.headers.get("retry-after")).toBe("2");
      expect(res.headers.get("retry-after-ms")).toBe("2000");
      const body = (await res.json()) as { error: { details: Array<Record<string, unknown>> } };
      expect(body.error.details).toEqual([{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "2s" }]);
    } finally {
      await gw.close();
    }
  });
});

describe("the few request values that become labels, span attributes and log fields are bounded", () => {
  test("a model in the body must be a model id; x-gateway-session a short visible string", async () => {
    const chat = (model: unknown) =>
      fetch(`${stack.url}/v1beta/openai/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${GATEWAY_KEY}` },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
      });
    for (const model of ["x".repeat(10_000), "../../etc", 42, null]) {
      const res = await chat(model);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    }
    expect((await chat("models/gemini-2.0-flash")).status).toBe(200);
    const long = await post(stack, GENERATE, userContent("hi"), { "x-gateway-session": "s".repeat(300) });
    expect(long.status).toBe(400);
    expect((await errorOf(long)).message).toMatch(/^x-gateway-session must be up to 256/);
  });
});
