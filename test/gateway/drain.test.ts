// SIGTERM on a spawned `node dist/cli.js serve`: readyz turns 503, the in-flight stream finishes, exit 0;
// a stream that would never finish is cut at DRAIN_TIMEOUT_MS and the exit is still 0; a connection opened ahead of use
// does not hold the drain up.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { reapOnExit } from "../helpers/reaper.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";

let sim: TestSimulator;
beforeAll(async () => {
  sim = await startTestSimulator({ replyTokens: { min: 40, max: 40 }, tokensPerSecond: 40 });
});
afterAll(async () => {
  await sim.close();
});

async function serve(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; draining: Promise<void> }> {
  const child = spawn(process.execPath, ["dist/cli.js", "serve", "--port", "0", "--host", "127.0.0.1"], {
    env: { ...process.env, GEMINI_BASE_URL: sim.url, GEMINI_API_KEY: "up", GATEWAY_AUTH: "none", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  reapOnExit(child); // killed if a failed test leaves it running
  let out = "";
  const draining = new Promise<void>((resolve) => {
    child.stdout!.on("data", (data: Buffer) => {
      out += data.toString();
      if (out.includes('"msg":"draining"')) resolve();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const match = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  return { child, port, draining };
}

/** A raw connection to the gateway: what it received, and when it closed. */
function rawConnection(port: number, request: string): { socket: Socket; received: () => string; firstChunk: Promise<void>; ended: Promise<void> } {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  const firstChunk = new Promise<void>((resolve) => {
    socket.on("data", (data: Buffer) => {
      received += data.toString();
      resolve();
    });
  });
  socket.write(request);
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => received, firstChunk, ended };
}

const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "drain me gently" }] }] });
const STREAM_REQUEST =
  "POST /v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n" +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test("SIGTERM: readyz 503, the in-flight stream completes, exit 0", async () => {
  const { child, port, draining } = await serve({ DRAIN_TIMEOUT_MS: "20000" });
  const exited = once(child, "exit");
  const stream = rawConnection(port, STREAM_REQUEST);
  // A probe connection whose request has begun (headers not finished): it is not idle, so the drain keeps it.
  const probe = rawConnection(port, "GET /readyz HTTP/1.1\r\nHost: gw\r\n");
  await stream.firstChunk;
  child.kill("SIGTERM");
  await draining;
  probe.socket.write("\r\n");
  await Promise.all([stream.ended, probe.ended]);
  const [code] = await exited;
  expect(code).toBe(0);
  expect(stream.received()).toMatch(/"finishReason":"STOP"/);
  expect(probe.received()).toMatch(/^HTTP\/1\.1 503[\s\S]*[Cc]onnection: close[\s\S]*"status":"draining"/);
});

test("SIGTERM with a stream that never ends: cut at DRAIN_TIMEOUT_MS, exit 0", async () => {
  await sim.setFaults([{ fault: { kind: "hang", afterChunks: 1 } }]);
  try {
    const { child, port } = await serve({ DRAIN_TIMEOUT_MS: "200" });
    const exited = once(child, "exit");
    const connection = rawConnection(port, STREAM_REQUEST);
    await connection.firstChunk;
    child.kill("SIGTERM");
    await connection.ended;
    const [code] = await exited;
    expect(code).toBe(0);
    expect(connection.received()).not.toMatch(/finishReason/);
  } finally {
    await sim.clearFaults();
  }
});

test("SIGTERM with a connection that never sent a byte (opened ahead of use): closed at once, it does not hold the drain", async () => {
  // With the drain timeout far beyond the test's, only closing that connection lets the process exit in time.
  const { child, port } = await serve({ DRAIN_TIMEOUT_MS: "600000" });
  const exited = once(child, "exit");
  const unused = rawConnection(port, "");
  await once(unused.socket, "connect");
  child.kill("SIGTERM");
  await unused.ended;
  const [code] = await exited;
  expect(code).toBe(0);
  expect(unused.received()).toBe("");
});
