// Sessions with backend "interactions": Google holds the history, the session keeps the chain head; the gateway still
// bounds turns, serializes sends and exports the whole history by walking the chain.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { QUESTIONS, THIRD_REPLY_CONTEXT } from "../helpers/chat.js";
import { call, KEY_B, startSessionGateway } from "./harness.js";
import type { SessionGateway } from "./harness.js";

let gw: SessionGateway;
beforeAll(async () => {
  gw = await startSessionGateway({ SESSION_MAX_TURNS: "4" });
});
afterAll(async () => {
  await gw.close();
});

const textOf = (content: Content): string => content.parts.map((p) => p.text ?? "").join("");

describe('backend "interactions"', () => {
  it("runs the chat: each message continues the chain; the third reply proves the first question reached the model", async () => {
    await gw.sim.resetStats();
    const created = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash", backend: "interactions", systemInstruction: "Be brief." });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const replies = [];
    for (const message of QUESTIONS) {
      const reply = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message });
      expect(reply.status).toBe(200);
      replies.push(reply.body);
    }
    expect(replies.map((r) => [r.turn, r.turnsLeft, r.appended, r.status, r.finishReason])).toEqual([
      [1, 3, true, "completed", "STOP"],
      [2, 2, true, "completed", "STOP"],
      [3, 1, true, "completed", "STOP"],
    ]);
    expect(String(replies[2]!.text).startsWith(THIRD_REPLY_CONTEXT)).toBe(true);
    // Only the new message went upstream each time: the chain, not the history.
    expect(replies[1]!.previous_interaction_id).toBe(replies[0]!.id);
    expect((await gw.sim.stats()).byMethod).toMatchObject({ createInteraction: 3, generateContent: 0 });

    // The export reads the chain back: the whole history, in order.
    const exported = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect(exported.status).toBe(200);
    expect(exported.body).toMatchObject({ backend: "interactions", turns: 3 });
    const history = exported.body.history as Content[];
    expect(history.map((c) => c.role)).toEqual(["user", "model", "user", "model", "user", "model"]);
    expect(history.filter((c) => c.role === "user").map(textOf)).toEqual([...QUESTIONS]);
    expect(textOf(history[5]!)).toBe(replies[2]!.text);

    // The turn cap holds: Google's history cannot be trimmed, so the fifth turn is refused, nothing sent upstream.
    expect((await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "a fourth" })).status).toBe(200);
    const before = (await gw.sim.stats()).byMethod.createInteraction;
    const refused = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "a fifth" });
    expect(refused.status).toBe(400);
    expect(refused.body.error?.message).toMatch(/cap of 4 turns \(SESSION_MAX_TURNS\).*held by the Interactions API/);
    expect((await gw.sim.stats()).byMethod.createInteraction).toBe(before);
    expect(gw.events.at(-1)).toEqual({ type: "turn_cap_rejected" });
  });

  it("an imported history goes with the first message; streamed replies end with the session event", async () => {
    const history = [
      { role: "user", parts: [{ text: "My name is Ada." }] },
      { role: "model", parts: [{ text: "Hello Ada." }] },
    ];
    const created = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash", backend: "interactions", history });
    expect(created.body.turns).toBe(1);
    const id = created.body.id as string;
    const res = await fetch(`${gw.url}/v1/sessions/${id}/messages?stream=sse`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": "key-tenant-a" },
      body: JSON.stringify({ message: "What is my name?" }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = (await res.text()).split("\n").filter((line) => line.startsWith("data: ")).map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
    expect(events.some((e) => e.event_type === "interaction.completed")).toBe(true);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ turn: 2, appended: true, finishReason: "STOP" });
    expect(String(last.text)).toContain('first user message: "My name is Ada."');
    const exported = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect((exported.body.history as Content[]).map(textOf).slice(0, 3)).toEqual(["My name is Ada.", "Hello Ada.", "What is my name?"]);
  });

  it("refuses what the Interactions input cannot carry, and another tenant's session is not found", async () => {
    const tools = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash", backend: "interactions", tools: [{ codeExecution: {} }] });
    expect(tools.status).toBe(400);
    expect(tools.body.error?.message).toMatch(/^tools: a session with backend "interactions"/);
    const bad = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash", backend: "elsewhere" });
    expect(bad.status).toBe(400);
    const created = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash", backend: "interactions" });
    const id = created.body.id as string;
    const call1 = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: [{ functionResponse: { name: "f", response: {} } }] });
    expect(call1.status).toBe(400);
    expect((await call(gw.url, "GET", `/v1/sessions/${id}`, undefined, KEY_B)).status).toBe(404);
  });
});
