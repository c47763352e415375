// Two session services (as two replicas would be) on one Redis, in-process; the spawned-process version is in
// replicas.test.ts. Redis db 11, with a key prefix of this run so parallel runs do not collide.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { TestSimulator } from "../helpers/sim.js";
import { call, dropKeys, startSessionGateway } from "./harness.js";
import type { SessionGateway } from "./harness.js";

const REDIS = "redis://127.0.0.1:6379/11";
const env = { SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: `test-${randomBytes(4).toString("hex")}:`, SESSION_LEASE_MS: "1000", SESSION_QUEUE_MAX: "32" };

let sim: TestSimulator;
let one: SessionGateway;
let two: SessionGateway;
beforeAll(async () => {
  sim = await startTestSimulator();
  one = await startSessionGateway(env, { sim });
  two = await startSessionGateway(env, { sim });
});
afterAll(async () => {
  await one?.close();
  await two?.close();
  await sim?.close();
  await dropKeys(REDIS, env.SESSION_REDIS_PREFIX);
});


describe("Redis store shared by two replicas", () => {
  it("a session created on one continues on the other", async () => {
    const { body } = await call(one.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash" });
    const id = body.id as string;
    expect((await call(one.url, "POST", `/v1/sessions/${id}/messages`, { message: "Explain quantum entanglement in one sentence" })).body.turn).toBe(1);
    expect((await call(two.url, "POST", `/v1/sessions/${id}/messages`, { message: "Now explain it to a five-year-old" })).body.turn).toBe(2);
    const third = await call(one.url, "POST", `/v1/sessions/${id}/messages`, { message: "What was the first thing I asked you?" });
    expect(third.body).toMatchObject({ turn: 3, historyLength: 6 });
    expect(third.body.text).toContain('[context: 5 contents; first user message: "Explain quantum entanglement in one sentence"]');
    expect(((await call(two.url, "GET", `/v1/sessions/${id}`)).body.history as Content[]).length).toBe(6);
  });

  it("20 concurrent sends spread over both stay serialized: every turn once, alternating", async () => {
    const { body } = await call(one.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
    const id = body.id as string;
    const messages = Array.from({ length: 20 }, (_, i) => `spread ${i}`);
    const replies = await Promise.all(messages.map((message, i) => call(i % 2 ? two.url : one.url, "POST", `/v1/sessions/${id}/messages`, { message })));
    expect(replies.map((r) => r.status)).toEqual(messages.map(() => 200));
    const history = (await call(two.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expect(history).toHaveLength(40);
    history.forEach((c, i) => expect(c.role).toBe(i % 2 === 0 ? "user" : "model"));
    replies.forEach((reply, i) => {
      const n = reply.body.turn as number;
      expect(history[2 * n - 2]!.parts[0]!.text).toBe(messages[i]);
      expect(history[2 * n - 1]!.parts[0]!.text).toBe(reply.body.text);
    });
  });

  it("lists per tenant with a cursor, deletes with a reason, and never shows sessions to other tenants", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call(one.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" }, "key-tenant-b")).body.id as string);
    const first = await call(two.url, "GET", "/v1/sessions?limit=2", undefined, "key-tenant-b");
    const second = await call(two.url, "GET", `/v1/sessions?limit=2&cursor=${first.body.nextCursor as string}`, undefined, "key-tenant-b");
    const listed = [...(first.body.sessions as Array<{ id: string }>), ...(second.body.sessions as Array<{ id: string }>)].map((s) => s.id);
    expect(listed.sort()).toEqual([...ids].sort());
    expect((await call(one.url, "GET", `/v1/sessions/${ids[0]}`)).status).toBe(404);
    expect((await call(one.url, "DELETE", `/v1/sessions/${ids[0]}`, undefined, "key-tenant-b")).status).toBe(204);
    const gone = await call(two.url, "GET", `/v1/sessions/${ids[0]}`, undefined, "key-tenant-b");
    expect([gone.status, gone.body.error?.message]).toEqual([404, `Session ${ids[0]} is gone: it was deleted.`]);
  });
});

describe("Redis down", () => {
  it("session routes answer 503 UNAVAILABLE with a clear message", async () => {
    const down = await startSessionGateway({ ...env, SESSION_STORE: "redis://127.0.0.1:1/0" }, { sim });
    try {
      const reply = await call(down.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
      expect([reply.status, reply.body.error?.status]).toEqual([503, "UNAVAILABLE"]);
      expect(reply.body.error?.message).toMatch(/^The session store is unavailable \(Redis at 127\.0\.0\.1:1: .+\)\. Sessions cannot be used until it is back; the stateless proxy routes keep working\.$/);
      expect((await call(down.url, "GET", "/v1/sessions/abc")).status).toBe(503);
    } finally {
      await down.close();
    }
  });
});
