// A benchmark's own keys on the shared Redis: deleted by prefix when it ends (never a flush: others use the server).
import type { Redis } from "ioredis";

/** Deletes every key under `prefix` in the client's db; returns how many. */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== "0");
  return deleted;
}
