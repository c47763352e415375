// Two `gemini-gateway serve` processes on one Redis (db 12, a prefix of this run): sessions move between them, sends
// spread over both stay serialized, and `kill -9` of one mid-traffic loses no acknowledged turn.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { TestSimulator } from "../helpers/sim.js";
import { call, dropKeys } from "./harness.js";
import type { Reply } from "./harness.js";
import { spawnGateway } from "./process.js";
import type { GatewayProcess } from "./process.js";

const REDIS = "redis://127.0.0.1:6379/12";
const env = { SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: `replicas-${randomBytes(4).toString("hex")}:`, SESSION_LEASE_MS: "600", SESSION_QUEUE_MAX: "64" };

let sim: TestSimulator;
let a: GatewayProcess;
let b: GatewayProcess;
beforeAll(async () => {
  sim = await startTestSimulator({ ttftMs: 15 });
  [a, b] = await Promise.all([spawnGateway(sim.url, env), spawnGateway(sim.url, env)]);
});
afterAll(async () => {
  await Promise.all([a, b].filter((p) => p && p.child.exitCode === null && p.child.signalCode === null).map((p) => p.stop()));
  await sim?.close();
  await dropKeys(REDIS, env.SESSION_REDIS_PREFIX);
});

function expectAlternatingWithEveryAck(history: Content[], acked: Array<{ message: string; reply: Reply }>): void {
  history.forEach((c, i) => expect(c.role).toBe(i % 2 === 0 ? "user" : "model"));
  const userTexts = history.filter((c) => c.role === "user").map((c) => c.parts[0]!.text);
  for (const { message, reply } of acked) {
    expect(userTexts.filter((t) => t === message)).toHaveLength(1);
    const n = reply.body.turn as number;
    expect(history[2 * n - 2]!.parts[0]!.text).toBe(message);
    expect(history[2 * n - 1]!.parts[0]!.text).toBe(reply.body.text);
  }
}

describe("two gateway processes on one Redis", () => {
  it("a session created on one continues on the other; concurrent sends over both stay serialized", async () => {
    const { body } = await call(a.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
    const id = body.id as string;
    const first = await call(b.url, "POST", `/v1/sessions/${id}/messages`, { message: "hello from b" });
    expect(first.body).toMatchObject({ turn: 1, appended: true });
    const messages = Array.from({ length: 20 }, (_, i) => `spread ${i}`);
    const replies = await Promise.all(messages.map((message, i) => call(i % 2 ? a.url : b.url, "POST", `/v1/sessions/${id}/messages`, { message })));
    expect(replies.map((r) => r.status)).toEqual(messages.map(() => 200));
    const history = (await call(a.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expect(history).toHaveLength(42);
    expectAlternatingWithEveryAck(history, messages.map((message, i) => ({ message, reply: replies[i]! })));
  });

  it("kill -9 of one replica mid-traffic loses no acknowledged turn", async () => {
    const { body } = await call(a.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
    const id = body.id as string;
    const acked: Array<{ message: string; reply: Reply }> = [];
    const send = async (url: string, message: string): Promise<void> => {
      try {
        const reply = await call(url, "POST", `/v1/sessions/${id}/messages`, { message });
        if (reply.status === 200 && reply.body.appended === true) acked.push({ message, reply });
      } catch {
        // the killed replica's connections break: not acknowledged
      }
    };
    const wave = (n: number, tag: string) => Array.from({ length: n }, (_, i) => send(i % 2 ? a.url : b.url, `${tag} ${i}`));
    const inFlight = wave(16, "before");
    while (acked.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await b.kill9()).toBe("SIGKILL");
    await Promise.all(inFlight);
    const after = await Promise.all(Array.from({ length: 4 }, (_, i) => send(a.url, `after ${i}`)));
    expect(after).toHaveLength(4);
    expect(acked.filter((x) => x.message.startsWith("after"))).toHaveLength(4);
    const history = (await call(a.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
    expectAlternatingWithEveryAck(history, acked);
    // Turns can only be committed by a replica that then answers, or by b just before it died: at most a few more.
    expect(history.length / 2).toBeGreaterThanOrEqual(acked.length);
  });
});
