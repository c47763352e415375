// The gateway's own time (gemini_gateway_overhead_seconds, Server-Timing) counts from the request's arrival: for a
// session message it includes the wait behind an earlier message of the same session.
import { describe, expect, test } from "vitest";
import { GATEWAY_KEY, eventually, post, startStack, userContent } from "./stack.js";

describe("gateway overhead", () => {
  test("a proxied call: measured, and inside the gateway's Server-Timing", async () => {
    const stack = await startStack();
    try {
      const res = await post(stack, "/v1beta/models/gemini-2.5-flash:generateContent", userContent("hi"));
      await res.text();
      const timing = /gateway;dur=([\d.]+), upstream;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")!;
      await eventually(() => stack.records.length === 1);
      const overhead = stack.records[0]!.gatewayOverheadMs!;
      expect(overhead).toBeGreaterThan(0);
      expect(overhead).toBeLessThanOrEqual(Number(timing[1]) - Number(timing[2]) + 0.01);
    } finally {
      await stack.close();
    }
  });

  test("a session message queued behind another counts its wait", async () => {
    // 100 tokens at 400 tokens/s: each answer takes a quarter of a second to stream.
    const stack = await startStack({}, { replyTokens: { min: 100, max: 100 }, tokensPerSecond: 400 });
    try {
      const headers = { "content-type": "application/json", "x-goog-api-key": GATEWAY_KEY };
      const created = (await (await fetch(`${stack.url}/v1/sessions`, { method: "POST", headers, body: JSON.stringify({ model: "gemini-2.0-flash" }) })).json()) as { id: string };
      const send = (message: string) =>
        fetch(`${stack.url}/v1/sessions/${created.id}/messages`, { method: "POST", headers, body: JSON.stringify({ message }) }).then((r) => r.json());
      // The second message is sent while the first one's answer is still streaming (250 ms), so it must wait.
      const first = send("first");
      await eventually(async () => (await stack.sim.stats()).requests === 1);
      await Promise.all([first, send("second")]);
      await eventually(() => stack.records.length === 2);
      const [one, two] = [...stack.records].sort((a, b) => a.startedAt - b.startedAt);
      // The second model call started once the first had finished (its turn came after the first's commit)...
      expect(two!.attempts[0]!.startedAt).toBeGreaterThanOrEqual(one!.endedAt);
      // ...and its overhead reaches back to its arrival, before the first had finished: the wait is counted.
      // (Without the wait it would end up at or after one.endedAt; 1 ms for Date.now's rounding.)
      const arrivedAt = two!.attempts[0]!.startedAt - two!.gatewayOverheadMs!;
      expect(arrivedAt + 1).toBeLessThan(one!.endedAt);
      expect(one!.gatewayOverheadMs!).toBeLessThan(two!.gatewayOverheadMs!);
    } finally {
      await stack.close();
    }
  });
});
