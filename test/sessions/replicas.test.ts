// Two `gemini-gateway serve` processes on one Redis server (db 12, a prefix per run, removed after): the core session
// cases of every shared store (test/sessions/shared-store.ts); the Cluster and Sentinel runs are beside this file.
import { Redis } from "ioredis";
import { afterAll, describe } from "vitest";
import { dropKeys } from "./harness.js";
import { sharedStoreCases } from "./shared-store.js";

const REDIS = "redis://127.0.0.1:6379/12";
const client = new Redis(REDIS);
afterAll(() => {
  client.disconnect();
});

describe("two gateway processes on one Redis server", () => {
  sharedStoreCases({ store: () => REDIS, sessionKeyExists: async (key) => (await client.exists(key)) === 1, dropKeys: (prefix) => dropKeys(REDIS, prefix) });
});
