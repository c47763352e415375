import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { TestSimulator } from "../helpers/sim.js";
import { call, startSessionGateway } from "./harness.js";
import type { SessionGateway } from "./harness.js";

let sim: TestSimulator;
beforeAll(async () => {
  sim = await startTestSimulator({ replyTokens: { min: 5, max: 10 } });
});
afterAll(async () => {
  await sim.close();
});

async function withGateway(env: Record<string, string>, run: (gw: SessionGateway) => Promise<void>, perf?: { now(): number }): Promise<void> {
  const gw = await startSessionGateway(env, { sim, ...(perf ? { perf } : {}) });
  try {
    await run(gw);
  } finally {
    await gw.close();
  }
}

const create = async (gw: SessionGateway, body: unknown = { model: "gemini-2.0-flash" }): Promise<string> => {
  const reply = await call(gw.url, "POST", "/v1/sessions", body);
  expect(reply.status).toBe(201);
  return reply.body.id as string;
};
const send = (gw: SessionGateway, id: string, message: string) => call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message });

describe("turn cap", () => {
  it("reject: the turn past SESSION_MAX_TURNS is a 400 FAILED_PRECONDITION saying the cap and how to start again", async () => {
    await withGateway({ SESSION_MAX_TURNS: "2" }, async (gw) => {
      const id = await create(gw);
      expect((await send(gw, id, "one")).body).toMatchObject({ turn: 1, turnsLeft: 1 });
      expect((await send(gw, id, "two")).body).toMatchObject({ turn: 2, turnsLeft: 0 });
      const third = await send(gw, id, "three");
      expect([third.status, third.body.error?.status]).toEqual([400, "FAILED_PRECONDITION"]);
      expect(third.body.error?.message).toContain("cap of 2 turns (SESSION_MAX_TURNS)");
      expect(third.body.error?.message).toContain(`GET /v1/sessions/${id}`);
      expect(gw.events).toContainEqual({ type: "turn_cap_rejected" });
      expect(((await call(gw.url, "GET", `/v1/sessions/${id}`)).body.history as Content[]).length).toBe(4);
    });
  });

  it("slide: the oldest pairs go, the pinned first turn stays, alternation holds", async () => {
    await withGateway({ SESSION_MAX_TURNS: "3", SESSION_TURN_CAP_POLICY: "slide", SESSION_PIN_FIRST_TURN: "true" }, async (gw) => {
      const id = await create(gw);
      for (const m of ["m1", "m2", "m3"]) expect((await send(gw, id, m)).body.trimmedTurns).toBe(0);
      const fourth = await send(gw, id, "m4");
      expect(fourth.body).toMatchObject({ turn: 4, trimmedTurns: 1, historyLength: 6, turnsLeft: 0, appended: true });
      // The model was sent: m1 (pinned) + its reply, m3 + reply, m4 = 5 contents (the short replies cut the context line).
      expect(fourth.body.text).toContain("[context: 5 contents");
      const history = (await call(gw.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
      expect(history.map((c) => c.role)).toEqual(["user", "model", "user", "model", "user", "model"]);
      expect(history.filter((c) => c.role === "user").map((c) => c.parts[0]!.text)).toEqual(["m1", "m3", "m4"]);
    });
  });

  it("SESSION_MAX_HISTORY_TOKENS trims the oldest pairs before the budget is exceeded", async () => {
    await withGateway({ SESSION_MAX_HISTORY_TOKENS: "40" }, async (gw) => {
      const id = await create(gw);
      const trims: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const reply = await send(gw, id, `message number ${i}`);
        expect(reply.body.appended).toBe(true);
        trims.push(reply.body.trimmedTurns as number);
        expect((reply.body.usageMetadata as { promptTokenCount: number }).promptTokenCount).toBeLessThanOrEqual(40);
      }
      expect(trims.some((t) => t > 0)).toBe(true);
      const history = (await call(gw.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
      expect(history[0]!.role).toBe("user");
      expect(history.length % 2).toBe(0);
    });
  });
});

describe("bounded store", () => {
  it("evicts the least recently used session past SESSION_MAX, and the 404 says so", async () => {
    await withGateway({ SESSION_MAX: "2" }, async (gw) => {
      const a = await create(gw);
      const b = await create(gw);
      await call(gw.url, "GET", `/v1/sessions/${a}`); // a is now more recent than b
      const c = await create(gw);
      const gone = await call(gw.url, "GET", `/v1/sessions/${b}`);
      expect([gone.status, gone.body.error?.message]).toEqual([
        404,
        `Session ${b} is gone: it was evicted to make room for newer sessions (SESSION_MAX reached; least recently used first).`,
      ]);
      expect((await call(gw.url, "GET", `/v1/sessions/${a}`)).status).toBe(200);
      expect((await call(gw.url, "GET", `/v1/sessions/${c}`)).status).toBe(200);
      expect(gw.events).toEqual([{ type: "evicted", reason: "capacity" }]);
      expect(gw.store.stats()!.sessions).toBe(2);
    });
  });

  it("evicts by bytes past SESSION_MAX_BYTES, and the 404 says so", async () => {
    await withGateway({ SESSION_MAX_BYTES: "4000" }, async (gw) => {
      const big = "x".repeat(1200);
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await create(gw, { model: "gemini-2.0-flash", systemInstruction: big }));
      expect(gw.store.stats()!.bytes).toBeLessThanOrEqual(4000);
      const fourth = await create(gw, { model: "gemini-2.0-flash", systemInstruction: big });
      const gone = await call(gw.url, "GET", `/v1/sessions/${ids[0]}`);
      expect([gone.status, gone.body.error?.message]).toEqual([
        404,
        `Session ${ids[0]} is gone: it was evicted to keep the session store under SESSION_MAX_BYTES (least recently used first).`,
      ]);
      expect((await call(gw.url, "GET", `/v1/sessions/${fourth}`)).status).toBe(200);
      expect(gw.events).toContainEqual({ type: "evicted", reason: "bytes" });
      expect(gw.store.stats()!.bytes).toBeLessThanOrEqual(4000);
      const tooBig = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash", systemInstruction: "y".repeat(5000) });
      expect([tooBig.status, tooBig.body.error?.message]).toEqual([400, "The session is larger than SESSION_MAX_BYTES (4000 bytes)."]);
    });
  });

  it("expires idle sessions after SESSION_TTL_SECONDS (injected clock); use keeps a session alive", async () => {
    let now = 1_000_000;
    await withGateway(
      { SESSION_TTL_SECONDS: "60" },
      async (gw) => {
        const idle = await create(gw);
        const busy = await create(gw);
        now += 40_000;
        expect((await send(gw, busy, "still here")).status).toBe(200);
        now += 40_000; // idle: 80 s without use; busy: 40 s
        const gone = await call(gw.url, "GET", `/v1/sessions/${idle}`);
        expect([gone.status, gone.body.error?.message]).toEqual([404, `Session ${idle} is gone: it expired after SESSION_TTL_SECONDS without use.`]);
        expect((await call(gw.url, "GET", `/v1/sessions/${busy}`)).status).toBe(200);
        expect(gw.events).toContainEqual({ type: "evicted", reason: "ttl" });
      },
      { now: () => now },
    );
  });
});

describe("concurrency", () => {
  it("20 concurrent sends: every acknowledged turn exactly once, history perfectly alternating", async () => {
    await withGateway({ SESSION_QUEUE_MAX: "32" }, async (gw) => {
      const id = await create(gw);
      const messages = Array.from({ length: 20 }, (_, i) => `concurrent ${i}`);
      const replies = await Promise.all(messages.map((m) => send(gw, id, m)));
      expect(replies.map((r) => r.status)).toEqual(messages.map(() => 200));
      expect(replies.map((r) => r.body.turn).sort((x, y) => (x as number) - (y as number))).toEqual(messages.map((_, i) => i + 1));
      const history = (await call(gw.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
      expect(history).toHaveLength(40);
      history.forEach((c, i) => expect(c.role).toBe(i % 2 === 0 ? "user" : "model"));
      const userTexts = history.filter((c) => c.role === "user").map((c) => c.parts[0]!.text);
      expect([...userTexts].sort()).toEqual([...messages].sort());
      // Each acknowledged turn n is exactly its own question and its own reply: history[2n-2], history[2n-1].
      replies.forEach((reply, i) => {
        const n = reply.body.turn as number;
        expect(history[2 * n - 2]!.parts[0]!.text).toBe(messages[i]);
        expect(history[2 * n - 1]!.parts[0]!.text).toBe(reply.body.text);
      });
    });
  });

  it("a full per-session queue answers 429 RESOURCE_EXHAUSTED", async () => {
    await withGateway({ SESSION_QUEUE_MAX: "2" }, async (gw) => {
      const id = await create(gw);
      await gw.sim.setFaults([{ fault: { kind: "delay", ms: 300 }, times: 1 }]);
      const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => send(gw, id, `q${i}`)));
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 429, 429, 429]);
      const rejected = replies.find((r) => r.status === 429)!;
      expect(rejected.body.error?.status).toBe("RESOURCE_EXHAUSTED");
      expect(rejected.body.error?.message).toContain("SESSION_QUEUE_MAX=2");
      await gw.sim.clearFaults();
    });
  });
});

describe("a stream cut by the client", () => {
  it("appends nothing", async () => {
    const slow = await startTestSimulator({ tokensPerSecond: 50, replyTokens: { min: 60, max: 80 } });
    const gw = await startSessionGateway({}, { sim: slow });
    try {
      const id = await create(gw);
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/sessions/${id}/messages?stream=sse`, {
        method: "POST",
        headers: { "x-goog-api-key": "key-tenant-a", "content-type": "application/json" },
        body: JSON.stringify({ message: "a long story please" }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      await reader.read(); // the first chunk arrived: the stream is under way
      controller.abort();
      await reader.read().catch(() => undefined);
      // The gateway sees the abort, stops upstream, and does not append; later turns start from an empty history.
      const next = await send(gw, id, "after the cut");
      expect(next.body).toMatchObject({ turn: 1, historyLength: 2, appended: true });
    } finally {
      await gw.close();
      await slow.close();
    }
  });
});
