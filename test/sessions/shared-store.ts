// The session cases every shared Redis deployment must pass (one server, a Redis Cluster, Sentinel primaries), with
// gateway processes as replicas: the chat example across replicas, export/import, list, delete, TTL, 20 concurrent
// sends over two replicas, `kill -9` of a replica mid-traffic, and a Redis primary killed during traffic.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";
import { call, KEY_A, KEY_B, startSessionGateway, type Reply } from "./harness.js";
import { spawnGateway, type GatewayProcess } from "./process.js";

interface AckedTurn {
  message: string;
  reply: Reply;
}

/** The history alternates user/model, and each acknowledged message is in it once, at the turn its reply named, with
 *  the reply's text after it. */
function expectAlternatingWithEveryAck(history: Content[], acked: AckedTurn[]): void {
  history.forEach((c, i) => expect(c.role).toBe(i % 2 === 0 ? "user" : "model"));
  const userTexts = history.filter((c) => c.role === "user").map((c) => c.parts[0]!.text);
  for (const { message, reply } of acked) {
    expect(userTexts.filter((t) => t === message)).toHaveLength(1);
    const n = reply.body.turn as number;
    expect(history[2 * n - 2]!.parts[0]!.text).toBe(message);
    expect(history[2 * n - 1]!.parts[0]!.text).toBe(reply.body.text);
  }
}

/** Two gateway processes sharing one session store, on one simulator. */
interface ReplicaPair {
  sim: TestSimulator;
  a: GatewayProcess;
  b: GatewayProcess;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Session settings of a test run: its own key prefix, a short lease so a dead replica's turn is taken over quickly,
 *  and every commit on a replica of its primary before it is acknowledged (so a failover loses none). */
function sharedStoreEnv(store: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SESSION_STORE: store,
    SESSION_REDIS_PREFIX: `shared-${randomBytes(4).toString("hex")}:`,
    SESSION_LEASE_MS: "600",
    SESSION_QUEUE_MAX: "64",
    ...extra,
  };
}

async function startReplicaPair(env: Record<string, string>): Promise<ReplicaPair> {
  const sim = await startTestSimulator({ ttftMs: 5 });
  const [a, b] = await Promise.all([spawnGateway(sim.url, env), spawnGateway(sim.url, env)]);
  return {
    sim,
    a,
    b,
    env,
    stop: async () => {
      await Promise.all([a, b].filter((p) => p.child.exitCode === null && p.child.signalCode === null).map((p) => p.stop()));
      await sim.close();
    },
  };
}

const createSession = async (url: string, body: Record<string, unknown> = { model: "gemini-2.0-flash" }, key = KEY_A): Promise<string> => {
  const created = await call(url, "POST", "/v1/sessions", body, key);
  expect(created.status).toBe(201);
  return created.body.id as string;
};

/** Registers the core cases (each an `it`) on a shared store. */
export interface SharedStoreOptions {
  /** SESSION_STORE. */
  store: () => string;
  /** SESSION_REDIS_WAIT_REPLICAS: 1 where every primary has a replica. */
  waitReplicas?: number;
  /** Whether Redis still holds a key, read directly (reading a session through the gateway renews its TTL). */
  sessionKeyExists: (key: string) => Promise<boolean>;
  /** Removes the keys under a prefix the cases used, on a Redis that outlives the test. */
  dropKeys?: (prefix: string) => Promise<void>;
}

export function sharedStoreCases(options: SharedStoreOptions): void {
  let pair: ReplicaPair;
  const prefixes: string[] = [];
  const env = (extra: Record<string, string> = {}): Record<string, string> => {
    const made = sharedStoreEnv(options.store(), { SESSION_REDIS_WAIT_REPLICAS: String(options.waitReplicas ?? 0), ...extra });
    prefixes.push(made.SESSION_REDIS_PREFIX!);
    return made;
  };
  beforeAll(async () => {
    pair = await startReplicaPair(env());
  });
  afterAll(async () => {
    await pair?.stop();
    for (const prefix of prefixes) await options.dropKeys?.(prefix);
  });

  it("runs the chat example across replicas: the third reply proves the whole history was sent", async () => {
    const id = await createSession(pair.a.url, { model: "gemini-2.5-flash" });
    const messages = ["Explain quantum entanglement in one sentence", "Now explain it to a five-year-old", "What was the first thing I asked you?"];
    const replies: Reply[] = [];
    for (const [i, message] of messages.entries()) replies.push(await call(i % 2 ? pair.b.url : pair.a.url, "POST", `/v1/sessions/${id}/messages`, { message }));
    expect(replies.map((r) => [r.status, r.body.turn, r.body.historyLength])).toEqual([
      [200, 1, 2],
      [200, 2, 4],
      [200, 3, 6],
    ]);
    expect(replies[2]!.body.text).toContain('[context: 5 contents; first user message: "Explain quantum entanglement in one sentence"]');
    const history = (await call(pair.b.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expect(history.filter((c) => c.role === "user").map((c) => c.parts[0]!.text)).toEqual(messages);
  });

  it("round-trips an export through import on the other replica", async () => {
    const id = await createSession(pair.a.url, { model: "gemini-2.0-flash", systemInstruction: "Be brief." });
    await call(pair.a.url, "POST", `/v1/sessions/${id}/messages`, { message: "Hello there" });
    await call(pair.b.url, "POST", `/v1/sessions/${id}/messages`, { message: "And again" });
    const { body: exported } = await call(pair.a.url, "GET", `/v1/sessions/${id}`);
    const imported = await call(pair.b.url, "POST", "/v1/sessions", { model: exported.model, history: exported.history, systemInstruction: exported.systemInstruction });
    expect([imported.status, imported.body.turns]).toEqual([201, 2]);
    const next = await call(pair.a.url, "POST", `/v1/sessions/${imported.body.id as string}/messages`, { message: "Third" });
    expect(next.body).toMatchObject({ turn: 3, historyLength: 6, appended: true });
    expect(next.body.text).toContain('[context: 5 contents; first user message: "Hello there"]');
  });

  it("lists per tenant with a cursor across replicas, deletes with a reason, and never shows sessions to other tenants", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await createSession(i % 2 ? pair.a.url : pair.b.url, { model: "gemini-2.0-flash" }, KEY_B));
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(pair.a.url, "GET", `/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ""}`, undefined, KEY_B);
      expect(page.status).toBe(200);
      listed.push(...(page.body.sessions as Array<{ id: string }>).map((s) => s.id));
      cursor = page.body.nextCursor as string | undefined;
    } while (cursor);
    expect(listed.sort()).toEqual([...ids].sort());
    expect((await call(pair.a.url, "GET", `/v1/sessions/${ids[0]}`)).status).toBe(404);
    expect((await call(pair.b.url, "DELETE", `/v1/sessions/${ids[0]}`, undefined, KEY_B)).status).toBe(204);
    const gone = await call(pair.a.url, "GET", `/v1/sessions/${ids[0]}`, undefined, KEY_B);
    expect([gone.status, gone.body.error?.message]).toEqual([404, `Session ${ids[0]} is gone: it was deleted.`]);
    const after = await call(pair.b.url, "GET", "/v1/sessions?limit=100", undefined, KEY_B);
    expect((after.body.sessions as Array<{ id: string }>).map((s) => s.id).sort()).toEqual(ids.slice(1).sort());
  });

  it("expires an idle session after SESSION_TTL_SECONDS, and the 404 says so", async () => {
    const ttlEnv = env({ SESSION_TTL_SECONDS: "1" });
    const gw = await startSessionGateway(ttlEnv, { sim: pair.sim });
    try {
      const id = await createSession(gw.url);
      expect((await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "soon idle" })).status).toBe(200);
      // Redis expires the key on its own clock; reading the session through the gateway would renew it.
      while (await options.sessionKeyExists(`${ttlEnv.SESSION_REDIS_PREFIX!}s:{${id}}`)) await sleep(50);
      const gone = await call(gw.url, "GET", `/v1/sessions/${id}`);
      expect([gone.status, gone.body.error?.message]).toEqual([404, `Session ${id} is gone: it expired after SESSION_TTL_SECONDS without use.`]);
      expect(((await call(gw.url, "GET", "/v1/sessions")).body.sessions as Array<{ id: string }>).map((s) => s.id)).not.toContain(id);
    } finally {
      await gw.close();
    }
  });

  it("20 concurrent sends on one session over both replicas: every acknowledged turn once, perfectly alternating", async () => {
    const id = await createSession(pair.a.url);
    const messages = Array.from({ length: 20 }, (_, i) => `spread ${i}`);
    const replies = await Promise.all(messages.map((message, i) => call(i % 2 ? pair.a.url : pair.b.url, "POST", `/v1/sessions/${id}/messages`, { message })));
    expect(replies.map((r) => r.status)).toEqual(messages.map(() => 200));
    const history = (await call(pair.a.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expect(history).toHaveLength(40);
    expectAlternatingWithEveryAck(history, messages.map((message, i) => ({ message, reply: replies[i]! })));
  });

  // Last: it kills replica b.
  it("kill -9 of one replica mid-traffic loses no acknowledged turn", async () => {
    const id = await createSession(pair.a.url);
    const acked: AckedTurn[] = [];
    const send = async (url: string, message: string): Promise<void> => {
      try {
        const reply = await call(url, "POST", `/v1/sessions/${id}/messages`, { message });
        if (reply.status === 200 && reply.body.appended === true) acked.push({ message, reply });
      } catch {
        // the killed replica's connections break: not acknowledged
      }
    };
    const inFlight = Array.from({ length: 16 }, (_, i) => send(i % 2 ? pair.a.url : pair.b.url, `before ${i}`));
    while (acked.length < 3) await sleep(5);
    expect(await pair.b.kill9()).toBe("SIGKILL");
    await Promise.all(inFlight);
    await Promise.all(Array.from({ length: 4 }, (_, i) => send(pair.a.url, `after ${i}`)));
    expect(acked.filter((x) => x.message.startsWith("after"))).toHaveLength(4);
    const history = (await call(pair.a.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expectAlternatingWithEveryAck(history, acked);
    // A turn is committed by a replica that then answers, or by b just before it died: never fewer than acknowledged.
    expect(history.length / 2).toBeGreaterThanOrEqual(acked.length);
  });
}

/**
 * Registers the failover case: a Redis primary killed during traffic on one session from two gateway processes.
 * `killPrimary` kills the primary holding the session's key and returns a check, run after the traffic recovered,
 * that a new primary took over (and whatever else the deployment should show).
 */
export function primaryKilledDuringTraffic(options: { store: () => string; killPrimary: (sessionKey: string) => Promise<() => Promise<void>> }): void {
  let pair: ReplicaPair;
  beforeAll(async () => {
    // The promoted primary has no replica: its commits wait SESSION_REDIS_WAIT_MS, shortened here, and are acknowledged.
    pair = await startReplicaPair(sharedStoreEnv(options.store(), { SESSION_REDIS_WAIT_REPLICAS: "1", SESSION_REDIS_WAIT_MS: "200" }));
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("answers only 503 UNAVAILABLE while there is no primary, keeps the history whole, and recovers without a restart", async () => {
    const id = await createSession(pair.a.url);
    let confirmFailover: (() => Promise<void>) | undefined;
    const report = await sendThroughOutage(pair, id, async () => {
      confirmFailover = await options.killPrimary(`${pair.env.SESSION_REDIS_PREFIX!}s:{${id}}`);
    });
    await confirmFailover!();
    const history = (await call(pair.b.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expectOnlyUnavailableAndIntactHistory(report, history);
    // New sessions work from both gateway processes, which were never restarted.
    const fresh = await createSession(pair.b.url);
    expect((await call(pair.a.url, "POST", `/v1/sessions/${fresh}/messages`, { message: "after the failover" })).status).toBe(200);
  }, 60_000);
}

interface OutageReport {
  /** Statuses of the session sends, in order of their replies (-200: a 200 that appended nothing). */
  statuses: number[];
  acked: AckedTurn[];
  /** 503 answers' error messages. */
  unavailable: string[];
  /** Proxy calls (generateContent) made while the session store answered 503, and their statuses. */
  proxyDuringOutage: number[];
}

/**
 * Sends messages to one session from both replicas (four senders in a loop) while `breakStore` kills a Redis primary;
 * returns once `recovered` more turns were acknowledged after the store answered again. Every proxy call made while
 * sends answer 503 is recorded, to show the stateless routes are untouched.
 */
async function sendThroughOutage(
  pair: ReplicaPair,
  id: string,
  breakStore: () => Promise<void>,
  { before = 6, recovered = 8, timeoutMs = 40_000 } = {},
): Promise<OutageReport> {
  const report: OutageReport = { statuses: [], acked: [], unavailable: [], proxyDuringOutage: [] };
  let broken = false;
  let ackedAfterBreak = 0;
  let stop = false;
  const deadline = Date.now() + timeoutMs;
  const sender = async (url: string, tag: string): Promise<void> => {
    for (let n = 0; !stop && Date.now() < deadline; n++) {
      const message = `${tag} ${n}`;
      const reply = await call(url, "POST", `/v1/sessions/${id}/messages`, { message });
      // A 200 that appended nothing would be a turn the client believes kept: recorded as such, to fail the test.
      report.statuses.push(reply.status === 200 && reply.body.appended !== true ? -200 : reply.status);
      if (reply.status === 200 && reply.body.appended === true) {
        report.acked.push({ message, reply });
        if (broken && ++ackedAfterBreak >= recovered) stop = true;
      } else if (reply.status === 503) {
        report.unavailable.push(`${reply.body.error?.status}: ${reply.body.error?.message}`);
        const proxy = await fetch(`${url}/v1beta/models/gemini-2.0-flash:generateContent`, {
          method: "POST",
          headers: { "x-goog-api-key": KEY_A, "content-type": "application/json" },
          body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "still there?" }] }] }),
        });
        report.proxyDuringOutage.push(proxy.status);
        await sleep(50); // a client backing off
      }
    }
  };
  const senders = [sender(pair.a.url, "a0"), sender(pair.b.url, "b0"), sender(pair.a.url, "a1"), sender(pair.b.url, "b1")];
  while (report.acked.length < before) await sleep(5);
  await breakStore();
  broken = true;
  await Promise.all(senders);
  if (!stop) throw new Error(`the store did not recover within ${timeoutMs} ms: ${JSON.stringify(report.unavailable.slice(-3))}`);
  return report;
}

/** What a primary's death may cost the session routes, and what it may not. */
function expectOnlyUnavailableAndIntactHistory(report: OutageReport, history: Content[]): void {
  expect(report.statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
  for (const message of report.unavailable) expect(message).toMatch(/^UNAVAILABLE: /);
  expect(report.proxyDuringOutage.filter((s) => s !== 200)).toEqual([]);
  expectAlternatingWithEveryAck(history, report.acked);
  expect(history.length / 2).toBeGreaterThanOrEqual(report.acked.length);
}
