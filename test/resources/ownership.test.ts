// Resource names, the ownership stores (memory, and a real Redis shared by two store clients as two replicas would
// hold), and the guard's rules, without HTTP. The end-to-end isolation through the gateway is in
// test/gateway/surface.test.ts.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, test } from "vitest";
import {
  createdResources,
  filterListed,
  ownedName,
  referencedResources,
  uploadIdOf,
} from "../../src/gemini/resource-names.js";
import { GeminiError } from "../../src/gemini/errors.js";
import { gatewayUploadUrl, publicBase, ResourceGuard } from "../../src/resources/guard.js";
import { ownerStore, type OwnerStore } from "../../src/resources/owner-store.js";
import { parseRedisUrl, type RedisTarget } from "../../src/config/redis-url.js";
import { memoryKeyedStore, redisKeyedStore } from "../../src/store/keyed.js";
import { openRedisConnection } from "../../src/store/redis.js";
import type { TurnRecord } from "../../src/turn/record.js";
import { dropKeys } from "../sessions/harness.js";
import { turn } from "../telemetry/helpers.js";

describe("resource names", () => {
  test("the owned name of a name, a path or a URL; models and catalogs are public", () => {
    expect(ownedName("cachedContents/c1")).toBe("cachedContents/c1");
    expect(ownedName("https://generativelanguage.googleapis.com/v1beta/files/f1")).toBe("files/f1");
    expect(ownedName("/upload/v1beta/files/f1:download")).toBe("files/f1");
    expect(ownedName("tunedModels/t1/operations/o1")).toBe("tunedModels/t1");
    expect(ownedName("models/veo-3/operations/o1")).toBe("models/veo-3/operations/o1");
    expect(ownedName("models/gemini-2.5-flash")).toBeUndefined();
    expect(ownedName("voices/v1")).toBeUndefined();
    expect(ownedName("files")).toBeUndefined();
  });

  test("what a body uses: caches, file URIs and names, wherever they are; a body without any is not parsed", () => {
    const body = {
      cachedContent: "cachedContents/c1",
      contents: [{ parts: [{ fileData: { fileUri: "https://generativelanguage.googleapis.com/v1beta/files/f1" } }] }],
      batch: { input_config: { file_name: "files/f2" } },
      extra_body: { google: { cached_content: "cachedContents/c1" } },
    };
    const raw = Buffer.from(JSON.stringify(body));
    expect(referencedResources(raw).sort()).toEqual(["cachedContents/c1", "files/f1", "files/f2"]);
    expect(referencedResources(raw, body).length).toBe(3);
    expect(referencedResources(Buffer.from('{"contents":[]}'))).toEqual([]);
    expect(referencedResources(Buffer.from('{"cachedContent": '))).toEqual([]);
    // A deeply nested body is walked without recursion.
    const deep = `${"[".repeat(20_000)}{"cachedContent":"cachedContents/deep"}${"]".repeat(20_000)}`;
    expect(referencedResources(Buffer.from(deep))).toEqual(["cachedContents/deep"]);
  });

  test("what a create answer names; a list filtered to what is kept; an upload id", () => {
    expect(createdResources({ name: "cachedContents/c1" })).toEqual(["cachedContents/c1"]);
    expect(createdResources({ file: { name: "files/f1" } })).toEqual(["files/f1"]);
    expect(createdResources({ name: "tunedModels/t1/operations/o1", metadata: { tunedModel: "tunedModels/t1" } })).toEqual(["tunedModels/t1"]);
    expect(createdResources("x")).toEqual([]);
    const list = { cachedContents: [{ name: "cachedContents/a" }, { name: "cachedContents/b" }], nextPageToken: "t" };
    expect(filterListed(list, (n) => n === "cachedContents/b")).toEqual({ cachedContents: [{ name: "cachedContents/b" }], nextPageToken: "t" });
    expect(uploadIdOf("https://host/upload/v1beta/files?upload_id=u-1&upload_protocol=resumable")).toBe("u-1");
  });

  test("the upload URL, pointed back at the gateway as the client reached it", () => {
    const upstream = "https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=u1&upload_protocol=resumable";
    expect(gatewayUploadUrl(upstream, "https://generativelanguage.googleapis.com", "http://gw:8080")).toBe(
      "http://gw:8080/upload/v1beta/files?upload_id=u1&upload_protocol=resumable",
    );
    expect(gatewayUploadUrl("http://proxy/base/upload/v1beta/files?upload_id=u1", "http://proxy/base", "http://gw")).toBe("http://gw/upload/v1beta/files?upload_id=u1");
    expect(publicBase({ host: "gw:8080" })).toBe("http://gw:8080");
    expect(publicBase({ host: "internal", "x-forwarded-proto": "https", "x-forwarded-host": "api.example.com" })).toBe("https://api.example.com");
    expect(publicBase({ host: "internal" }, "https://public.example.com")).toBe("https://public.example.com");
  });
});

const REDIS = "redis://127.0.0.1:6379/11";
const PREFIX = `test-owners-${randomBytes(4).toString("hex")}:`;

async function exerciseStore(one: OwnerStore, two: OwnerStore): Promise<void> {
  await one.claim("files/f1", "alpha");
  expect(await two.owner("files/f1")).toBe("alpha");
  expect(await two.owners(["files/f1", "files/none"])).toEqual(["alpha", undefined]);
  await two.release("files/f1");
  expect(await one.owner("files/f1")).toBeUndefined();
  expect(await one.firstTime("metered/batches/b1")).toBe(true);
  expect(await two.firstTime("metered/batches/b1")).toBe(false);
}

const target = (url: string): RedisTarget => {
  const parsed = parseRedisUrl(url);
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed;
};

describe("ownership stores", () => {
  afterAll(() => dropKeys(REDIS, PREFIX));

  const memoryOwners = async (maxOwners = 100): Promise<OwnerStore> => ownerStore(memoryKeyedStore(), { maxOwners, ttlSeconds: 60 });

  test("memory: claims, releases, first-time marks; bounded", async () => {
    const store = await memoryOwners(2);
    await exerciseStore(store, store);
    for (const name of ["a/1", "a/2", "a/3"]) await store.claim(name, "t");
    expect(await store.owners(["a/1", "a/2", "a/3"])).toEqual([undefined, "t", "t"]);
  });

  test("Redis: two clients (two replicas) see one record", async () => {
    const [one, two] = await Promise.all([openRedisConnection(target(REDIS)), openRedisConnection(target(REDIS))]);
    try {
      const limits = { maxOwners: 10, ttlSeconds: 60 };
      await exerciseStore(ownerStore(redisKeyedStore(one, PREFIX), limits), ownerStore(redisKeyedStore(two, PREFIX), limits));
    } finally {
      await one.close();
      await two.close();
    }
  });

  test("Redis down: a 503 that says what does not work", async () => {
    const failures: string[] = [];
    const down = await openRedisConnection(target("redis://127.0.0.1:1/0"), { onFailure: (concern) => failures.push(concern) });
    try {
      const error = await ownerStore(redisKeyedStore(down, PREFIX), { maxOwners: 10, ttlSeconds: 60 }).owner("files/f1").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GeminiError);
      expect((error as GeminiError).code).toBe(503);
      expect((error as GeminiError).message).toMatch(/resource ownership store is unavailable/);
      expect(failures).toEqual(["resource_owners"]); // gemini_gateway_redis_failures_total{concern}
    } finally {
      await down.close();
    }
  });
});

describe("guard", () => {
  const noPages = async (): Promise<Buffer | undefined> => undefined;
  const guard = async (isolation = true): Promise<ResourceGuard> =>
    new ResourceGuard(ownerStore(memoryKeyedStore(), { maxOwners: 100, ttlSeconds: 60 }), { isolation, upstreamBaseUrl: "http://upstream" });
  const call = (ownership: Parameters<ResourceGuard["admit"]>[0]["ownership"], tenant = "alpha") => ({
    ownership,
    tap: "none" as const,
    tenant,
    clientHeaders: { host: "gw" },
  });

  test("a created resource is its creator's: the other tenant's calls and uses are 404s", async () => {
    const g = await guard();
    const created = g.hook(call({ kind: "create" }))!;
    await created.body!(Buffer.from(JSON.stringify({ name: "cachedContents/c1" })), noPages);
    await g.admit(call({ kind: "owned", name: "cachedContents/c1", deletes: false }));
    const refused = await g.admit(call({ kind: "owned", name: "cachedContents/c1", deletes: false }, "beta")).catch((e: unknown) => e);
    expect((refused as GeminiError).code).toBe(404);
    const use = Buffer.from(JSON.stringify({ cachedContent: "cachedContents/c1", contents: [] }));
    await g.admit(call({ kind: "public" }), use);
    expect(((await g.admit(call({ kind: "public" }, "beta"), use).catch((e: unknown) => e)) as GeminiError).code).toBe(404);
    // Never created through the gateway: nobody's, so nobody's to use.
    expect(((await g.admit(call({ kind: "owned", name: "files/elsewhere", deletes: false })).catch((e: unknown) => e)) as GeminiError).code).toBe(404);
  });

  test("lists keep the caller's items, and a page that keeps none is replaced by the next ones; a delete releases before it is acknowledged", async () => {
    const g = await guard();
    await g.store.claim("files/a", "alpha");
    await g.store.claim("files/b", "beta");
    await g.store.claim("files/d", "alpha");
    const page = (items: string[], next?: string): Buffer => Buffer.from(JSON.stringify({ files: items.map((name) => ({ name })), ...(next ? { nextPageToken: next } : {}) }));
    const list = g.hook(call({ kind: "list" }))!.body!;
    expect(JSON.parse((await list(page(["files/a", "files/b", "files/c"]), noPages)).toString())).toEqual({ files: [{ name: "files/a" }] });
    // Upstream pages: [b] -> [c] -> [d]: the caller (alpha) gets [d] at once, not two empty pages first.
    const later: Record<string, Buffer> = { p2: page(["files/c"], "p3"), p3: page(["files/d"]) };
    const asked: string[] = [];
    const filled = await list(page(["files/b"], "p2"), async (token) => (asked.push(token), later[token]));
    expect(JSON.parse(filled.toString())).toEqual({ files: [{ name: "files/d" }] });
    expect(asked).toEqual(["p2", "p3"]);
    const deleted = g.hook(call({ kind: "owned", name: "files/a", deletes: true }))!;
    await deleted.headers!({});
    expect(await g.store.owner("files/a")).toBeUndefined();
  });

  test("uploads: the URL points at the gateway and the upload is the starter's", async () => {
    const g = await guard();
    const headers: Record<string, string> = { "x-goog-upload-url": "http://upstream/upload/v1beta/files?upload_id=u9&upload_protocol=resumable" };
    await g.hook(call({ kind: "upload_start" }))!.headers!(headers);
    expect(headers["x-goog-upload-url"]).toBe("http://gw/upload/v1beta/files?upload_id=u9&upload_protocol=resumable");
    expect(await g.uploadOwner("u9")).toBe("alpha");
    await g.admit(call({ kind: "upload_data", uploadId: "u9" }));
    expect(((await g.admit(call({ kind: "upload_data", uploadId: "u9" }, "beta")).catch((e: unknown) => e)) as GeminiError).code).toBe(403);
  });

  test("without isolation nothing is refused or filtered, but a batch's results are still metered once", async () => {
    const g = await guard(false);
    await g.admit(call({ kind: "owned", name: "files/x", deletes: false }, "beta"));
    expect(g.hook(call({ kind: "list" }))).toBeUndefined();
    const batch = g.hook({ ...call({ kind: "owned", name: "batches/b1", deletes: false }), tap: "batch" })!;
    const read = (): TurnRecord => ({
      ...turn(),
      response: { finishReasons: [], hasVisibleParts: false, tokens: { input: 5, cached: 0, output: 1, thoughts: 0, tool_use: 0, inputAudio: 0 } },
    });
    const first = read();
    const second = read();
    await batch.settle!(first);
    await batch.settle!(second);
    expect(first.response?.tokens?.input).toBe(5);
    expect(second.response?.tokens).toBeUndefined();
  });
});
