// Memory store with SESSION_SNAPSHOT_FILE: SIGTERM writes every session, a restart loads them, conversations continue.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Content } from "../../src/gemini/types.js";
import { startTestSimulator } from "../helpers/sim.js";
import type { TestSimulator } from "../helpers/sim.js";
import { call } from "./harness.js";
import { spawnGateway } from "./process.js";

let sim: TestSimulator;
let dir: string;
beforeAll(async () => {
  sim = await startTestSimulator();
  dir = await mkdtemp(join(tmpdir(), "sessions-snapshot-"));
});
afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("memory store with a snapshot file", () => {
  it("SIGTERM, restart, and every session continues", async () => {
    const env = { SESSION_SNAPSHOT_FILE: join(dir, "sessions.json") };
    const first = await spawnGateway(sim.url, env);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await call(first.url, "POST", "/v1/sessions", { model: "gemini-2.0-flash" });
      ids.push(body.id as string);
      await call(first.url, "POST", `/v1/sessions/${body.id as string}/messages`, { message: `first message of ${i}` });
      await call(first.url, "POST", `/v1/sessions/${body.id as string}/messages`, { message: `second message of ${i}` });
    }
    expect(await first.stop()).toBe(0);
    const snapshot = JSON.parse(await readFile(env.SESSION_SNAPSHOT_FILE, "utf8")) as { sessions: unknown[] };
    expect(snapshot.sessions).toHaveLength(3);

    const second = await spawnGateway(sim.url, env);
    try {
      for (const [i, id] of ids.entries()) {
        const third = await call(second.url, "POST", `/v1/sessions/${id}/messages`, { message: "What was the first thing I asked you?" });
        expect(third.body).toMatchObject({ turn: 3, historyLength: 6, appended: true });
        expect(third.body.text).toContain(`[context: 5 contents; first user message: "first message of ${i}"]`);
        const history = (await call(second.url, "GET", `/v1/sessions/${id}`)).body.history as Content[];
        expect(history.filter((c) => c.role === "user").map((c) => c.parts[0]!.text)).toEqual([
          `first message of ${i}`,
          `second message of ${i}`,
          "What was the first thing I asked you?",
        ]);
      }
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
