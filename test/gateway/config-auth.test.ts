import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { hashApiKey, loadGatewayConfig } from "../../src/config/gateway.js";
import { ConfigError } from "../../src/config/source.js";
import { Authenticator, passthroughTenant } from "../../src/gateway/auth.js";
import { GeminiError } from "../../src/gemini/errors.js";
import { parseJsonBody, queryOf } from "../../src/routes/request.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "../../src/upstream/headers.js";

const problemsOf = (env: Record<string, string>, argv: string[] = []): string[] => {
  try {
    loadGatewayConfig(env, argv);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("gateway config", () => {
  const dir = mkdtempSync(join(tmpdir(), "gw-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("defaults", () => {
    const config = loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_KEYS: "k1:alpha" });
    expect(config).toMatchObject({
      port: 8080,
      upstream: { baseUrl: "https://generativelanguage.googleapis.com", apiKey: "up" },
      auth: { mode: "keys" },
      retry: { baseMs: 500, capMs: 60_000, maxAttempts: 4 },
      retryBudget: { ratio: 0.2 },
      requestDeadlineMs: 120_000,
      maxBodyBytes: 20 * 1024 * 1024,
      logLevel: "info",
    });
  });

  test("flags override the environment, both --x v and --x=v; GOOGLE_API_KEY is an alias", () => {
    const config = loadGatewayConfig({ PORT: "1", GOOGLE_API_KEY: "g", GATEWAY_AUTH: "none" }, ["--port", "9000", "--retry-max-attempts=2"]);
    expect(config.port).toBe(9000);
    expect(config.retry.maxAttempts).toBe(2);
    expect(config.upstream.apiKey).toBe("g");
  });

  test("keys hold only hashes", () => {
    const config = loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_KEYS: "secret-1:alpha, secret-2:beta" });
    expect(config.auth).toEqual({
      mode: "keys",
      keys: [
        { hash: hashApiKey("secret-1"), tenant: "alpha" },
        { hash: hashApiKey("secret-2"), tenant: "beta" },
      ],
    });
    expect(JSON.stringify(config)).not.toContain("secret-1");
  });

  test("a key file, with comments", () => {
    const file = join(dir, "keys");
    writeFileSync(file, "# tenants\nfile-key-1:alpha\n\nfile-key-2:beta\n");
    const config = loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_KEYS: file });
    expect(config.auth.mode === "keys" && config.auth.keys.map((k) => k.tenant)).toEqual(["alpha", "beta"]);
  });

  test("one clear line per problem, all at once", () => {
    const problems = problemsOf({ PORT: "http", RETRY_BUDGET_RATIO: "2", GATEWAY_AUTH: "open", LOG_LEVEL: "loud" }, ["--bogus", "1"]);
    expect(problems).toHaveLength(5);
    expect(problems.join("\n")).toMatch(/--bogus: unknown option/);
    expect(problems.join("\n")).toMatch(/PORT \(--port\): must be a number \(got "http"\)/);
    expect(problems.join("\n")).toMatch(/RETRY_BUDGET_RATIO.*between 0 and 1/);
    expect(problems.join("\n")).toMatch(/GATEWAY_AUTH.*keys, passthrough or none/);
    expect(new ConfigError(problems).message.split("\n")).toHaveLength(6);
  });

  test("an upstream key without client auth refuses to start, saying how to fix it", () => {
    const [problem] = problemsOf({ GEMINI_API_KEY: "up" });
    expect(problem).toMatch(/GATEWAY_KEYS=.*GATEWAY_AUTH=passthrough.*GATEWAY_AUTH=none/);
    expect(loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_AUTH: "none" }).auth).toEqual({ mode: "none" });
    expect(loadGatewayConfig({}).auth).toEqual({ mode: "passthrough" });
  });

  test("an invalid setting does not hide an auth problem: both are reported in one run", () => {
    expect(problemsOf({ PORT: "abc", GEMINI_API_KEY: "up" })).toEqual([
      expect.stringMatching(/^PORT \(--port\): must be a number/),
      expect.stringMatching(/^GATEWAY_KEYS: an upstream key is set but no client auth/),
    ]);
  });

  test("auth problems", () => {
    expect(problemsOf({ GATEWAY_KEYS: "k:alpha" })).toEqual([expect.stringMatching(/GEMINI_API_KEY: GATEWAY_AUTH=keys needs the upstream key/)]);
    expect(problemsOf({ GEMINI_API_KEY: "up", GATEWAY_KEYS: "k:bad tenant!" })[0]).toMatch(/entry 1 .* key:tenant/);
    expect(problemsOf({ GEMINI_API_KEY: "up", GATEWAY_KEYS: join(dir, "missing") })[0]).toMatch(/cannot read the key file .*ENOENT/);
    expect(problemsOf({ GEMINI_API_KEY: "up", GATEWAY_AUTH: "keys" })[0]).toMatch(/GATEWAY_KEYS: GATEWAY_AUTH=keys needs/);
    expect(problemsOf({ GEMINI_BASE_URL: "ftp://x" })[0]).toMatch(/GEMINI_BASE_URL.*http\(s\) URL/);
  });
});

describe("auth", () => {
  const keys = loadGatewayConfig({ GEMINI_API_KEY: "up", GATEWAY_KEYS: "k1:alpha,k2:beta" });
  const auth = new Authenticator(keys.auth, "up");
  const noQuery = new URLSearchParams();

  test("gateway keys by header or ?key=, replaced by the upstream key", () => {
    expect(auth.authenticate({ "x-goog-api-key": "k2" }, noQuery)).toEqual({ tenant: "beta", upstreamKey: "up" });
    expect(auth.authenticate({}, new URLSearchParams("key=k1"))).toEqual({ tenant: "alpha", upstreamKey: "up" });
  });

  test("no key 403, wrong key 400 API_KEY_INVALID", () => {
    const missing = auth.authenticate({}, noQuery);
    expect(missing).toBeInstanceOf(GeminiError);
    expect((missing as GeminiError).code).toBe(403);
    const wrong = auth.authenticate({ "x-goog-api-key": "k3" }, noQuery) as GeminiError;
    expect(wrong.toEnvelope().error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT", details: [{ reason: "API_KEY_INVALID" }] });
  });

  test("passthrough forwards the client's key, tenant from its hash; none is open", () => {
    const passthrough = new Authenticator({ mode: "passthrough" }, undefined);
    expect(passthrough.authenticate({ "x-goog-api-key": "client-key" }, noQuery)).toEqual({
      tenant: passthroughTenant("client-key"),
      upstreamKey: "client-key",
      clientsOwnKey: true,
    });
    expect(passthroughTenant("client-key")).toMatch(/^key-[0-9a-f]{12}$/);
    expect((passthrough.authenticate({}, noQuery) as GeminiError).code).toBe(403);
    expect(new Authenticator({ mode: "none" }, "up").authenticate({}, noQuery)).toEqual({ tenant: "anonymous", upstreamKey: "up" });
  });
});

describe("request reading", () => {
  test("query and body", () => {
    expect(queryOf("/v1beta/models/x:streamGenerateContent?alt=sse&key=k").get("alt")).toBe("sse");
    expect(parseJsonBody(Buffer.from('{"contents": []}'))).toEqual({ request: { contents: [] } });
    const bad = parseJsonBody(Buffer.from("{nope")) as { error: GeminiError };
    expect(bad.error.code).toBe(400);
    expect(bad.error.message).toMatch(/^Invalid JSON payload received\./);
  });
});

describe("headers", () => {
  test("upstream: an allow-list, the key replaced, never the gateway key", () => {
    const headers = upstreamRequestHeaders(
      { "x-goog-api-key": "gateway-key", "content-type": "application/json", "x-goog-api-client": "genai-js/0.24.1", cookie: "c", "accept-encoding": "gzip", "x-gateway-session": "s" },
      "upstream-key",
    );
    expect(headers).toEqual({ "content-type": "application/json", "x-goog-api-client": "genai-js/0.24.1", "x-goog-api-key": "upstream-key" });
  });

  test("upstream: OpenAI's bearer form; a streamed body keeps the client's length; the upload protocol's headers", () => {
    const client = {
      authorization: "Bearer gateway-key",
      "content-length": "12",
      "x-goog-upload-command": "upload, finalize",
      "x-goog-upload-offset": "0",
    };
    expect(upstreamRequestHeaders(client, "upstream-key", { bearer: true })).toEqual({
      authorization: "Bearer upstream-key",
      "x-goog-upload-command": "upload, finalize",
      "x-goog-upload-offset": "0",
    });
    expect(upstreamRequestHeaders(client, "upstream-key", { streamedBody: true })).toMatchObject({ "content-length": "12", "x-goog-api-key": "upstream-key" });
  });

  test("downstream: everything but hop-by-hop", () => {
    expect(clientResponseHeaders({ "content-type": "text/event-stream", connection: "keep-alive", "transfer-encoding": "chunked", vary: ["Origin", "X-Origin"] })).toEqual({
      "content-type": "text/event-stream",
      vary: "Origin, X-Origin",
    });
  });
});
