// Tenant isolation end to end: two tenants (alpha, beta) on the gateway's one upstream key, the official clients
// unmodified but for base URL and key. Each tenant sees only its own caches, files and batches; the other's names
// answer 404 and never reach the simulator; a resumable upload's URL points back at the gateway and its key-less data
// is the starter's; a batch's results are metered once, at the batch price; every call is counted under its route
// with the status the client got. Then two replicas sharing ownership through Redis, and RESOURCE_ISOLATION=off.

import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { ApiError, GoogleGenAI, JobState, type BatchJob, type CachedContent, type Pager } from "@google/genai";
import { Redis } from "ioredis";
import { NotFoundError, type OpenAI } from "openai";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { TokenUsage } from "../../src/gemini/usage.js";
import { loadConfig } from "../../src/server/config.js";
import { startGateway, type RunningGateway } from "../../src/server/gateway.js";
import { loadPriceTable, turnCost } from "../../src/pricing/price-table.js";
import { delta, scrapeMetrics, sumBy, tally, type Series } from "../helpers/metrics.js";
import type { TestSimulator } from "../helpers/sim.js";
import { dropKeys } from "../sessions/harness.js";
import { KEY_ALPHA, KEY_BETA, startSurfaceStack, UPSTREAM_KEY, useSurfaceStack, type SurfaceStack } from "./surface-stack.js";

let stack: SurfaceStack;
useSurfaceStack((started) => (stack = started));
afterEach(() => {
  expect(stack.errors).toEqual([]);
});

const MODEL = "gemini-2.5-flash";
const prices = loadPriceTable();
type Tenant = "alpha" | "beta";
const TENANT_OF: Record<string, Tenant> = { [KEY_ALPHA]: "alpha", [KEY_BETA]: "beta" };

const client = (baseUrl: string, apiKey: string): GoogleGenAI => new GoogleGenAI({ apiKey, httpOptions: { baseUrl } });
/** The simulator itself, with the gateway's upstream key: everything Google holds under that one key. */
const upstream = (sim: TestSimulator): GoogleGenAI => client(sim.url, UPSTREAM_KEY);

/** About `tokens` tokens for the simulator's tokenizer (a short word is one token): above flash's 1024 minimum. */
const longText = (tokens: number, topic: string): string => Array.from({ length: tokens }, (_, i) => `${topic}${i % 100}`).join(" ");

function createCache(ai: GoogleGenAI, topic: string): Promise<CachedContent> {
  return ai.caches.create({
    model: MODEL,
    config: { contents: [{ role: "user", parts: [{ text: longText(1100, topic) }] }], displayName: `${topic}-doc`, ttl: "300s" },
  });
}

/** Every item a pager yields, following nextPageToken as the SDK does (an item may be undefined: see the paging tests). */
async function collect<T>(pager: Promise<Pager<T>>): Promise<Array<T | undefined>> {
  const items: Array<T | undefined> = [];
  for await (const item of await pager) items.push(item);
  return items;
}

async function names<T extends { name?: string }>(pager: Promise<Pager<T>>): Promise<string[]> {
  return (await collect(pager)).map((item) => item?.name ?? "<undefined item>");
}

/** Who made what, as this file made it: a list through the gateway must be the upstream's list cut down to these. */
const owners = new Map<string, Tenant>();
function own<T extends { name?: string }>(key: string, resource: T): T {
  owners.set(resource.name!, TENANT_OF[key]!);
  return resource;
}
const ownedBy = (tenant: Tenant, listed: string[]): string[] => listed.filter((name) => owners.get(name) === tenant);
const sorted = (list: string[]): string[] => [...list].sort();

interface ErrorEnvelope {
  error: { code: number; message: string; status: string };
}

async function apiError(promise: Promise<unknown>): Promise<{ status: number; body: ErrorEnvelope }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  const { status, message } = error as ApiError;
  return { status, body: JSON.parse(message) as ErrorEnvelope };
}

/** The gateway's answer for another tenant's resource: the 404 of a name that does not exist. */
async function expectNotFound(promise: Promise<unknown>, name: string): Promise<void> {
  const { status, body } = await apiError(promise);
  expect(status).toBe(404);
  expect(body.error).toEqual({ code: 404, status: "NOT_FOUND", message: `Requested entity was not found: ${name}.` });
}

/** Runs `work` and checks that not one request of it reached the simulator. */
async function unreached(sim: TestSimulator, work: () => Promise<void>): Promise<void> {
  const before = await sim.stats();
  await work();
  const after = await sim.stats();
  expect(after.requests - before.requests).toBe(0);
}

interface Gained {
  /** `route|code` */
  requests: Series;
  /** `model|tenant|type` */
  tokens: Series;
  /** `model|tenant` */
  cost: Series;
}

function series(body: string): Gained {
  return {
    requests: sumBy(body, "gemini_gateway_requests_total", ["route", "code"]),
    tokens: sumBy(body, "gemini_gateway_tokens_total", ["model", "tenant", "type"]),
    cost: sumBy(body, "gemini_gateway_cost_usd_total", ["model", "tenant"]),
  };
}

/**
 * What a gateway's counters gained while `work` ran; `requests` (`route|code`, one per call) must be exactly what
 * was counted. A call is recorded once its answer has been written, so the counters are read again until that many
 * calls are in (a bounded number of reads; no clock is asserted on).
 */
async function counted(metricsOf: () => Promise<string>, requests: string[], work: () => Promise<void>): Promise<Gained> {
  const before = series(await metricsOf());
  await work();
  let gained: Gained;
  for (let reads = 0; ; reads++) {
    const after = series(await metricsOf());
    gained = { requests: delta(before.requests, after.requests), tokens: delta(before.tokens, after.tokens), cost: delta(before.cost, after.cost) };
    const calls = [...gained.requests.values()].reduce((a, b) => a + b, 0);
    if (calls >= requests.length || reads >= 100) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(gained.requests).toEqual(tally(requests));
  return gained;
}

const onMain = (requests: string[], work: () => Promise<void>): Promise<Gained> => counted(() => stack.metrics(), requests, work);
const times = (n: number, key: string): string[] => Array<string>(n).fill(key);

/** Starts a resumable upload by hand, as the SDK does; the answer's headers carry the upload URL. */
function startUpload(base: string, key: string, displayName: string, size: number): Promise<Response> {
  return fetch(`${base}/upload/v1beta/files`, {
    method: "POST",
    headers: {
      "x-goog-api-key": key,
      "content-type": "application/json",
      "x-goog-upload-protocol": "resumable",
      "x-goog-upload-command": "start",
      "x-goog-upload-header-content-length": String(size),
      "x-goog-upload-header-content-type": "text/plain",
    },
    body: JSON.stringify({ file: { displayName } }),
  });
}

/** The whole file in one `upload, finalize` command, with a key or (the upload URL being the credential) none. */
function sendData(uploadUrl: string, data: string, key?: string): Promise<Response> {
  return fetch(uploadUrl, {
    method: "POST",
    headers: { "x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0", ...(key ? { "x-goog-api-key": key } : {}) },
    body: data,
  });
}

const download = (base: string, name: string, key: string): Promise<Response> =>
  fetch(`${base}/download/v1beta/${name}:download?alt=media`, { headers: { "x-goog-api-key": key } });

interface UploadedFile {
  name: string;
  displayName: string;
  sizeBytes: string;
  mimeType: string;
  uri: string;
}

/** A finished batch's inlined responses summed as docs/telemetry.md counts them: input = prompt - cached, cached,
 *  output = candidates, thoughts, tool_use (text only: no audio). */
function batchTokens(job: BatchJob): TokenUsage {
  const results = job.dest?.inlinedResponses ?? [];
  expect(results.length).toBeGreaterThan(0);
  const sum: TokenUsage = { input: 0, cached: 0, output: 0, thoughts: 0, tool_use: 0, inputAudio: 0 };
  for (const result of results) {
    const usage = result.response?.usageMetadata;
    expect(usage?.promptTokenCount).toBeGreaterThan(0);
    const prompt = usage?.promptTokenCount ?? 0;
    const cached = usage?.cachedContentTokenCount ?? 0;
    sum.input += prompt - cached;
    sum.cached += cached;
    sum.output += usage?.candidatesTokenCount ?? 0;
    sum.thoughts += usage?.thoughtsTokenCount ?? 0;
    sum.tool_use += usage?.toolUsePromptTokenCount ?? 0;
  }
  return sum;
}

/** The token series a batch adds for a tenant (kinds at zero are absent, as in `delta`). */
function tokenSeries(tokens: TokenUsage, tenant: Tenant): Series {
  const out: Series = new Map();
  for (const type of ["input", "cached", "output", "thoughts", "tool_use"] as const) if (tokens[type] > 0) out.set(`${MODEL}|${tenant}|${type}`, tokens[type]);
  return out;
}

const batchRequests = (topic: string) => [
  { contents: [{ role: "user", parts: [{ text: `First question about ${topic}` }] }], metadata: { key: "one" } },
  { contents: [{ role: "user", parts: [{ text: `Second question about ${topic}` }] }], config: { maxOutputTokens: 5, thinkingConfig: { thinkingBudget: 0 } } },
];

/** Polls a batch (as a client does) until it is done; the states it went through. */
async function pollUntilDone(ai: GoogleGenAI, name: string): Promise<{ job: BatchJob; states: Array<JobState | undefined> }> {
  const states: Array<JobState | undefined> = [];
  let job: BatchJob | undefined;
  for (let polls = 0; polls < 5 && job?.state !== JobState.JOB_STATE_SUCCEEDED; polls++) {
    job = await ai.batches.get({ name });
    states.push(job.state);
  }
  return { job: job!, states };
}

describe("context caches", () => {
  test("each tenant lists only its own; the other's get, update and delete are 404s that never reach the simulator", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const expected = [
      ...times(2, "cachedContents.create|200"),
      ...times(2, "cachedContents.list|200"),
      ...times(2, "cachedContents.get|404"),
      "cachedContents.update|404",
      "cachedContents.delete|404",
      "cachedContents.get|200",
    ];
    await onMain(expected, async () => {
      const mine = own(KEY_ALPHA, await createCache(alpha, "alpha"));
      const theirs = own(KEY_BETA, await createCache(beta, "beta"));
      const held = await names(upstream(stack.sim).caches.list());
      expect(held).toEqual(expect.arrayContaining([mine.name, theirs.name]));
      const alphaSees = await names(alpha.caches.list());
      const betaSees = await names(beta.caches.list());
      expect(alphaSees).toContain(mine.name);
      expect(betaSees).toContain(theirs.name);
      expect(sorted(alphaSees)).toEqual(sorted(ownedBy("alpha", held)));
      expect(sorted(betaSees)).toEqual(sorted(ownedBy("beta", held)));

      const name = mine.name!;
      await unreached(stack.sim, async () => {
        await expectNotFound(beta.caches.get({ name }), name);
        await expectNotFound(beta.caches.update({ name, config: { ttl: "1s" } }), name);
        await expectNotFound(beta.caches.delete({ name }), name);
        // The same answer as for a name that never existed: nothing tells beta that alpha's is there.
        await expectNotFound(beta.caches.get({ name: "cachedContents/neverexisted0" }), "cachedContents/neverexisted0");
      });
      // Untouched: the same expiry (the update did not happen), still there (nor did the delete).
      expect(await alpha.caches.get({ name })).toMatchObject({ name, expireTime: mine.expireTime, usageMetadata: mine.usageMetadata });
    });
  });

  test("a generate naming the other's cache is a 404 before the simulator (native and OpenAI-compatible); the owner's reports cachedContentTokenCount; deleted, it is a 404 for its owner too", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const mine = own(KEY_ALPHA, await createCache(alpha, "gamma"));
    const name = mine.name!;
    const cachedTokens = mine.usageMetadata?.totalTokenCount ?? 0;
    expect(cachedTokens).toBeGreaterThanOrEqual(1100);

    const refused = await onMain(["generateContent|404", "openai.chat.completions|404"], () =>
      unreached(stack.sim, async () => {
        await expectNotFound(beta.models.generateContent({ model: MODEL, contents: "What does it say?", config: { cachedContent: name } }), name);
        // Gemini's OpenAI-compatible endpoint takes the cache in extra_body.google.cached_content.
        const params: OpenAI.ChatCompletionCreateParamsNonStreaming & { extra_body: { google: { cached_content: string } } } = {
          model: MODEL,
          messages: [{ role: "user", content: "What does it say?" }],
          extra_body: { google: { cached_content: name } },
        };
        const error = await stack.openai(KEY_BETA).chat.completions.create(params).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(NotFoundError);
        expect((error as NotFoundError).status).toBe(404);
      }),
    );
    expect(refused.tokens).toEqual(new Map());
    expect(refused.cost).toEqual(new Map());

    const before = await stack.sim.stats();
    let cachedSeen: number | undefined;
    const used = await onMain(["generateContent|200"], async () => {
      const response = await alpha.models.generateContent({ model: MODEL, contents: "What does it say?", config: { cachedContent: name } });
      cachedSeen = response.usageMetadata?.cachedContentTokenCount;
      expect(response.text).toMatch(/^\[context: 2 contents; first user message: "gamma0 gamma1/);
    });
    expect(cachedSeen).toBe(cachedTokens);
    expect((await stack.sim.stats()).byMethod.generateContent - before.byMethod.generateContent).toBe(1);
    expect(used.tokens.get(`${MODEL}|alpha|cached`)).toBe(cachedTokens);
    expect([...used.tokens.keys()].every((k) => k.startsWith(`${MODEL}|alpha|`))).toBe(true);

    await onMain(["cachedContents.delete|200", "cachedContents.get|404", "generateContent|404"], async () => {
      await alpha.caches.delete({ name });
      owners.delete(name);
      await unreached(stack.sim, async () => {
        await expectNotFound(alpha.caches.get({ name }), name);
        await expectNotFound(alpha.models.generateContent({ model: MODEL, contents: "Still there?", config: { cachedContent: name } }), name);
      });
    });
  });

  test("paged (pageSize 1) on the wire: every page holds only the caller's own; following nextPageToken gives them all", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    // Interleaved upstream: alpha's, beta's, alpha's. With one item per upstream page, beta's page reaches alpha empty.
    const first = own(KEY_ALPHA, await createCache(alpha, "delta"));
    own(KEY_BETA, await createCache(beta, "epsilon"));
    const last = own(KEY_ALPHA, await createCache(alpha, "zeta"));
    const held = await names(upstream(stack.sim).caches.list());
    const pages: Array<{ cachedContents?: Array<{ name: string }>; nextPageToken?: string }> = [];
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ pageSize: "1", ...(token ? { pageToken: token } : {}) });
      const res = await fetch(`${stack.url}/v1beta/cachedContents?${query}`, { headers: { "x-goog-api-key": KEY_ALPHA } });
      expect(res.status).toBe(200);
      pages.push((await res.json()) as (typeof pages)[number]);
      token = pages.at(-1)!.nextPageToken;
    } while (token && pages.length < 100);
    const listed = pages.flatMap((page) => (page.cachedContents ?? []).map((c) => c.name));
    expect(listed).toEqual(ownedBy("alpha", held));
    expect(listed).toEqual(expect.arrayContaining([first.name, last.name]));
    // A page the filter empties is replaced by the next pages: no empty page comes before the end.
    expect(pages.some((page) => (page.cachedContents ?? []).length === 0 && page.nextPageToken)).toBe(false);
  });

  // @google/genai's Pager yields `undefined` for an empty page after the first one: the gateway must not send one.
  test("paged (pageSize 1) through the SDK's Pager: it yields exactly the caller's own, nothing undefined", async () => {
    const held = await names(upstream(stack.sim).caches.list());
    const paged = await names(stack.genai(KEY_ALPHA).caches.list({ config: { pageSize: 1 } }));
    expect(paged).toEqual(ownedBy("alpha", held));
  });
});

describe("files", () => {
  test("files.upload per tenant; lists per tenant; the other's get, delete, download and fileData use are 404s that never reach the simulator", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const expected = [
      ...times(2, "files.upload|200"),
      ...times(2, "files.uploadData|200"),
      ...times(2, "files.list|200"),
      "files.get|404",
      "files.delete|404",
      "files.download|404",
      "generateContent|404",
      "generateContent|200",
      "files.get|200",
      "files.download|200",
    ];
    await onMain(expected, async () => {
      const text = "alpha's private notes";
      const mine = own(KEY_ALPHA, await alpha.files.upload({ file: new Blob([text], { type: "text/plain" }), config: { displayName: "alpha-notes" } }));
      const theirs = own(KEY_BETA, await beta.files.upload({ file: new Blob(["beta's private notes"], { type: "text/plain" }), config: { displayName: "beta-notes" } }));
      expect(mine).toMatchObject({ displayName: "alpha-notes", state: "ACTIVE" });
      const held = await names(upstream(stack.sim).files.list({ config: { pageSize: 100 } }));
      expect(held).toEqual(expect.arrayContaining([mine.name, theirs.name]));
      const alphaSees = await names(alpha.files.list({ config: { pageSize: 100 } }));
      const betaSees = await names(beta.files.list({ config: { pageSize: 100 } }));
      expect(sorted(alphaSees)).toEqual(sorted(ownedBy("alpha", held)));
      expect(sorted(betaSees)).toEqual(sorted(ownedBy("beta", held)));
      expect(alphaSees).toContain(mine.name);
      expect(alphaSees).not.toContain(theirs.name);

      const name = mine.name!;
      const withFile = (uri: string) => ({
        model: MODEL,
        contents: [{ role: "user", parts: [{ fileData: { fileUri: uri, mimeType: "text/plain" } }, { text: "Summarise it" }] }],
      });
      await unreached(stack.sim, async () => {
        await expectNotFound(beta.files.get({ name }), name);
        await expectNotFound(beta.files.delete({ name }), name);
        const stolen = await download(stack.url, name, KEY_BETA);
        expect(stolen.status).toBe(404);
        expect(((await stolen.json()) as ErrorEnvelope).error).toEqual({ code: 404, status: "NOT_FOUND", message: `Requested entity was not found: ${name}.` });
        await expectNotFound(beta.models.generateContent(withFile(mine.uri!)), name);
      });
      const response = await alpha.models.generateContent(withFile(mine.uri!));
      expect(response.usageMetadata?.promptTokensDetails).toContainEqual({ modality: "DOCUMENT", tokenCount: 258 });
      expect(await alpha.files.get({ name })).toEqual(mine);
      const mineBack = await download(stack.url, name, KEY_ALPHA);
      expect(await mineBack.text()).toBe(text);
    });
  });

  test("the resumable upload by hand: the upload URL is the gateway's; key-less data lands as the starter's file; the other tenant's key is a 403 that reaches nothing", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const data = "uploaded by hand, in one piece";
    const expected = ["files.upload|200", "files.uploadData|403", "files.uploadData|200", ...times(2, "files.list|200"), "files.get|200", "files.get|404"];
    await onMain(expected, async () => {
      const start = await startUpload(stack.url, KEY_ALPHA, "by-hand", Buffer.byteLength(data));
      expect(start.status).toBe(200);
      expect(start.headers.get("x-goog-upload-status")).toBe("active");
      const uploadUrl = start.headers.get("x-goog-upload-url") ?? "";
      expect(uploadUrl).toMatch(/\?upload_id=[^&]+&upload_protocol=resumable$/);
      expect(uploadUrl.startsWith(`${stack.url}/upload/v1beta/files?upload_id=`)).toBe(true);
      expect(uploadUrl).not.toContain(new URL(stack.sim.url).host);

      await unreached(stack.sim, async () => {
        const foreign = await sendData(uploadUrl, data, KEY_BETA);
        expect(foreign.status).toBe(403);
        expect(((await foreign.json()) as ErrorEnvelope).error).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
      });

      // The refused attempt left the upload as it was: the starter's data, sent with no key at all, completes it.
      const done = await sendData(uploadUrl, data);
      expect(done.status).toBe(200);
      expect(done.headers.get("x-goog-upload-status")).toBe("final");
      const { file } = (await done.json()) as { file: UploadedFile };
      own(KEY_ALPHA, file);
      expect(file).toMatchObject({ displayName: "by-hand", sizeBytes: String(Buffer.byteLength(data)), mimeType: "text/plain" });

      expect(await names(alpha.files.list({ config: { pageSize: 100 } }))).toContain(file.name);
      expect(await names(beta.files.list({ config: { pageSize: 100 } }))).not.toContain(file.name);
      expect((await alpha.files.get({ name: file.name })).name).toBe(file.name);
      await expectNotFound(beta.files.get({ name: file.name }), file.name);
    });
  });

  // The start's answer also carries `x-goog-upload-control-url` (as Google's resumable protocol does): a client that
  // uses it (query, cancel, resume) must come through the gateway too, and never learn the upstream's address.
  test("no header of the start's answer points at the upstream (x-goog-upload-control-url included)", async () => {
    const start = await startUpload(stack.url, KEY_ALPHA, "control", 4);
    const upstreamHost = new URL(stack.sim.url).host;
    const pointingUpstream = [...start.headers.entries()].filter(([, value]) => value.includes(upstreamHost)).map(([header]) => header);
    expect(pointingUpstream).toEqual([]);
  });
});

describe("batches", () => {
  test("the other's get, cancel and delete are 404s that do not move the batch on; lists are per tenant; the results are metered once, at the batch price", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const expected = [
      ...times(2, "batchGenerateContent|200"),
      "batches.get|404",
      "batches.cancel|404",
      "batches.delete|404",
      ...times(2, "batches.list|200"),
      ...times(3, "batches.get|200"),
    ];
    const whole = await onMain(expected, async () => {
      const mine = own(KEY_ALPHA, await alpha.batches.create({ model: MODEL, src: batchRequests("alpha"), config: { displayName: "alpha-nightly" } }));
      const theirs = own(KEY_BETA, await beta.batches.create({ model: MODEL, src: batchRequests("beta"), config: { displayName: "beta-nightly" } }));
      const name = mine.name!;
      expect(mine.state).toBe(JobState.JOB_STATE_PENDING);

      await unreached(stack.sim, async () => {
        await expectNotFound(beta.batches.get({ name }), name);
        await expectNotFound(beta.batches.cancel({ name }), name);
        await expectNotFound(beta.batches.delete({ name }), name);
      });

      const held = await names(upstream(stack.sim).batches.list());
      expect(held).toEqual(expect.arrayContaining([mine.name, theirs.name]));
      const alphaSees = await names(alpha.batches.list());
      const betaSees = await names(beta.batches.list());
      expect(sorted(alphaSees)).toEqual(sorted(ownedBy("alpha", held)));
      expect(sorted(betaSees)).toEqual(sorted(ownedBy("beta", held)));
      expect(alphaSees).toContain(mine.name);
      expect(betaSees).not.toContain(mine.name);

      // Beta's calls never reached the simulator, so the batch moves on by alpha's GETs alone: running, then done
      // (the simulator finishes a batch on its second GET).
      let polledJob: BatchJob | undefined;
      let states: Array<JobState | undefined> = [];
      const simBefore = await stack.sim.stats();
      const polled = await onMain(times(2, "batches.get|200"), async () => {
        ({ job: polledJob, states } = await pollUntilDone(alpha, name));
      });
      const simAfter = await stack.sim.stats();
      expect(states).toEqual([JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
      const tokens = batchTokens(polledJob!);
      expect(polled.tokens).toEqual(tokenSeries(tokens, "alpha"));
      // The very tokens the simulator counted when the batch finished.
      expect(simAfter.tokens.total - simBefore.tokens.total).toBe(tokens.input + tokens.cached + tokens.output + tokens.thoughts + tokens.tool_use);
      // The batch price: the standard price of those tokens times the table's batchMultiplier (a half).
      const price = prices.models[MODEL]!;
      const batchCost = turnCost(prices, price, tokens, "batch");
      expect(prices.batchMultiplier).toBe(0.5);
      expect(batchCost).toBeCloseTo(prices.batchMultiplier! * turnCost(prices, price, tokens, "standard"), 15);
      expect([...polled.cost.keys()]).toEqual([`${MODEL}|alpha`]);
      expect(polled.cost.get(`${MODEL}|alpha`)).toBeCloseTo(batchCost, 12);

      // Once: a further read of the finished batch adds nothing.
      const again = await onMain(["batches.get|200"], async () => {
        expect((await alpha.batches.get({ name })).state).toBe(JobState.JOB_STATE_SUCCEEDED);
      });
      expect(again.tokens).toEqual(new Map());
      expect(again.cost).toEqual(new Map());
    });
    // Over the whole test only alpha's batch was metered (beta's was never read).
    expect([...whole.tokens.keys()].every((k) => k.startsWith(`${MODEL}|alpha|`))).toBe(true);
  });

  let resultsFile: string | undefined;

  test("a file batch: the other tenant's batch naming the owner's input file is a 404 that reaches nothing", async () => {
    const alpha = stack.genai(KEY_ALPHA);
    const beta = stack.genai(KEY_BETA);
    const lines = [
      JSON.stringify({ key: "a", request: { contents: [{ parts: [{ text: "first line" }] }] } }),
      JSON.stringify({ key: "b", request: { contents: [{ parts: [{ text: "second line" }] }] } }),
    ].join("\n");
    const input = own(KEY_ALPHA, await alpha.files.upload({ file: new Blob([lines], { type: "application/jsonl" }), config: { displayName: "batch-input" } }));
    const inputName = input.name!;
    await onMain(["batchGenerateContent|404"], () => unreached(stack.sim, () => expectNotFound(beta.batches.create({ model: MODEL, src: inputName }), inputName)));

    const job = own(KEY_ALPHA, await alpha.batches.create({ model: MODEL, src: inputName }));
    const { job: done, states } = await pollUntilDone(alpha, job.name!);
    expect(states.at(-1)).toBe(JobState.JOB_STATE_SUCCEEDED);
    resultsFile = done.dest?.fileName;
    expect(resultsFile).toBe(`files/batch-${job.name!.slice("batches/".length)}`);
    // The other tenant cannot read it.
    await unreached(stack.sim, async () => {
      await expectNotFound(beta.files.get({ name: resultsFile! }), resultsFile!);
      expect((await download(stack.url, resultsFile!, KEY_BETA)).status).toBe(404);
    });
  });

  // The results file of a file batch (`dest.fileName`, `files/batch-<id>`) is made by Google, not created through the
  // gateway: it belongs to the batch's owner, recorded when the finished batch is read.
  test("the file batch's owner reads its results file", async () => {
    expect(resultsFile).toMatch(/^files\/batch-/);
    const res = await download(stack.url, resultsFile!, KEY_ALPHA);
    expect(res.status).toBe(200);
    expect((await res.text()).trim().split("\n")).toHaveLength(2);
  });
});

/** An error-level logger whose lines land in `lines`. */
function capturingLogger(lines: string[]): Logger {
  return pino(
    { level: "error" },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...chunk.toString().split("\n").filter((l) => l.trim()));
        callback();
      },
    }),
  );
}

describe("two replicas sharing ownership through Redis", () => {
  const REDIS = "redis://127.0.0.1:6379/11";
  const redisEnv = { SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: `test-isolation-${randomBytes(4).toString("hex")}:` };
  let one: SurfaceStack | undefined;
  let two: RunningGateway | undefined;
  const twoErrors: string[] = [];
  const replicaOne = (): SurfaceStack => one!;
  const replicaTwo = (): RunningGateway => two!;

  beforeAll(async () => {
    one = await startSurfaceStack({ env: redisEnv });
    const env = {
      PORT: "0",
      HOST: "127.0.0.1",
      GEMINI_BASE_URL: one.sim.url,
      GEMINI_API_KEY: UPSTREAM_KEY,
      GATEWAY_KEYS: `${KEY_ALPHA}:alpha,${KEY_BETA}:beta`,
      LOG_LEVEL: "error",
      ...redisEnv,
    };
    two = await startGateway(loadConfig(env, []), { logger: capturingLogger(twoErrors) });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
    await dropKeys(REDIS, redisEnv.SESSION_REDIS_PREFIX);
  });
  afterEach(() => {
    expect(replicaOne().errors).toEqual([]);
    expect(twoErrors).toEqual([]);
  });

  test("a cache alpha made through replica one is alpha's on replica two and a 404 for beta there; its deletion on two holds on one", async () => {
    const sim = replicaOne().sim;
    const oneUrl = replicaOne().url;
    const twoUrl = replicaTwo().url;
    const cache = await createCache(client(oneUrl, KEY_ALPHA), "replicated");
    const name = cache.name!;

    // The record is in the shared store, under the documented key.
    const redis = new Redis(REDIS);
    try {
      expect(await redis.get(`${redisEnv.SESSION_REDIS_PREFIX}o:{${name}}`)).toBe("alpha");
    } finally {
      await redis.quit();
    }

    expect((await client(twoUrl, KEY_ALPHA).caches.get({ name })).name).toBe(name);
    expect(await names(client(twoUrl, KEY_ALPHA).caches.list())).toEqual([name]);
    const response = await client(twoUrl, KEY_ALPHA).models.generateContent({ model: MODEL, contents: "What does it say?", config: { cachedContent: name } });
    expect(response.usageMetadata?.cachedContentTokenCount).toBe(cache.usageMetadata?.totalTokenCount);

    await unreached(sim, async () => {
      await expectNotFound(client(twoUrl, KEY_BETA).caches.get({ name }), name);
      await expectNotFound(client(twoUrl, KEY_BETA).models.generateContent({ model: MODEL, contents: "q", config: { cachedContent: name } }), name);
    });
    expect(await names(client(twoUrl, KEY_BETA).caches.list())).toEqual([]);

    await client(twoUrl, KEY_ALPHA).caches.delete({ name });
    // Read on two first: two's store connection is the one that released the record, so this read orders the release
    // before the read on one (the release runs after the delete's answer is written).
    await unreached(sim, async () => {
      await expectNotFound(client(twoUrl, KEY_ALPHA).caches.get({ name }), name);
      await expectNotFound(client(oneUrl, KEY_ALPHA).caches.get({ name }), name);
    });
  });

  test("a file upload started on replica one sends its data through replica two, as the starter's", async () => {
    const sim = replicaOne().sim;
    const oneUrl = replicaOne().url;
    const twoUrl = replicaTwo().url;
    const data = "started on one, finished on two";
    const start = await startUpload(oneUrl, KEY_ALPHA, "two-replicas", Buffer.byteLength(data));
    const uploadUrl = start.headers.get("x-goog-upload-url") ?? "";
    expect(uploadUrl.startsWith(`${oneUrl}/upload/v1beta/files?upload_id=`)).toBe(true);
    const viaTwo = `${twoUrl}${uploadUrl.slice(oneUrl.length)}`;

    await unreached(sim, async () => {
      expect((await sendData(viaTwo, data, KEY_BETA)).status).toBe(403);
    });
    const done = await sendData(viaTwo, data);
    expect(done.status).toBe(200);
    const { file } = (await done.json()) as { file: UploadedFile };
    expect(file).toMatchObject({ displayName: "two-replicas", sizeBytes: String(Buffer.byteLength(data)) });

    expect((await client(oneUrl, KEY_ALPHA).files.get({ name: file.name })).name).toBe(file.name);
    expect((await client(twoUrl, KEY_ALPHA).files.get({ name: file.name })).name).toBe(file.name);
    expect(await names(client(oneUrl, KEY_ALPHA).files.list())).toContain(file.name);
    expect(await names(client(oneUrl, KEY_BETA).files.list())).not.toContain(file.name);
    await unreached(sim, () => expectNotFound(client(oneUrl, KEY_BETA).files.get({ name: file.name }), file.name));
  });

  test("a batch's results are metered once across replicas, by the first read that shows them", async () => {
    const oneUrl = replicaOne().url;
    const twoUrl = replicaTwo().url;
    const created = await client(oneUrl, KEY_ALPHA).batches.create({ model: MODEL, src: batchRequests("replicas") });
    const name = created.name!;
    let job: BatchJob | undefined;
    let onOne: Gained | undefined;
    const onTwo = await counted(() => scrapeMetrics(twoUrl), times(2, "batches.get|200"), async () => {
      onOne = await counted(() => replicaOne().metrics(), ["batches.get|200"], async () => {
        expect((await client(twoUrl, KEY_ALPHA).batches.get({ name })).state).toBe(JobState.JOB_STATE_RUNNING);
        job = await client(oneUrl, KEY_ALPHA).batches.get({ name });
        expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
        expect((await client(twoUrl, KEY_ALPHA).batches.get({ name })).state).toBe(JobState.JOB_STATE_SUCCEEDED);
      });
    });
    expect(onOne!.tokens).toEqual(tokenSeries(batchTokens(job!), "alpha"));
    expect(onTwo.tokens).toEqual(new Map());
    expect(onTwo.cost).toEqual(new Map());
  });
});

describe("RESOURCE_ISOLATION=off", () => {
  let off: SurfaceStack | undefined;
  const stackOff = (): SurfaceStack => off!;
  beforeAll(async () => {
    off = await startSurfaceStack({ env: { RESOURCE_ISOLATION: "off" } });
  });
  afterAll(async () => {
    await off?.close();
  });

  test("beta gets and uses alpha's cache and lists are not filtered (the escape hatch); the upload URL still points at the gateway", async () => {
    const alpha = stackOff().genai(KEY_ALPHA);
    const beta = stackOff().genai(KEY_BETA);
    const expected = [...times(2, "cachedContents.create|200"), "cachedContents.get|200", ...times(2, "cachedContents.list|200"), "generateContent|200"];
    await counted(() => stackOff().metrics(), expected, async () => {
      const mine = await createCache(alpha, "open");
      const theirs = await createCache(beta, "door");
      expect(await beta.caches.get({ name: mine.name! })).toMatchObject({ name: mine.name, usageMetadata: mine.usageMetadata });
      const both = sorted([mine.name!, theirs.name!]);
      expect(sorted(await names(alpha.caches.list()))).toEqual(both);
      expect(sorted(await names(beta.caches.list()))).toEqual(both);
      const response = await beta.models.generateContent({ model: MODEL, contents: "What does it say?", config: { cachedContent: mine.name! } });
      expect(response.usageMetadata?.cachedContentTokenCount).toBe(mine.usageMetadata?.totalTokenCount);
    });

    const start = await startUpload(stackOff().url, KEY_ALPHA, "open-upload", 4);
    expect(start.headers.get("x-goog-upload-url")?.startsWith(`${stackOff().url}/upload/v1beta/files?upload_id=`)).toBe(true);
    expect(stackOff().errors).toEqual([]);
  });
});
