// The trace of a session message through a real gateway: one `session_message` span holding the store steps and
// the model call, on the memory store and on Redis, continuing the client's trace; a refused message is an error span.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { SpanKind, SpanStatusCode, type HrTime } from "@opentelemetry/api";
import { hrTimeToNanoseconds } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../../src/config/gateway.js";
import { loadSessionConfig } from "../../src/config/sessions.js";
import { loadTelemetryConfig } from "../../src/config/telemetry.js";
import { startGateway, type RunningGateway } from "../../src/server/gateway.js";
import { createTelemetry } from "../../src/telemetry/telemetry.js";
import { startTestSimulator, type TestSimulator } from "../helpers/sim.js";
import { dropKeys } from "../sessions/harness.js";

const KEY = "spans-key";
const CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN = "b7ad6b7169203331";
const REDIS = "redis://127.0.0.1:6379/11";
const REDIS_PREFIX = `spans-${randomBytes(4).toString("hex")}:`;

let sim: TestSimulator;
beforeAll(async () => {
  sim = await startTestSimulator();
});
afterAll(async () => {
  await sim.close();
  await dropKeys(REDIS, REDIS_PREFIX);
});

async function startTraced(sessionEnv: Record<string, string>): Promise<{ gateway: RunningGateway; spans: InMemorySpanExporter }> {
  const spans = new InMemorySpanExporter();
  const telemetry = createTelemetry(loadTelemetryConfig({}), { log: () => undefined, spanProcessors: [new SimpleSpanProcessor(spans)] });
  const gateway = await startGateway(
    {
      gateway: loadGatewayConfig({ PORT: "0", HOST: "127.0.0.1", GEMINI_BASE_URL: sim.url, GEMINI_API_KEY: "up", GATEWAY_KEYS: `${KEY}:acme` }),
      sessions: loadSessionConfig(sessionEnv),
    },
    { telemetry, logger: pino({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() })) },
  );
  return { gateway, spans };
}

async function call(gateway: RunningGateway, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method,
    headers: { "x-goog-api-key": KEY, "content-type": "application/json", traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The spans once the message span has ended: it ends when the response has been written out, which the client can
 *  see (and this test read) a moment before the gateway's 'finish' handler runs. */
async function finishedMessageSpans(spans: InMemorySpanExporter): Promise<ReadableSpan[]> {
  for (let i = 0; i < 500 && !spans.getFinishedSpans().some((s) => s.name === "session_message"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return spans.getFinishedSpans();
}

/** Each span as `name <- parent name` (the client's span shows as `client`). */
function tree(spans: ReadableSpan[]): string[] {
  const names = new Map(spans.map((s) => [s.spanContext().spanId, s.name]));
  return spans.map((s) => `${s.name} <- ${names.get(s.parentSpanContext?.spanId ?? "") ?? (s.parentSpanContext?.spanId === CLIENT_SPAN ? "client" : "none")}`);
}

describe.each([
  ["memory", { SESSION_STORE: "memory" }, SpanKind.INTERNAL],
  ["redis", { SESSION_STORE: REDIS, SESSION_REDIS_PREFIX: REDIS_PREFIX }, SpanKind.CLIENT],
])("a session message on the %s store", (store, sessionEnv, stepKind) => {
  let gateway: RunningGateway;
  let spans: InMemorySpanExporter;
  beforeAll(async () => {
    ({ gateway, spans } = await startTraced(sessionEnv));
  });
  afterAll(async () => {
    await gateway.close();
  });

  it("is one span holding the store steps and the model call, in the client's trace", async () => {
    const created = (await (await call(gateway, "POST", "/v1/sessions", { model: "gemini-2.5-flash" })).json()) as { id: string };
    spans.reset();
    const reply = await call(gateway, "POST", `/v1/sessions/${created.id}/messages`, { message: "hello" });
    expect(reply.status).toBe(200);
    await reply.text();
    const finished = await finishedMessageSpans(spans);
    expect(tree(finished).sort()).toEqual(
      [
        "session_message <- client",
        "session_store lookup <- session_message",
        "session_store acquire_turn <- session_message",
        "session_store lookup <- session_message",
        "generate_content gemini-2.5-flash <- session_message",
        "upstream_attempt <- generate_content gemini-2.5-flash",
        "session_store commit <- session_message",
      ].sort(),
    );
    expect(new Set(finished.map((s) => s.spanContext().traceId))).toEqual(new Set([CLIENT_TRACE]));
    const message = finished.find((s) => s.name === "session_message")!;
    expect(message.kind).toBe(SpanKind.SERVER);
    expect(message.attributes).toEqual({
      "gen_ai.conversation.id": created.id,
      "gemini_gateway.tenant": "acme",
      "gemini_gateway.session.store": store,
      "gen_ai.request.stream": false,
      "gemini_gateway.session.turn": 1,
      "gemini_gateway.session.appended": true,
    });
    const commit = finished.find((s) => s.name === "session_store commit")!;
    expect(commit.kind).toBe(stepKind);
    expect(commit.attributes).toEqual(store === "redis" ? { "gemini_gateway.session.store": "redis", "db.system.name": "redis" } : { "gemini_gateway.session.store": "memory" });
    // every step lies within the message span (give or take the millisecond to which OTel JS rounds a start time)
    const ms = (time: HrTime): number => hrTimeToNanoseconds(time) / 1e6;
    for (const span of finished.filter((s) => s.name.startsWith("session_store"))) {
      expect(ms(span.startTime)).toBeGreaterThanOrEqual(ms(message.startTime) - 1);
      expect(ms(span.endTime)).toBeLessThanOrEqual(ms(message.endTime) + 1);
    }
  });

  it("a message to a session that does not exist: an error span, and its lookup step failed", async () => {
    spans.reset();
    const reply = await call(gateway, "POST", "/v1/sessions/no-such-session/messages", { message: "hello" });
    expect(reply.status).toBe(404);
    await reply.text();
    const finished = await finishedMessageSpans(spans);
    expect(tree(finished).sort()).toEqual(["session_message <- client", "session_store lookup <- session_message"].sort());
    for (const span of finished) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes["error.type"]).toBe("404");
    }
  });
});
