// The gateway's spans as a collector receives them: real OTLP over gRPC and over HTTP/protobuf, to receivers in this
// file (a @grpc/grpc-js TraceService and a node:http endpoint, decoding with protobufjs), with the exporter, protocol,
// endpoint, headers, sampler and resource chosen by the SDK from the standard OTEL_* settings, given as environment
// or as flags. Also: export failures logged once with the endpoint, and a shutdown that does not wait for a dead
// collector.

import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { gunzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import protobuf from "protobufjs";
import { afterEach, describe, expect, it } from "vitest";
import { loadSections } from "../../src/config/source.js";
import { telemetrySection } from "../../src/config/telemetry.js";
import type { TelemetryConfig } from "../../src/config/telemetry.js";
import { extractParentContext } from "../../src/telemetry/context.js";
import { createTelemetry } from "../../src/telemetry/telemetry.js";
import type { Telemetry } from "../../src/telemetry/telemetry.js";
import { T0, tapped, turn } from "./helpers.js";

const INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_PARENT_SPAN = "00f067aa0ba902b7";

/** A call with two attempts (a 429, then success) inside the caller's trace: three spans. */
const RETRIED = turn({
  model: "models/gemini-2.5-pro",
  conversationId: "sess-7",
  attempts: [
    { startedAt: T0 + 1, endedAt: T0 + 10, httpStatus: 429, outcome: "429", retry: { reason: "429", delayMs: 500, source: "backoff" } },
    { startedAt: T0 + 510, endedAt: T0 + 600, httpStatus: 200, outcome: "ok" },
  ],
  response: tapped(
    { promptTokenCount: 12, candidatesTokenCount: 3, thoughtsTokenCount: 5, totalTokenCount: 20 },
    { finishReasons: ["STOP"], hasVisibleParts: true, responseId: "resp-otlp", modelVersion: "gemini-2.5-pro-001", text: "ok" },
  ),
  parentContext: extractParentContext({ traceparent: `00-${INCOMING_TRACE}-${INCOMING_PARENT_SPAN}-01` }),
  endedAt: T0 + 700,
});

// The part of the OTLP trace protocol (opentelemetry/proto/collector/trace/v1 and the messages it uses) the tests
// read. The OTel JS packages of the 2.x line serialize by hand and ship no .proto files; the field numbers are the
// protocol's, so the package name here does not matter on the wire.
const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; repeated Event events = 11;
  uint32 dropped_events_count = 12; Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; }
}
message ArrayValue { repeated AnyValue values = 1; }
`;
const exportRequestType = protobuf.parse(OTLP_PROTO).root.lookupType("otlp.ExportTraceServiceRequest");

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: string[];
}
interface DecodedExport {
  resources: Array<{ attributes: Record<string, unknown>; spans: DecodedSpan[] }>;
}

function anyValue(value: OtlpAnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  return value.stringValue ?? value.boolValue ?? value.intValue ?? value.doubleValue;
}

const attributeMap = (list: OtlpKeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));

const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString("hex");

function decodeExport(body: Uint8Array): DecodedExport {
  // protobufjs' plain-object form of the message above (camelCase fields, int64 as numbers, bytes as bytes).
  const request = exportRequestType.toObject(exportRequestType.decode(body), { longs: Number }) as {
    resourceSpans?: Array<{
      resource?: { attributes?: OtlpKeyValue[] };
      scopeSpans?: Array<{
        spans?: Array<{ traceId?: Uint8Array; spanId?: Uint8Array; parentSpanId?: Uint8Array; name: string; kind: number; attributes?: OtlpKeyValue[]; events?: Array<{ name: string }> }>;
      }>;
    }>;
  };
  return {
    resources: (request.resourceSpans ?? []).map((rs) => ({
      attributes: attributeMap(rs.resource?.attributes),
      spans: (rs.scopeSpans ?? []).flatMap((ss) =>
        (ss.spans ?? []).map((span) => ({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind,
          attributes: attributeMap(span.attributes),
          events: (span.events ?? []).map((e) => e.name),
        })),
      ),
    })),
  };
}

interface ReceivedExport {
  path: string;
  headers: Record<string, unknown>;
  request: DecodedExport;
}

interface Receiver {
  endpoint: string;
  received: ReceivedExport[];
  close(): Promise<void>;
}

const TRACE_SERVICE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/** An OTLP gRPC collector: TraceService/Export, answering every export with an empty response (or never). */
async function startGrpcReceiver(options: { answer?: boolean } = {}): Promise<Receiver & { pending: () => number }> {
  const received: ReceivedExport[] = [];
  let pending = 0;
  const server = new grpc.Server();
  const raw = (bytes: Buffer): Buffer => bytes;
  server.addService(
    {
      Export: {
        path: TRACE_SERVICE_EXPORT,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Export(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
        received.push({ path: TRACE_SERVICE_EXPORT, headers: call.metadata.getMap(), request: decodeExport(call.request) });
        if (options.answer === false) {
          pending++;
          call.on("cancelled", () => pending--);
          return;
        }
        callback(null, Buffer.alloc(0)); // an empty ExportTraceServiceResponse: all accepted
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    pending: () => pending,
    close: async () => server.forceShutdown(),
  };
}

/** An OTLP/HTTP protobuf collector, answering every export with an empty response (or never). */
async function startHttpReceiver(options: { answer?: boolean } = {}): Promise<Receiver & { held: IncomingMessage[] }> {
  const received: ReceivedExport[] = [];
  const held: IncomingMessage[] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers: IncomingHttpHeaders = req.headers;
      const body = Buffer.concat(chunks);
      received.push({ path: req.url ?? "", headers, request: decodeExport(headers["content-encoding"] === "gzip" ? gunzipSync(body) : body) });
      if (options.answer === false) held.push(req);
      else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    held,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // the exporter's keep-alive connection, or a held request
      await closed;
    },
  };
}

/** A collector that accepts each connection and resets it at once: every export fails (retryable). */
async function startResettingCollector(): Promise<{ endpoint: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections++;
    socket.resetAndDestroy();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on. */
async function closedPortEndpoint(): Promise<string> {
  const server = createTcpServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

interface Instance {
  telemetry: Telemetry;
  spans: InMemorySpanExporter;
  logs: string[];
  errors: string[];
}

function start(config: TelemetryConfig): Instance {
  const spans = new InMemorySpanExporter();
  const logs: string[] = [];
  const errors: string[] = [];
  const telemetry = createTelemetry(config, {
    log: (message) => logs.push(message),
    logError: (err, message) => errors.push(`${message} [${err instanceof Error ? err.message : String(err)}]`),
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  return { telemetry, spans, logs, errors };
}

/** The telemetry section loaded as `serve` loads it: the environment, overridden by flags. */
function configOf(env: Record<string, string>, argv: string[] = []): TelemetryConfig {
  return loadSections({ telemetry: telemetrySection }, env, argv).telemetry;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

const exemplarTraceIds = async (telemetry: Telemetry): Promise<string[]> =>
  [...(await telemetry.render("openmetrics")).body.matchAll(/trace_id="([0-9a-f]+)"/g)].map((m) => m[1]!);

describe("OTLP export through the SDK's standard settings", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("sends the spans over OTLP gRPC, with the resource from the settings and detectors and the headers as metadata", async () => {
    const receiver = await startGrpcReceiver();
    cleanups.push(() => receiver.close());
    // Flags, as `serve` takes them (the headers are a secret: environment only).
    const config = configOf({ OTEL_EXPORTER_OTLP_HEADERS: "x-collector-token=secret-1,x-scope=team%2Cml" }, [
      "--otel-exporter-otlp-protocol=grpc",
      `--otel-exporter-otlp-endpoint=${receiver.endpoint}`,
      "--otel-service-name=gw-grpc",
      "--otel-resource-attributes=deployment.environment.name=test,host.name=overridden%3Dhost",
    ]);
    const { telemetry, errors } = start(config);
    // The SDK read the gateway's settings, and process.env is as it was.
    expect(process.env.OTEL_EXPORTER_OTLP_PROTOCOL).toBeUndefined();
    const recorded = telemetry.turnSink.record(RETRIED);
    expect(await exemplarTraceIds(telemetry)).toContain(INCOMING_TRACE);
    await telemetry.shutdown(); // flushes the batch

    expect(receiver.received).toHaveLength(1);
    const { headers, request } = receiver.received[0]!;
    expect(headers).toMatchObject({ "x-collector-token": "secret-1", "x-scope": "team,ml" });
    const [resource] = request.resources;
    expect(resource!.attributes).toMatchObject({
      "service.name": "gw-grpc",
      "deployment.environment.name": "test",
      "host.name": "overridden=host", // OTEL_RESOURCE_ATTRIBUTES wins over the host detector
      "process.pid": process.pid,
      "process.runtime.name": "nodejs",
      "telemetry.sdk.language": "nodejs",
    });
    expect(resource!.attributes).not.toHaveProperty("process.command_args");
    const spans = resource!.spans;
    expect(spans.map((s) => s.name).sort()).toEqual(["generate_content gemini-2.5-pro", "upstream_attempt", "upstream_attempt"]);
    const call = spans.find((s) => s.name.startsWith("generate_content"))!;
    expect(call).toMatchObject({ traceId: INCOMING_TRACE, spanId: recorded.spanId, parentSpanId: INCOMING_PARENT_SPAN, kind: 3 });
    expect(call.attributes).toMatchObject({
      "gen_ai.operation.name": "generate_content",
      "gen_ai.provider.name": "gcp.gemini",
      "gen_ai.request.model": "gemini-2.5-pro",
      "gen_ai.conversation.id": "sess-7",
      "gen_ai.usage.output_tokens": 8,
      "gen_ai.response.finish_reasons": ["stop"],
      "gemini_gateway.attempts": 2,
    });
    expect(call.events).toEqual(["gemini_gateway.retry"]);
    for (const attempt of spans.filter((s) => s.name === "upstream_attempt")) expect(attempt.parentSpanId).toBe(call.spanId);
    expect(errors).toEqual([]);
  });

  it("sends the spans over OTLP/HTTP protobuf to the traces endpoint, under the gateway's settings only", async () => {
    const receiver = await startHttpReceiver();
    cleanups.push(() => receiver.close());
    // A stray variable in this process's environment is not the gateway's setting: the SDK must not see it.
    process.env.OTEL_RESOURCE_ATTRIBUTES = "stray=1";
    cleanups.push(async () => void delete process.env.OTEL_RESOURCE_ATTRIBUTES);
    const config = configOf({
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf", // the traces-specific setting wins
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/custom/traces`, // as is: no /v1/traces added
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "authorization=Bearer abc==",
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attributes,service.namespace=llm",
    });
    expect(config.otlpTracesUrl).toBe(`${receiver.endpoint}/custom/traces`);
    const { telemetry, logs } = start(config);
    expect(process.env.OTEL_RESOURCE_ATTRIBUTES).toBe("stray=1");
    telemetry.turnSink.record(RETRIED);
    telemetry.turnSink.record(turn()); // a call of its own trace
    await telemetry.shutdown();

    expect(logs).toEqual([]);
    expect(receiver.received).toHaveLength(1);
    const { path, headers, request } = receiver.received[0]!;
    expect(path).toBe("/custom/traces");
    expect(headers).toMatchObject({ "content-type": "application/x-protobuf", "content-encoding": "gzip", authorization: "Bearer abc==" });
    const [resource] = request.resources;
    expect(resource!.attributes).toMatchObject({
      // No OTEL_SERVICE_NAME: the attribute's service.name wins over the gateway's default.
      "service.name": "from-attributes",
      "service.namespace": "llm",
      "host.name": hostname(),
      "process.pid": process.pid,
    });
    expect(resource!.attributes).not.toHaveProperty("stray");
    expect(resource!.spans.map((s) => s.name).sort()).toEqual([
      "generate_content gemini-2.5-flash",
      "generate_content gemini-2.5-pro",
      "upstream_attempt",
      "upstream_attempt",
      "upstream_attempt",
    ]);
  });

  it.each([
    ["traceidratio with 0", { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" }],
    ["always_off", { OTEL_TRACES_SAMPLER: "always_off" }],
  ])("a sampler that drops everything (%s): trace ids for the logs, but no exported spans and no exemplars", async (_name, sampler) => {
    const receiver = await startHttpReceiver();
    cleanups.push(() => receiver.close());
    const { telemetry, spans } = start(configOf({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...sampler }));
    const recorded = telemetry.turnSink.record(RETRIED); // a sampled parent does not matter to these samplers
    expect(recorded.traceId).toBe(INCOMING_TRACE);
    expect(spans.getFinishedSpans()).toEqual([]);
    expect(await exemplarTraceIds(telemetry)).toEqual([]);
    await telemetry.shutdown();
    expect(receiver.received).toEqual([]);
  });

  it("OTEL_TRACES_EXPORTER=none: spans and exemplars are made, nothing is exported, and the gateway says so", async () => {
    const receiver = await startHttpReceiver();
    cleanups.push(() => receiver.close());
    const { telemetry, spans, logs } = start(configOf({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }));
    const recorded = telemetry.turnSink.record(RETRIED);
    expect(spans.getFinishedSpans()).toHaveLength(3);
    expect(await exemplarTraceIds(telemetry)).toContain(recorded.traceId);
    await telemetry.shutdown();
    expect(receiver.received).toEqual([]);
    expect(logs).toEqual(["telemetry: OTEL_TRACES_EXPORTER=none: spans are made (exemplars, log trace ids) but not exported"]);
  });
});

describe("a dead collector", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("is logged once, with its endpoint, however many exports fail", async () => {
    const collector = await startResettingCollector();
    cleanups.push(() => collector.close());
    const { telemetry, errors } = start(
      configOf({
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "1", // one export per span: three failed exports for the call below
        OTEL_EXPORTER_OTLP_TIMEOUT: "300", // shorter than the exporter's first retry delay (1 s): no retries
      }),
    );
    telemetry.turnSink.record(RETRIED);
    await waitFor(() => collector.connections() >= 3 && errors.length > 0, "three failed exports");
    await telemetry.shutdown();
    expect(errors).toHaveLength(1);
    // Every failed export's spans are counted, not only the first failure logged.
    expect((await telemetry.render("prometheus")).body).toMatch(/^gemini_gateway_spans_export_failed_total 3$/m);
    expect(errors[0]).toContain(`telemetry: exporting spans to ${collector.endpoint}/v1/traces (OTLP http/protobuf) failed`);
    expect(errors[0]).toContain("logged once");
  });

  it("over gRPC (nothing listening) is logged once, with its endpoint", async () => {
    const endpoint = await closedPortEndpoint();
    const { telemetry, errors } = start(configOf({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: "2000" }));
    telemetry.turnSink.record(RETRIED);
    await telemetry.shutdown(); // the last flush fails too, and is not logged again
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`telemetry: exporting spans to ${endpoint} (OTLP grpc) failed`);
  });

  it.each(["http/protobuf", "grpc"] as const)(
    "that holds the export unanswered does not hold shutdown up (%s): it resolves within the export timeout, the request still held",
    async (protocol) => {
      const receiver = protocol === "grpc" ? await startGrpcReceiver({ answer: false }) : await startHttpReceiver({ answer: false });
      cleanups.push(() => receiver.close());
      const config = configOf({
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_TIMEOUT: "5000", // the exporter itself would wait (and retry) for 5 s
        OTEL_BSP_EXPORT_TIMEOUT: "200", // the batch processor gives up on an export after 200 ms, so does shutdown
      });
      expect(config.tracesExport?.shutdownTimeoutMs).toBe(200);
      const { telemetry, errors } = start(config);
      telemetry.turnSink.record(RETRIED);
      const startedAt = Date.now();
      await telemetry.shutdown();
      expect(Date.now() - startedAt).toBeLessThan(4_000); // generous: the bound is 200 ms
      // Shutdown returned while the collector still holds the export: it did not wait for the exporter's 5 s.
      expect(receiver.received).toHaveLength(1);
      if ("held" in receiver) expect(receiver.held.map((req) => req.socket.destroyed)).toEqual([false]);
      else expect(receiver.pending()).toBe(1);
      expect(errors).toEqual([
        expect.stringContaining(`telemetry: stopped waiting for the last span export to ${config.otlpTracesUrl} after 200 ms; its spans are dropped`),
      ]);
    },
  );
});
