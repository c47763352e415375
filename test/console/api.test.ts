// The console API (/ui/api/) on an in-process gateway with the simulator upstream: who may see what, the overview,
// the turns table and a turn's attempts, a session's page with its turns in order, and the export.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConversationDetail, ConversationList, Overview, TurnDetail, TurnList, WhoAmI } from "../../src/console/api-types.js";
import type { RunningGateway } from "../../src/server/gateway.js";
import { startConsoleGateway } from "./gateway.js";
import { loadConfig } from "../../src/server/config.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";

const ADMIN = "admin-key";
const KEY_A = "key-a";
const KEY_B = "key-b";

let sim: TestSimulator;
let gateway: RunningGateway;

async function api<T>(path: string, key?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gateway.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, body: (await res.json()) as T };
}

async function generate(key: string, model: string, body: Record<string, unknown> = {}): Promise<number> {
  const res = await fetch(`${gateway.url}/v1beta/models/${model}:generateContent`, {
    method: "POST",
    headers: { "x-goog-api-key": key, "content-type": "application/json" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hello" }] }], ...body }),
  });
  await res.text();
  return res.status;
}

async function sessionCall(key: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${gateway.url}${path}`, { method: "POST", headers: { "x-goog-api-key": key, "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
}

let sessionId: string;
let chainRoot: string;

beforeAll(async () => {
  sim = await startTestSimulator({ replyTokens: { min: 10, max: 20 } });
  gateway = await startConsoleGateway(sim.url, { GATEWAY_KEYS: `${KEY_A}:team-a,${KEY_B}:team-b`, ADMIN_KEYS: ADMIN, RETRY_BASE_MS: "1", RETRY_CAP_MS: "5" });
  expect(await generate(KEY_A, "gemini-2.0-flash")).toBe(200);
  expect(await generate(KEY_A, "gemini-2.5-flash", { generationConfig: { maxOutputTokens: 3, thinkingConfig: { thinkingBudget: 0 } } })).toBe(200);
  expect(await generate(KEY_B, "gemini-2.5-flash-lite")).toBe(200);
  await sim.setFaults([{ fault: { status: 429, retryDelay: "0.01s", quotaId: "GenerateRequestsPerMinutePerProjectPerModel" }, times: 1 }]);
  expect(await generate(KEY_B, "gemini-2.0-flash")).toBe(200); // retried once
  sessionId = (await sessionCall(KEY_A, "/v1/sessions", { model: "gemini-2.0-flash" })).id as string;
  for (const message of ["one", "two", "three"]) await sessionCall(KEY_A, `/v1/sessions/${sessionId}/messages`, { message });
  // A fourth message fails upstream (400: not retried, nothing appended) and is sent again.
  await sim.setFaults([{ fault: { status: 400 }, times: 1 }]);
  for (let i = 0; i < 2; i++) await sessionCall(KEY_A, `/v1/sessions/${sessionId}/messages`, { message: "four" });
  const first = await sessionCall(KEY_B, "/v1beta/interactions", { model: "gemini-2.5-flash", input: "first" });
  chainRoot = first.id as string;
  await sessionCall(KEY_B, "/v1beta/interactions", { model: "gemini-2.5-flash", input: "second", previous_interaction_id: chainRoot });
});

afterAll(async () => {
  await gateway?.close();
  await sim?.close();
});

describe("access", () => {
  it("an admin key sees every tenant; a gateway key its own; a wrong or missing key nothing (401 in Gemini's envelope)", async () => {
    expect((await api<WhoAmI>("/ui/api/whoami", ADMIN)).body).toEqual({ role: "admin" });
    expect((await api<WhoAmI>("/ui/api/whoami", KEY_B)).body).toEqual({ role: "tenant", tenant: "team-b" });
    for (const key of ["wrong-key", undefined]) {
      for (const path of ["/ui/api/whoami", "/ui/api/overview", "/ui/api/turns", "/ui/api/conversations"]) {
        const refused = await api<{ error: { code: number; status: string } }>(path, key);
        expect([refused.status, refused.body.error.status]).toEqual([401, "UNAUTHENTICATED"]);
      }
    }
  });

  it("GET / sends a browser to the console", async () => {
    const res = await fetch(`${gateway.url}/`, { redirect: "manual" });
    expect([res.status, res.headers.get("location")]).toEqual([302, "/ui/"]);
  });
});

describe("overview", () => {
  it("counts every call of the last hour: requests, tokens by kind, spend, truncations, retries", async () => {
    const { body } = await api<Overview>("/ui/api/overview", ADMIN);
    const total = (values: number[]): number => values.reduce((a, b) => a + b, 0);
    expect(body.t).toHaveLength(360);
    expect(total(body.series.requests)).toBe(11); // 4 proxy calls, 5 session messages (one failed), 2 interactions
    expect(total(body.series.errors)).toBe(1);
    expect(total(body.series.tokens.output)).toBeGreaterThan(0);
    expect(total(body.series.truncations.output_limit)).toBe(1);
    expect(total(body.series.retries)).toBe(1);
    expect(body.spend.todayUsd).toBeGreaterThan(0);
    expect(body.spend.byTenant.map((s) => s.tenant).sort()).toEqual(["team-a", "team-b"]);
    expect(body.recent.latencyP50Ms).not.toBeNull();
    expect(body.recent.truncationRate).toBeCloseTo(1 / 10, 6); // the failed call has no response
  });

  it("a tenant key sees only its own tenant's figures", async () => {
    const { body } = await api<Overview>("/ui/api/overview", KEY_B);
    expect(body.series.requests.reduce((a, b) => a + b, 0)).toBe(4);
    expect(body.spend.byTenant.map((s) => s.tenant)).toEqual(["team-b"]);
  });
});

describe("turns", () => {
  it("lists the newest first, filters, and tells a tenant only its own", async () => {
    const all = (await api<TurnList>("/ui/api/turns", ADMIN)).body;
    expect(all.turns).toHaveLength(11);
    expect(all.turns.map((t) => t.at)).toEqual([...all.turns.map((t) => t.at)].sort((a, b) => b - a));
    expect(all.facets.tenants).toEqual(["team-a", "team-b"]);
    expect(all.facets.finishReasons).toEqual(expect.arrayContaining(["max_tokens", "stop"]));
    const truncated = (await api<TurnList>("/ui/api/turns?finishReason=max_tokens", ADMIN)).body.turns;
    expect(truncated.map((t) => [t.model, t.truncation])).toEqual([["gemini-2.5-flash", "output_limit"]]);
    const ofB = (await api<TurnList>("/ui/api/turns", KEY_B)).body;
    expect(new Set(ofB.turns.map((t) => t.tenant))).toEqual(new Set(["team-b"]));
    expect(ofB.facets.tenants).toEqual(["team-b"]);
    expect((await api<TurnList>("/ui/api/turns?model=gemini-2.5-flash-lite", ADMIN)).body.turns).toHaveLength(1);
  });

  it("a turn shows its attempts: the 429, the retry's delay and its source, then the answer", async () => {
    const [retried] = (await api<TurnList>("/ui/api/turns?tenant=team-b&model=gemini-2.0-flash", ADMIN)).body.turns;
    const { body } = await api<TurnDetail>(`/ui/api/turns/${retried!.id}`, ADMIN);
    expect(body.attemptList.map((a) => a.outcome)).toEqual(["429", "ok"]);
    expect(body.attemptList[0]!.retry).toMatchObject({ reason: "429", source: "retry_info" });
    expect(body.tokens.total).toBeGreaterThan(0);
    expect(body.costUsd).toBeGreaterThan(0);
    // Another tenant's turn is not found with a tenant key.
    expect((await api(`/ui/api/turns/${retried!.id}`, KEY_A)).status).toBe(404);
  });
});

describe("conversations", () => {
  it("a session's page has its turns in order, the prompt growing with the history, and its export", async () => {
    const list = (await api<ConversationList>(`/ui/api/conversations?q=${sessionId.slice(0, 6)}`, KEY_A)).body;
    expect(list.conversations).toEqual([expect.objectContaining({ id: sessionId, kind: "session", tenant: "team-a", turns: 4 })]);
    const { body } = await api<ConversationDetail>(`/ui/api/conversations/${sessionId}`, ADMIN);
    expect(body.turnList.map((t) => [t.turn, t.calls, t.httpStatus])).toEqual([
      [1, 1, 200],
      [2, 1, 200],
      [3, 1, 200],
      [4, 2, 200], // the failed call and the one that answered: one turn
    ]);
    const prompts = body.turnList.map((t) => t.promptTokens!);
    for (let i = 1; i < prompts.length; i++) expect(prompts[i]).toBeGreaterThan(prompts[i - 1]!);
    expect(body.turnList[0]!.user).toEqual({ chars: 3 }); // content capture off: sizes only
    expect(body.contentShown).toBe(false);
    const exported = await api<{ id: string; turns: number }>(body.exportPath!, ADMIN);
    expect(exported.body).toMatchObject({ id: sessionId, turns: 4 });
    // Not team-b's.
    expect((await api(`/ui/api/conversations/${sessionId}`, KEY_B)).status).toBe(404);
    expect((await api(body.exportPath!, KEY_B)).status).toBe(404);
    const ofB = (await api<ConversationList>("/ui/api/conversations", KEY_B)).body.conversations;
    expect(ofB.map((c) => c.id)).toEqual([chainRoot]);
  });

  it("an Interactions chain is one conversation, named by its first interaction", async () => {
    const { body } = await api<ConversationDetail>(`/ui/api/conversations/${chainRoot}`, KEY_B);
    expect(body).toMatchObject({ id: chainRoot, kind: "interaction_chain", tenant: "team-b", model: "gemini-2.5-flash" });
    expect(body.turnList.map((t) => t.turn)).toEqual([1, 2]);
    expect(body.exportPath).toBeUndefined();
  });
});

describe("with content capture on and a trace UI", () => {
  it("a session's page shows the messages; whoami gives the trace link template", async () => {
    const shown = await startConsoleGateway(sim.url, { GATEWAY_KEYS: `${KEY_A}:team-a`, ADMIN_KEYS: ADMIN, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true", TRACE_UI_URL: "http://grafana:3000/explore?traceId={traceId}" });
    try {
      const call = async (path: string, body: unknown): Promise<Record<string, unknown>> =>
        (await (await fetch(`${shown.url}${path}`, { method: "POST", headers: { "x-goog-api-key": KEY_A, "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as Record<string, unknown>;
      const id = (await call("/v1/sessions", { model: "gemini-2.0-flash" })).id as string;
      await call(`/v1/sessions/${id}/messages`, { message: "what is shown" });
      const get = async <T>(path: string): Promise<T> => (await (await fetch(`${shown.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as T;
      const page = await get<ConversationDetail>(`/ui/api/conversations/${id}`);
      expect(page.contentShown).toBe(true);
      expect(page.turnList[0]!.user).toEqual({ text: "what is shown", chars: 13 });
      expect(page.turnList[0]!.model!.text!.length).toBeGreaterThan(0);
      expect(await get<WhoAmI>("/ui/api/whoami")).toEqual({ role: "admin", traceUrl: "http://grafana:3000/explore?traceId={traceId}" });
    } finally {
      await shown.close();
    }
  });
});

describe("CONSOLE=off", () => {
  it("serves neither the page nor its API; ADMIN_KEYS is refused as a flag", async () => {
    const off = await startConsoleGateway(sim.url, { GATEWAY_KEYS: `${KEY_A}:team-a`, CONSOLE: "off" });
    try {
      for (const path of ["/", "/ui/", "/ui/api/whoami"]) expect((await fetch(`${off.url}${path}`, { redirect: "manual" })).status, path).toBe(404);
    } finally {
      await off.close();
    }
    expect(() => loadConfig({ GEMINI_API_KEY: "k", GATEWAY_KEYS: `${KEY_A}:team-a` }, ["--admin-keys", "secret"])).toThrow(/ADMIN_KEYS is a secret/);
  });
});
