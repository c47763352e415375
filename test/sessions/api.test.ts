import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { unavailable } from "../../src/gemini/errors.js";
import type { SessionData, SessionStore } from "../../src/sessions/store.js";
import { call, KEY_B, startSessionGateway } from "./harness.js";
import type { SessionGateway } from "./harness.js";

let gw: SessionGateway;
beforeAll(async () => {
  gw = await startSessionGateway();
});
afterAll(async () => {
  await gw.close();
});

const textOf = (content: Content): string => content.parts.map((p) => p.text ?? "").join("");

describe("the session API", () => {
  it("runs the chat example: three messages, the third reply proves the whole history was sent", async () => {
    const created = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash" });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/); // 128 bits, base64url
    expect(created.body).toMatchObject({ model: "gemini-2.5-flash", turns: 0, maxTurns: 50, history: [] });

    const messages = ["Explain quantum entanglement in one sentence", "Now explain it to a five-year-old", "What was the first thing I asked you?"];
    const replies = [];
    for (const message of messages) {
      const reply = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message });
      expect(reply.status).toBe(200);
      replies.push(reply.body);
    }
    expect(replies.map((r) => [r.turn, r.historyLength, r.turnsLeft, r.trimmedTurns, r.appended])).toEqual([
      [1, 2, 49, 0, true],
      [2, 4, 48, 0, true],
      [3, 6, 47, 0, true],
    ]);
    // The simulator's context line: 5 contents were sent, the first user message was the first question.
    expect(replies[2]!.text).toContain('[context: 5 contents; first user message: "Explain quantum entanglement in one sentence"]');
    const third = replies[2]!;
    expect(third.finishReason).toBe("STOP");
    expect((third.candidates as Array<{ content: Content }>)[0]!.content.parts[0]!.text).toBe(third.text);
    expect((third.usageMetadata as { promptTokenCount: number }).promptTokenCount).toBeGreaterThan(0);

    const exported = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect(exported.status).toBe(200);
    const history = exported.body.history as Content[];
    expect(history.map((c) => c.role)).toEqual(["user", "model", "user", "model", "user", "model"]);
    expect(history.filter((c) => c.role === "user").map(textOf)).toEqual(messages);
    expect(textOf(history[5]!)).toBe(third.text);
    expect(exported.body).toMatchObject({ id, model: "gemini-2.5-flash", turns: 3 });
    const usage = exported.body.usage as { totalTokenCount: number };
    expect(usage.totalTokenCount).toBeGreaterThan(0);
  });

  it("round-trips an export through import, and continues the imported conversation", async () => {
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash", systemInstruction: "Be brief." });
    const id = created.id as string;
    await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "Hello there" });
    await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: [{ text: "And again" }] });
    const { body: exported } = await call(gw.url, "GET", `/v1/sessions/${id}`);

    const imported = await call(gw.url, "POST", "/v1/sessions", {
      model: exported.model,
      history: exported.history,
      systemInstruction: exported.systemInstruction,
    });
    expect(imported.status).toBe(201);
    expect(imported.body.id).not.toBe(id);
    expect(imported.body.history).toEqual(exported.history);
    expect(imported.body.turns).toBe(2);
    const { body: reexported } = await call(gw.url, "GET", `/v1/sessions/${imported.body.id as string}`);
    expect(reexported.history).toEqual(exported.history);
    expect(reexported.systemInstruction).toEqual({ parts: [{ text: "Be brief." }] });

    const next = await call(gw.url, "POST", `/v1/sessions/${imported.body.id as string}/messages`, { message: "Third" });
    expect(next.body).toMatchObject({ turn: 3, historyLength: 6, appended: true });
    expect(next.body.text).toContain('[context: 5 contents; first user message: "Hello there"]');
  });

  it("streams Gemini's SSE chunks, then one event with the session fields, and appends the turn", async () => {
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash" });
    const id = created.id as string;
    const res = await fetch(`${gw.url}/v1/sessions/${id}/messages?stream=sse`, {
      method: "POST",
      headers: { "x-goog-api-key": "key-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({ message: "Tell me a story" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = (await res.text()).split("\r\n\r\n").filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, "")) as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(2);
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ turn: 1, historyLength: 2, turnsLeft: 49, trimmedTurns: 0, appended: true, finishReason: "STOP" });
    const streamedText = events.slice(0, -1).map((e) => ((e.candidates as Array<{ content?: Content }> | undefined)?.[0]?.content?.parts ?? []).map((p) => p.text ?? "").join("")).join("");
    expect(last.text).toBe(streamedText);
    const { body: exported } = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect(textOf((exported.history as Content[])[1]!)).toBe(streamedText);
  });

  it("lists the tenant's sessions with limit and cursor; other tenants see none of them and get 404", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash" }, KEY_B)).body.id as string);
    const first = await call(gw.url, "GET", "/v1/sessions?limit=2", undefined, KEY_B);
    expect(first.status).toBe(200);
    const page1 = first.body.sessions as Array<{ id: string; model: string; turns: number; lastUsedAt: string }>;
    expect(page1).toHaveLength(2);
    expect(page1[0]).toMatchObject({ model: "gemini-2.5-flash", turns: 0 });
    const second = await call(gw.url, "GET", `/v1/sessions?limit=2&cursor=${first.body.nextCursor as string}`, undefined, KEY_B);
    const page2 = second.body.sessions as Array<{ id: string }>;
    expect(second.body.nextCursor).toBeUndefined();
    expect([...page1, ...page2].map((s) => s.id).sort()).toEqual([...ids].sort());

    const { body: mine } = await call(gw.url, "GET", "/v1/sessions?limit=1000");
    expect((mine.sessions as Array<{ id: string }>).some((s) => ids.includes(s.id))).toBe(false);
    for (const [method, path] of [["GET", `/v1/sessions/${ids[0]}`], ["DELETE", `/v1/sessions/${ids[0]}`], ["POST", `/v1/sessions/${ids[0]}/messages`]] as const) {
      const reply = await call(gw.url, method, path, method === "POST" ? { message: "hi" } : undefined);
      expect([reply.status, reply.body.error?.status, reply.body.error?.message]).toEqual([404, "NOT_FOUND", `Session ${ids[0]} was not found.`]);
    }
  });

  it("deletes: 204, then 404 saying it was deleted", async () => {
    const { body } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash" });
    const del = await call(gw.url, "DELETE", `/v1/sessions/${body.id as string}`);
    expect(del.status).toBe(204);
    const gone = await call(gw.url, "GET", `/v1/sessions/${body.id as string}`);
    expect([gone.status, gone.body.error?.message]).toEqual([404, `Session ${body.id as string} is gone: it was deleted.`]);
  });

  it("answers bad input with Gemini-envelope errors", async () => {
    const cases: Array<[string, string, unknown, number, string, unknown]> = [
      // The parser's reason follows, as on the proxy routes and at Google.
      ["POST", "/v1/sessions", "{not json", 400, "INVALID_ARGUMENT", expect.stringMatching(/^Invalid JSON payload received\. \S/)],
      ["POST", "/v1/sessions", { model: "m", history: [{ role: "user", parts: [{ text: "a" }] }, { role: "assistant", parts: [{ text: "b" }] }] }, 400, "INVALID_ARGUMENT", 'history[1]: role "assistant" is not one of user, model'],
      ["POST", "/v1/sessions", { model: "m", extra: 1 }, 400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "extra": Cannot find field.'],
      // the model goes into the upstream path: no dot segments or slashes
      ["POST", "/v1/sessions", { model: "../../v1beta/cachedContents" }, 400, "INVALID_ARGUMENT", 'model: "../../v1beta/cachedContents" is not a model name: use letters, digits, ".", "-" and "_" (e.g. gemini-2.5-flash).'],
      ["GET", "/v1/sessions?limit=0", undefined, 400, "INVALID_ARGUMENT", "limit must be an integer from 1 to 1000"],
      ["GET", "/v1/sessions/nope", undefined, 404, "NOT_FOUND", "Session nope was not found."],
    ];
    for (const [method, path, body, status, canonical, message] of cases) {
      const reply = await call(gw.url, method, path, body);
      expect([reply.status, reply.body.error?.status, reply.body.error?.message]).toEqual([status, canonical, message]);
    }
    const noKey = await fetch(`${gw.url}/v1/sessions`, { method: "POST", body: "{}" });
    expect(noKey.status).toBe(403);
    const badKey = await call(gw.url, "POST", "/v1/sessions", { model: "m" }, "wrong");
    expect([badKey.status, badKey.body.error?.message]).toEqual([400, "API key not valid. Please pass a valid API key."]);
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash" });
    const badMessage = await call(gw.url, "POST", `/v1/sessions/${created.id as string}/messages`, { message: [{}] });
    expect([badMessage.status, badMessage.body.error?.message]).toEqual([
      400,
      "message.parts[0]: a part must have exactly one data field (text, inlineData, fileData, functionCall, functionResponse, executableCode, codeExecutionResult); found none",
    ]);
    const badStream = await call(gw.url, "POST", `/v1/sessions/${created.id as string}/messages?stream=json`, { message: "x" });
    expect(badStream.status).toBe(400);
  });
});

describe("failed model calls leave the history unchanged", () => {
  it.each<[string, unknown]>([
    ["an upstream 400", { status: 400 }],
    ["a blocked prompt", { kind: "block", blockReason: "SAFETY" }],
  ])("%s", async (_name, fault) => {
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
    const id = created.id as string;
    await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "first" });
    const { body: before } = await call(gw.url, "GET", `/v1/sessions/${id}`);
    await gw.sim.setFaults([{ when: { model: "gemini-2.0-flash" }, fault: fault as never, times: 1 }]);
    const failed = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "second" });
    if (failed.status === 200) {
      expect(failed.body).toMatchObject({ appended: false, notAppendedReason: "the prompt was blocked (SAFETY)", historyLength: 2 });
    } else {
      expect(failed.status).toBe(400);
      expect(failed.headers.get("x-gateway-session-appended")).toBe("false");
      expect(failed.body.error?.status).toBe("INVALID_ARGUMENT");
    }
    const { body: after } = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect(after.history).toEqual(before.history);
    const next = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "third" });
    expect(next.body).toMatchObject({ turn: 2, historyLength: 4, appended: true });
  });

  it("the store failing at commit: a unary send answers 503 UNAVAILABLE, a stream's last event says nothing was appended", async () => {
    let storeDown = false;
    const outage = unavailable("The session store is unavailable (Redis at test: Connection is closed.).");
    const down = await startSessionGateway({}, {
      sim: gw.sim,
      wrapStore: (store) =>
        new Proxy(store, {
          get: (target, name: keyof SessionStore) => {
            if (name === "commit") return (session: SessionData) => (storeDown ? Promise.reject(outage) : target.commit(session));
            const value = target[name];
            return typeof value === "function" ? value.bind(target) : value;
          },
        }),
    });
    try {
      const { body: created } = await call(down.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
      const id = created.id as string;
      await call(down.url, "POST", `/v1/sessions/${id}/messages`, { message: "first" });
      storeDown = true;
      const unary = await call(down.url, "POST", `/v1/sessions/${id}/messages`, { message: "second" });
      expect([unary.status, unary.body.error?.status, unary.body.error?.message]).toEqual([503, "UNAVAILABLE", outage.message]);
      const res = await fetch(`${down.url}/v1/sessions/${id}/messages?stream=sse`, {
        method: "POST",
        headers: { "x-goog-api-key": "key-tenant-a", "content-type": "application/json" },
        body: JSON.stringify({ message: "third" }),
      });
      const events = (await res.text()).split("\r\n\r\n").filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, "")) as Record<string, unknown>);
      expect(events.at(-1)).toMatchObject({ appended: false, notAppendedReason: outage.message, historyLength: 2 });
      storeDown = false;
      const { body: after } = await call(down.url, "GET", `/v1/sessions/${id}`);
      expect((after.history as Content[]).map(textOf)).toEqual(["first", expect.any(String)]);
    } finally {
      await down.close();
    }
  });

  it("an empty candidate (thinking spent the whole budget) is not appended", async () => {
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.5-flash", generationConfig: { maxOutputTokens: 8 } });
    const reply = await call(gw.url, "POST", `/v1/sessions/${created.id as string}/messages`, { message: "think hard" });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ appended: false, finishReason: "MAX_TOKENS", historyLength: 0 });
    expect(reply.body.notAppendedReason).toBe("the reply has no content (finishReason MAX_TOKENS)");
    // A message's generationConfig is merged over the session's: a larger budget gets an answer that is kept.
    const roomier = await call(gw.url, "POST", `/v1/sessions/${created.id as string}/messages`, { message: "think hard", generationConfig: { maxOutputTokens: 4000 } });
    expect(roomier.body).toMatchObject({ appended: true, finishReason: "STOP", historyLength: 2 });
  });

  it("thought summaries (includeThoughts) reach the client but stay out of the history; a budget they spent is not appended", async () => {
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", {
      model: "gemini-2.5-flash",
      generationConfig: { thinkingConfig: { includeThoughts: true } },
    });
    const id = created.id as string;
    const reply = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "why is the sky blue?" });
    const parts = (reply.body.candidates as Array<{ content: { parts: Array<{ thought?: boolean; text: string }> } }>)[0]!.content.parts;
    expect(parts.map((p) => p.thought === true)).toEqual([true, false]);
    expect(reply.body).toMatchObject({ appended: true, historyLength: 2 });
    const { body: exported } = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect(exported.history).toEqual([
      { role: "user", parts: [{ text: "why is the sky blue?" }] },
      { role: "model", parts: [{ text: parts[1]!.text }] },
    ]);
    // the thoughts spend the whole budget: the candidate holds only the summary, which is no answer to keep
    const cut = await call(gw.url, "POST", `/v1/sessions/${id}/messages`, { message: "think hard", generationConfig: { maxOutputTokens: 8 } });
    expect(cut.body).toMatchObject({ appended: false, finishReason: "MAX_TOKENS", historyLength: 2 });
  });

  it("a mid-stream error appends nothing", async () => {
    const { body: created } = await call(gw.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash-lite" });
    const id = created.id as string;
    await gw.sim.setFaults([{ when: { model: "gemini-2.0-flash-lite" }, fault: { kind: "midstream_error", afterChunks: 1 }, times: 1 }]);
    const res = await fetch(`${gw.url}/v1/sessions/${id}/messages?stream=sse`, {
      method: "POST",
      headers: { "x-goog-api-key": "key-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({ message: "a long story please" }),
    });
    expect(res.status).toBe(200);
    await res.text().catch(() => "");
    const { body: after } = await call(gw.url, "GET", `/v1/sessions/${id}`);
    expect(after.history).toEqual([]);
  });
});
