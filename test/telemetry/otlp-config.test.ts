// The telemetry section's OTEL_* settings: what they resolve to, every problem reported at start-up on its own line,
// a help line for each, and the headers (a collector's token) kept off the command line and out of problem lines.

import { describe, expect, it } from "vitest";
import { ConfigError, loadSections } from "../../src/config/source.js";
import { SDK_SETTINGS, SHUTDOWN_EXPORT_CAP_MS, loadTelemetryConfig, telemetrySection } from "../../src/config/telemetry.js";

const problemsOf = (env: Record<string, string>, argv: string[] = []): string[] => {
  try {
    loadSections({ telemetry: telemetrySection }, env, argv);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("OTEL_* settings", () => {
  it("export only with an endpoint or an exporter named; the SDK's protocol and timeout defaults", () => {
    expect(loadTelemetryConfig({}).tracesExport).toBeUndefined();
    const config = loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });
    expect(config.tracesExport).toEqual({ exporters: ["otlp"], protocol: "http/protobuf", timeoutMs: 10_000, shutdownTimeoutMs: SHUTDOWN_EXPORT_CAP_MS });
    expect(config.otlpTracesUrl).toBe("http://collector:4318/v1/traces");
    expect(config.sdkSettings).toEqual({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });

    // Named without an endpoint: the SDK's own default endpoint.
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: "otlp" }).otlpTracesUrl).toBe("http://localhost:4318/v1/traces");
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).otlpTracesUrl).toBe("http://localhost:4317");
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: "console" })).toMatchObject({ otlpTracesUrl: undefined, tracesExport: { exporters: ["console"] } });
    expect(loadTelemetryConfig({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toMatchObject({
      otlpTracesUrl: undefined,
      tracesExport: { exporters: [] },
    });
  });

  it("shutdown waits at most the smaller export timeout, and never more than a few seconds", () => {
    const bound = (env: Record<string, string>) => loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", ...env }).tracesExport?.shutdownTimeoutMs;
    expect(bound({})).toBe(SHUTDOWN_EXPORT_CAP_MS);
    expect(bound({ OTEL_EXPORTER_OTLP_TIMEOUT: "500" })).toBe(500);
    expect(bound({ OTEL_EXPORTER_OTLP_TIMEOUT: "500", OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "700" })).toBe(700);
    expect(bound({ OTEL_BSP_EXPORT_TIMEOUT: "100" })).toBe(100);
    expect(bound({ OTEL_EXPORTER_OTLP_TIMEOUT: "60000", OTEL_BSP_EXPORT_TIMEOUT: "60000" })).toBe(SHUTDOWN_EXPORT_CAP_MS);
  });

  it("resource detectors: the default set, all, none", () => {
    expect(loadTelemetryConfig({}).resourceDetectors).toBeUndefined();
    expect(loadTelemetryConfig({ OTEL_NODE_RESOURCE_DETECTORS: "all" }).resourceDetectors).toEqual(["env", "host", "os", "process", "serviceinstance", "container"]);
    expect(loadTelemetryConfig({ OTEL_NODE_RESOURCE_DETECTORS: "none" }).resourceDetectors).toEqual([]);
    expect(loadTelemetryConfig({ OTEL_NODE_RESOURCE_DETECTORS: "host, env" }).resourceDetectors).toEqual(["host", "env"]);
  });

  it("reports every bad value at start-up, one line each, naming the setting and its flag", () => {
    const problems = problemsOf({
      OTEL_EXPORTER_OTLP_PROTOCOL: "http",
      OTEL_TRACES_SAMPLER: "sometimes",
      OTEL_TRACES_SAMPLER_ARG: "1.5",
      OTEL_TRACES_EXPORTER: "otlp,zipkin",
      OTEL_NODE_RESOURCE_DETECTORS: "host,none",
      OTEL_RESOURCE_ATTRIBUTES: "team=ml,broken",
      OTEL_EXPORTER_OTLP_TIMEOUT: "0",
      OTEL_EXPORTER_OTLP_COMPRESSION: "brotli",
      OTEL_EXPORTER_OTLP_CERTIFICATE: "/nonexistent/ca.pem",
      OTEL_BSP_MAX_QUEUE_SIZE: "many",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^OTEL_RESOURCE_ATTRIBUTES \(--otel-resource-attributes\): expected key=value pairs .*"broken"/),
      expect.stringMatching(/^OTEL_NODE_RESOURCE_DETECTORS .*none cannot be combined/),
      expect.stringMatching(/^OTEL_TRACES_EXPORTER .*unknown traces exporter "zipkin": expected otlp, console or none/),
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_PROTOCOL \(--otel-exporter-otlp-protocol\): expected grpc, http\/protobuf or http\/json \(got "http"\)$/),
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_TIMEOUT .*must be at least 1/),
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_COMPRESSION .*expected gzip or none/),
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_CERTIFICATE .*cannot read this file/),
      expect.stringMatching(/^OTEL_TRACES_SAMPLER .*expected always_on, .* or parentbased_traceidratio/),
      expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG .*must be between 0 and 1 \(got "1.5"\)/),
      expect.stringMatching(/^OTEL_BSP_MAX_QUEUE_SIZE .*must be a number/),
    ]);
    expect(problemsOf({ OTEL_EXPORTER_OTLP_CLIENT_KEY: "package.json" })).toEqual([
      "OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: mutual TLS needs both (the exporter would silently use neither)",
    ]);
  });

  it("keeps the headers off the command line and out of problem lines", () => {
    const [refused] = problemsOf({}, ["--otel-exporter-otlp-headers", "authorization=Bearer t0ken"]);
    expect(refused).toMatch(/^--otel-exporter-otlp-headers: not accepted on the command line/);
    const problems = problemsOf({ OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer t0ken,x-empty=" });
    expect(problems).toEqual([expect.stringMatching(/^OTEL_EXPORTER_OTLP_HEADERS .*expected name=value pairs/)]);
    expect([refused, ...problems].join("\n")).not.toContain("t0ken");
  });

  it("lists every setting it reads, with one line of help each, and hands the SDK exactly its own", () => {
    const settings = telemetrySection.settings;
    for (const name of ["OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER_ARG", "OTEL_BSP_SCHEDULE_DELAY"]) {
      expect(settings).toContain(name);
    }
    expect(Object.keys(telemetrySection.help ?? {}).sort()).toEqual([...settings].sort());
    for (const line of Object.values(telemetrySection.help ?? {})) expect(line).toMatch(/^[^\n]{10,200}$/);
    expect(SDK_SETTINGS.every((name) => name.startsWith("OTEL_"))).toBe(true);
    expect(SDK_SETTINGS).not.toContain("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT");
    expect(loadTelemetryConfig({ OTEL_SERVICE_NAME: "  gw  ", OTEL_TRACES_SAMPLER: "always_off", PRICING_FILE: "p.json" }).sdkSettings).toEqual({
      OTEL_SERVICE_NAME: "gw",
      OTEL_TRACES_SAMPLER: "always_off",
    });
  });
});
