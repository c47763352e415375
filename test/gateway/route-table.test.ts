// The route table: what the gateway does with each path of the Gemini API.
import { describe, expect, test } from "vitest";
import { matchRoute, normalizeApiPath, type RouteMatch } from "../../src/gateway/route-table.js";
import { GeminiError } from "../../src/gemini/errors.js";

const match = (method: string, url: string, uploadCommand?: string): RouteMatch | GeminiError | undefined => {
  const [path = "", query = ""] = url.split("?");
  return matchRoute({ method, path, query: new URLSearchParams(query), ...(uploadCommand ? { uploadCommand } : {}) });
};
const route = (method: string, url: string, uploadCommand?: string): RouteMatch => {
  const matched = match(method, url, uploadCommand);
  if (!matched || matched instanceof GeminiError) throw new Error(`${method} ${url}: ${String(matched)}`);
  return matched;
};

describe("route table", () => {
  test("model calls: route, operation, tap, body, stream", () => {
    expect(route("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent")).toMatchObject({
      route: "streamGenerateContent",
      operation: "generate_content",
      apiVersion: "v1beta",
      path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
      tap: "generate",
      body: "json",
      stream: true,
      model: "gemini-2.5-flash",
      errors: "gemini",
      bearerAuth: false,
      ownership: { kind: "public" },
    });
    expect(route("POST", "/v1/models/gemini-2.0-flash:countTokens")).toMatchObject({ route: "countTokens", apiVersion: "v1", tap: "none" });
    expect(route("GET", "/v1alpha/models")).toMatchObject({ route: "listModels", model: "", body: "none" });
    expect(route("GET", "/v1beta/models/gemini-2.5-pro")).toMatchObject({ route: "getModel", model: "gemini-2.5-pro" });
    expect(route("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents")).toMatchObject({ route: "batchEmbedContents", operation: "embeddings", tap: "embeddings" });
    expect(route("POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent")).toMatchObject({ route: "batchGenerateContent", ownership: { kind: "create" } });
    expect(route("POST", "/v1beta/models/veo-3:predictLongRunning")).toMatchObject({ route: "predictLongRunning", ownership: { kind: "create" } });
    expect(route("POST", "/v1beta/models/aqa:generateAnswer")).toMatchObject({ route: "modelMethod", body: "bytes", tap: "none" });
    expect(route("POST", "/v1beta/tunedModels/t1:generateContent")).toMatchObject({
      route: "generateContent",
      model: "tunedModels/t1",
      ownership: { kind: "owned", name: "tunedModels/t1" },
    });
  });

  test("the REST resources: bounded route names, ownership rules, usage taps", () => {
    expect(route("POST", "/v1beta/cachedContents")).toMatchObject({ route: "cachedContents.create", tap: "cached_content", body: "bytes", ownership: { kind: "create" } });
    expect(route("GET", "/v1beta/cachedContents?pageSize=5")).toMatchObject({ route: "cachedContents.list", ownership: { kind: "list" } });
    expect(route("GET", "/v1beta/cachedContents/c1")).toMatchObject({ route: "cachedContents.get", ownership: { kind: "owned", name: "cachedContents/c1", deletes: false } });
    expect(route("PATCH", "/v1beta/cachedContents/c1")).toMatchObject({ route: "cachedContents.update", body: "bytes" });
    expect(route("DELETE", "/v1beta/files/f1")).toMatchObject({ route: "files.delete", body: "none", ownership: { kind: "owned", name: "files/f1", deletes: true } });
    expect(route("GET", "/v1beta/batches/b1")).toMatchObject({ route: "batches.get", tap: "batch" });
    expect(route("POST", "/v1beta/batches/b1:cancel")).toMatchObject({ route: "batches.cancel", ownership: { kind: "owned", name: "batches/b1", deletes: false } });
    expect(route("GET", "/v1beta/models/veo-3/operations/op1")).toMatchObject({ route: "models.operations.get", ownership: { kind: "owned", name: "models/veo-3/operations/op1" } });
    expect(route("GET", "/v1beta/tunedModels/t1/operations/o1")).toMatchObject({ ownership: { kind: "owned", name: "tunedModels/t1" } });
    expect(route("GET", "/v1beta/voices")).toMatchObject({ route: "voices.list", ownership: { kind: "public" } });
    // Unknown collections pass through, counted as `other`, and are owned (the safe default under a shared key).
    expect(route("GET", "/v1beta/somethingNew/x1")).toMatchObject({ route: "other", ownership: { kind: "owned", name: "somethingNew/x1" } });
    expect(route("POST", "/v1beta/files/f1:frobnicate")).toMatchObject({ route: "files.call" });
    expect(route("GET", "/download/v1beta/files/f1:download?alt=media")).toMatchObject({ route: "files.download", ownership: { kind: "owned", name: "files/f1" } });
  });

  test("uploads: a resumable start is read (and retried), its data streamed", () => {
    expect(route("POST", "/upload/v1beta/files", "start")).toMatchObject({ route: "files.upload", body: "bytes", ownership: { kind: "upload_start" } });
    expect(route("POST", "/upload/v1beta/files")).toMatchObject({ route: "files.upload", body: "stream" });
    expect(route("POST", "/upload/v1beta/files?upload_id=u1&upload_protocol=resumable", "upload, finalize")).toMatchObject({
      route: "files.uploadData",
      body: "stream",
      ownership: { kind: "upload_data", uploadId: "u1" },
    });
  });

  test("the OpenAI-compatible endpoint: bearer auth, OpenAI's error shape, the model and stream from the body", () => {
    expect(route("POST", "/v1beta/openai/chat/completions")).toMatchObject({
      route: "openai.chat.completions",
      operation: "chat",
      tap: "chat",
      body: "json",
      stream: "body",
      modelSource: "body",
      errors: "openai",
      bearerAuth: true,
    });
    expect(route("POST", "/v1beta/openai/embeddings")).toMatchObject({ route: "openai.embeddings", operation: "embeddings", tap: "embeddings" });
    expect(route("GET", "/v1beta/openai/models")).toMatchObject({ route: "openai.models.list" });
    expect(route("GET", "/v1beta/openai/models/models/gemini-2.5-flash")).toMatchObject({ route: "openai.models.get", model: "models/gemini-2.5-flash" });
    expect(route("POST", "/v1beta/openai/images/generations")).toMatchObject({ route: "openai.other", errors: "openai" });
  });

  test("paths are normalised; dot segments and encoded separators are refused; other paths are not ours", () => {
    expect(route("POST", "//v1beta//models/gemini-2.5-flash:generateContent").path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(normalizeApiPath("/v1beta/files/%2e%2e/x")).toBeInstanceOf(GeminiError);
    expect((match("GET", "/v1beta/files/..%2Fcached") as GeminiError).code).toBe(400);
    expect((match("POST", "/v1beta/models/..:generateContent") as GeminiError).code).toBe(400);
    expect(match("POST", "/v2/models/x:generateContent")).toBeUndefined();
    expect(match("GET", "/healthz")).toBeUndefined();
    expect(match("GET", "/v1/sessions/abc")).toBeUndefined();
    expect(match("GET", "/v1betax/models")).toBeUndefined();
  });

  test("a model route called with the wrong HTTP method: 405 with Allow", () => {
    const wrong = match("GET", "/v1beta/models/x:generateContent") as GeminiError;
    expect(wrong.code).toBe(405);
    expect(wrong.headers).toEqual({ allow: "POST" });
    expect((match("DELETE", "/v1beta/models") as GeminiError).headers).toEqual({ allow: "GET" });
  });
});
