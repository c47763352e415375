// Idle client connections stay open for KEEP_ALIVE_TIMEOUT_MS (longer than a load balancer's idle timeout by default).
import { once } from "node:events";
import { connect } from "node:net";
import { describe, expect, test } from "vitest";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { startStack } from "./stack.js";

describe("keep-alive", () => {
  test("65 s by default, above the 60 s idle timeout of common load balancers", () => {
    expect(loadGatewayConfig({ GEMINI_API_KEY: "k", GATEWAY_AUTH: "none" }).keepAliveTimeoutMs).toBe(65_000);
  });

  test("the gateway closes a connection idle for KEEP_ALIVE_TIMEOUT_MS, and not before its answer", async () => {
    const stack = await startStack({ KEEP_ALIVE_TIMEOUT_MS: "50" });
    try {
      const socket = connect(Number(new URL(stack.url).port), "127.0.0.1");
      await once(socket, "connect");
      let received = "";
      socket.on("data", (data: Buffer) => (received += data.toString()));
      socket.write("GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n");
      await once(socket, "close");
      expect(received).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\{"status":"ok"\}$/);
    } finally {
      await stack.close();
    }
  });
});
