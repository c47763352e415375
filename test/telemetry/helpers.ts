// Synthetic TurnRecords and a telemetry instance served over real HTTP, for the telemetry tests.

import express from "express";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { loadTelemetryConfig } from "../../src/config/telemetry.js";
import { metricsRouter } from "../../src/routes/metrics.js";
import { createTelemetry } from "../../src/telemetry/telemetry.js";
import type { Telemetry, TelemetryOptions } from "../../src/telemetry/telemetry.js";
import type { UsageMetadata } from "../../src/gemini/types.js";
import { tokensOfUsageMetadata } from "../../src/gemini/usage.js";
import type { TappedResponse, TurnRecord } from "../../src/turn/record.js";

export const T0 = 1_700_000_000_000;

/** A generate answer as the Gemini tap reads it: the usageMetadata as sent and its tokens. */
export function tapped(usage: UsageMetadata, rest: Omit<TappedResponse, "usage" | "tokens">): TappedResponse {
  return { usage, tokens: tokensOfUsageMetadata(usage), ...rest };
}

export function turn(overrides: Partial<TurnRecord> = {}): TurnRecord {
  return {
    route: "generateContent",
    operation: "generate_content",
    model: "gemini-2.5-flash",
    tenant: "acme",
    stream: false,
    apiVersion: "v1beta",
    attempts: [{ startedAt: T0 + 1, endedAt: T0 + 200, httpStatus: 200, outcome: "ok" }],
    gatewayOverheadMs: 1,
    retryBudgetExhausted: false,
    response: tapped(
      { promptTokenCount: 100, candidatesTokenCount: 20, thoughtsTokenCount: 30, totalTokenCount: 150 },
      { finishReasons: ["STOP"], hasVisibleParts: true, responseId: "resp-1", modelVersion: "gemini-2.5-flash", text: "Paris" },
    ),
    httpStatus: 200,
    startedAt: T0,
    endedAt: T0 + 250,
    clientAborted: false,
    ...overrides,
  };
}

export interface Harness {
  telemetry: Telemetry;
  spans: InMemorySpanExporter;
  url: string;
  logs: string[];
  scrape(accept?: string): Promise<{ contentType: string; body: string }>;
  close(): Promise<void>;
}

export async function startHarness(env: NodeJS.ProcessEnv = {}, options: TelemetryOptions = {}): Promise<Harness> {
  const spans = new InMemorySpanExporter();
  const logs: string[] = [];
  const telemetry = createTelemetry(loadTelemetryConfig(env), {
    isKnownTenant: (t) => t === "acme" || t === "globex",
    log: (m) => logs.push(m),
    spanProcessors: [new SimpleSpanProcessor(spans)],
    ...options,
  });
  const app = express();
  app.use(metricsRouter(telemetry));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    telemetry,
    spans,
    url,
    logs,
    async scrape(accept) {
      const res = await fetch(`${url}/metrics`, { headers: accept ? { accept } : {} });
      return { contentType: res.headers.get("content-type") ?? "", body: await res.text() };
    },
    async close() {
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      await telemetry.shutdown();
    },
  };
}

/** Sample lines (no comments) of the metric families whose names start with one of the prefixes. */
export function samples(body: string, ...prefixes: string[]): string[] {
  return body.split("\n").filter((line) => !line.startsWith("#") && prefixes.some((p) => line.startsWith(p)));
}

export const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
