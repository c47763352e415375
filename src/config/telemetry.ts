// Telemetry settings: the OpenTelemetry SDK's standard OTEL_* variables (traces: exporter, OTLP protocol, endpoint,
// headers, timeouts, TLS, batching, sampler, span limits, resource), plus content capture, PRICING_FILE and
// METRICS_EXTRA_MODELS. Validated at start-up, every problem on its own line. The SDK then reads the OTEL_* values
// itself (src/telemetry/tracing.ts hands it exactly these, from the environment or the flags), so their meaning is the
// SDK's: this file only checks them and derives what the gateway itself needs (whether and where spans are exported,
// how long shutdown may wait for them).

import { accessSync, constants as fsConstants } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { failedPrecondition } from "../gemini/errors.js";
import { describeIssues, type ConfigSection, type SettingSource } from "./source.js";

/** Where GenAI message content goes when capture is on (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
export interface ContentCapture {
  onSpan: boolean;
  onEvent: boolean;
}

export const OTLP_PROTOCOLS = ["grpc", "http/protobuf", "http/json"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** OTEL_TRACES_EXPORTER values; `none` alone means no export. (The SDK's `zipkin` is not supported here.) */
export const TRACE_EXPORTER_NAMES = ["otlp", "console", "none"] as const;
export type TraceExporterName = Exclude<(typeof TRACE_EXPORTER_NAMES)[number], "none">;

/** OTEL_NODE_RESOURCE_DETECTORS values: the SDK's (env, host, os, process, serviceinstance) plus container. */
export const RESOURCE_DETECTOR_NAMES = ["env", "host", "os", "process", "serviceinstance", "container", "all", "none"] as const;
export type ResourceDetectorName = Exclude<(typeof RESOURCE_DETECTOR_NAMES)[number], "all" | "none">;
/** Unset OTEL_NODE_RESOURCE_DETECTORS: the SDK's default set (env, process, host) and the container id. */
export const DEFAULT_RESOURCE_DETECTORS: readonly ResourceDetectorName[] = ["env", "host", "process", "container"];

export const SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;

/** The OTLP exporters' own default per-export timeout (OTEL_EXPORTER_OTLP_TIMEOUT unset). */
export const OTLP_DEFAULT_TIMEOUT_MS = 10_000;
/** The batch processor's default export timeout (OTEL_BSP_EXPORT_TIMEOUT unset). */
export const BSP_DEFAULT_EXPORT_TIMEOUT_MS = 30_000;
/** The longest a drain waits for the last spans to leave: a dead or stuck collector must not hold a rollout up. */
export const SHUTDOWN_EXPORT_CAP_MS = 3_000;

/** How spans leave the process. */
export interface TracesExport {
  /** From OTEL_TRACES_EXPORTER (default `otlp` when an endpoint is set); empty: `none`, spans are made but not exported. */
  exporters: TraceExporterName[];
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf (the SDK's default). */
  protocol: OtlpProtocol;
  /** The OTLP exporter's per-export timeout (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT / OTEL_EXPORTER_OTLP_TIMEOUT). */
  timeoutMs: number;
  /** How long shutdown waits for the last export: the smaller of the OTLP and batch export timeouts, at most
   *  SHUTDOWN_EXPORT_CAP_MS. */
  shutdownTimeoutMs: number;
}

export interface TelemetryConfig {
  /** OTEL_SERVICE_NAME, default gemini-chat-gateway (OTEL_RESOURCE_ATTRIBUTES' service.name wins over the default). */
  serviceName: string;
  /** OTEL_SDK_DISABLED=true: no spans at all (metrics still work, without exemplars). */
  tracingDisabled: boolean;
  /** Where OTLP spans go, as the exporter resolves it (the HTTP traces URL, or the gRPC endpoint), for log lines;
   *  undefined: no OTLP export. */
  otlpTracesUrl?: string;
  /** undefined: neither OTEL_TRACES_EXPORTER nor an OTLP endpoint is set, so spans are made (for exemplars and log
   *  trace ids) but not exported. */
  tracesExport?: TracesExport;
  /** The OTEL_* settings the SDK reads (SDK_SETTINGS) as given, trimmed; the SDK is built under exactly these.
   *  undefined: none is set. */
  sdkSettings?: Readonly<Record<string, string>>;
  /** OTEL_NODE_RESOURCE_DETECTORS resolved; undefined: DEFAULT_RESOURCE_DETECTORS. */
  resourceDetectors?: ResourceDetectorName[];
  contentCapture: ContentCapture;
  /** PRICING_FILE; undefined: the shipped pricing/gemini.json. */
  pricingFile?: string;
  /** Model names kept as their own `model` label besides the priced ones (METRICS_EXTRA_MODELS, comma-separated). */
  extraModels: string[];
}

const CAPTURE_MODES: Record<string, ContentCapture> = {
  "": { onSpan: false, onEvent: false },
  false: { onSpan: false, onEvent: false },
  no_content: { onSpan: false, onEvent: false },
  true: { onSpan: true, onEvent: false },
  span_only: { onSpan: true, onEvent: false },
  event_only: { onSpan: false, onEvent: true },
  span_and_event: { onSpan: true, onEvent: true },
};

const orList = (values: readonly string[]): string =>
  values.length < 2 ? values.join("") : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;

/** A setting as the SDK reads it: surrounding blanks dropped, and a blank value is unset. */
const setting = <S extends z.ZodType>(schema: S) =>
  z.preprocess((value) => (typeof value === "string" ? value.trim() || undefined : value), schema);

const booleanFlag = () =>
  setting(
    z
      .string()
      .toLowerCase()
      .pipe(z.enum(["true", "false"], { error: "expected true or false" }))
      .default("false")
      .transform((v) => v === "true"),
  );

const wholeNumber = (min: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` });

const choice = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { error: `expected ${orList(values)}` });

// The scheme decides TLS, for gRPC too (http://: plaintext, https://: TLS); the gRPC exporter's scheme-less host:port
// form, whose TLS OTEL_EXPORTER_OTLP_INSECURE decides, is not accepted.
const httpUrl = () => z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" });

/** A comma-separated list of names from `allowed` (duplicates dropped, as the SDK does). */
const nameList = (allowed: readonly string[], what: string) =>
  z
    .string()
    .transform((raw) => [...new Set(raw.split(",").map((name) => name.trim()).filter(Boolean))])
    .superRefine((names, ctx) => {
      const unknown = names.filter((name) => !allowed.includes(name));
      if (unknown.length > 0) {
        ctx.addIssue({ code: "custom", message: `unknown ${what} ${unknown.map((n) => JSON.stringify(n)).join(", ")}: expected ${orList(allowed)}` });
      }
      if (names.includes("none") && names.length > 1) ctx.addIssue({ code: "custom", message: "none cannot be combined with other values" });
    });

/** OTEL_RESOURCE_ATTRIBUTES as the SDK's env detector parses it: key=value pairs separated by commas, ',' and '='
 *  percent-encoded, keys and values up to 255 characters. The detector drops the whole list, silently, on one bad entry. */
const resourceAttributes = () =>
  z.string().superRefine((raw, ctx) => {
    for (const entry of raw.split(",").filter((e) => e.trim() !== "")) {
      const parts = entry.split("=");
      const key = parts[0]!.trim();
      if (parts.length !== 2 || key === "") {
        ctx.addIssue({ code: "custom", message: `expected key=value pairs separated by commas, ',' and '=' percent-encoded (got the entry ${JSON.stringify(entry)})` });
        return;
      }
      let decoded: string[];
      try {
        decoded = [decodeURIComponent(key), decodeURIComponent(parts[1]!.trim())];
      } catch {
        ctx.addIssue({ code: "custom", message: `invalid percent-encoding in the entry ${JSON.stringify(entry)}` });
        return;
      }
      if (decoded.some((part) => part.length > 255)) {
        ctx.addIssue({ code: "custom", message: `keys and values are limited to 255 characters (the entry of ${JSON.stringify(key)})` });
        return;
      }
    }
  });

/** OTLP headers as the exporters parse them: name=value pairs separated by commas, percent-encoded; the value is
 *  everything after the first '='. The exporter drops a bad entry silently. Problems name the header, never its value
 *  (a token). */
const headerList = () =>
  z.string().superRefine((raw, ctx) => {
    for (const entry of raw.split(",").filter((e) => e.trim() !== "")) {
      const separator = entry.indexOf("=");
      const name = separator > 0 ? entry.slice(0, separator).trim() : "";
      const value = separator > 0 ? entry.slice(separator + 1).trim() : "";
      if (name === "" || value === "") {
        ctx.addIssue({ code: "custom", message: "expected name=value pairs separated by commas, each with a name and a value" });
        return;
      }
      try {
        decodeURIComponent(name);
        decodeURIComponent(value);
      } catch {
        ctx.addIssue({ code: "custom", message: `invalid percent-encoding in the header ${JSON.stringify(name)}` });
        return;
      }
    }
  });

const readableFile = () =>
  z.string().refine(
    (path) => {
      try {
        // The exporter reads it relative to the working directory, and only warns (to nobody) when it cannot.
        accessSync(resolve(process.cwd(), path), fsConstants.R_OK);
        return true;
      } catch {
        return false;
      }
    },
    { error: "cannot read this file" },
  );

/** The settings the OpenTelemetry SDK itself reads: validated here, handed to the SDK as given. */
const sdkSchema = {
  OTEL_SERVICE_NAME: setting(z.string().default("gemini-chat-gateway")),
  OTEL_SDK_DISABLED: booleanFlag(),
  OTEL_RESOURCE_ATTRIBUTES: setting(resourceAttributes().optional()),
  OTEL_NODE_RESOURCE_DETECTORS: setting(nameList(RESOURCE_DETECTOR_NAMES, "resource detector").optional()),
  OTEL_TRACES_EXPORTER: setting(nameList(TRACE_EXPORTER_NAMES, "traces exporter").optional()),
  OTEL_EXPORTER_OTLP_PROTOCOL: setting(choice(OTLP_PROTOCOLS).default("http/protobuf")),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: setting(choice(OTLP_PROTOCOLS).optional()),
  OTEL_EXPORTER_OTLP_ENDPOINT: setting(httpUrl().optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: setting(httpUrl().optional()),
  OTEL_EXPORTER_OTLP_HEADERS: setting(headerList().optional()),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: setting(headerList().optional()),
  OTEL_EXPORTER_OTLP_TIMEOUT: setting(wholeNumber(1).default(OTLP_DEFAULT_TIMEOUT_MS)),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: setting(wholeNumber(1).optional()),
  OTEL_EXPORTER_OTLP_COMPRESSION: setting(choice(["gzip", "none"]).default("none")),
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: setting(choice(["gzip", "none"]).optional()),
  OTEL_EXPORTER_OTLP_CERTIFICATE: setting(readableFile().optional()),
  OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: setting(readableFile().optional()),
  OTEL_EXPORTER_OTLP_CLIENT_KEY: setting(readableFile().optional()),
  OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: setting(readableFile().optional()),
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: setting(readableFile().optional()),
  OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: setting(readableFile().optional()),
  OTEL_TRACES_SAMPLER: setting(choice(SAMPLERS).default("parentbased_always_on")),
  OTEL_TRACES_SAMPLER_ARG: setting(
    z.coerce.number({ error: "must be a number" }).min(0, { error: "must be between 0 and 1" }).max(1, { error: "must be between 0 and 1" }).optional(),
  ),
  OTEL_BSP_SCHEDULE_DELAY: setting(wholeNumber(0).default(5000)),
  OTEL_BSP_EXPORT_TIMEOUT: setting(wholeNumber(1).default(BSP_DEFAULT_EXPORT_TIMEOUT_MS)),
  OTEL_BSP_MAX_QUEUE_SIZE: setting(wholeNumber(1).default(2048)),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: setting(wholeNumber(1).default(512)),
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: setting(wholeNumber(0).optional()),
  OTEL_ATTRIBUTE_COUNT_LIMIT: setting(wholeNumber(0).default(128)),
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: setting(wholeNumber(0).optional()),
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: setting(wholeNumber(0).default(128)),
  OTEL_SPAN_EVENT_COUNT_LIMIT: setting(wholeNumber(0).default(128)),
  OTEL_SPAN_LINK_COUNT_LIMIT: setting(wholeNumber(0).default(128)),
};

/** The OTEL_* settings the SDK reads: tracing builds the SDK with exactly these visible (and no other value of them). */
export const SDK_SETTINGS: readonly string[] = Object.keys(sdkSchema);

const envSchema = z.object({
  ...sdkSchema,
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: setting(
    z
      .string()
      .toLowerCase()
      .default("")
      .refine((v) => v in CAPTURE_MODES, "expected true, false, NO_CONTENT, SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT"),
  ),
  PRICING_FILE: setting(z.string().optional()),
  METRICS_EXTRA_MODELS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((m) => m.trim())
        .filter(Boolean),
    ),
});

type Settings = z.infer<typeof envSchema>;

/** One line each, as `serve --help` and docs/configuration.md show them (defaults come from the schema). */
const help: Record<keyof typeof envSchema.shape, string> = {
  OTEL_SERVICE_NAME: "service.name of the spans' resource (wins over a service.name in OTEL_RESOURCE_ATTRIBUTES)",
  OTEL_SDK_DISABLED: "true: no spans at all, hence no exemplars and no trace ids in the logs; metrics unchanged",
  OTEL_RESOURCE_ATTRIBUTES: "extra resource attributes as key=value,key2=value2 (percent-encode ',' and '='); they win over detected ones",
  OTEL_NODE_RESOURCE_DETECTORS:
    "resource detectors, comma-separated: env, host, os, process, serviceinstance, container, all or none (unset: env,host,process,container)",
  OTEL_TRACES_EXPORTER:
    "otlp, console (spans printed to stdout) or none (spans made for exemplars and log ids, not exported); unset: otlp when an OTLP endpoint is set, else none",
  OTEL_EXPORTER_OTLP_PROTOCOL: "OTLP transport: grpc, http/protobuf or http/json",
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "OTLP transport for traces, overriding OTEL_EXPORTER_OTLP_PROTOCOL",
  OTEL_EXPORTER_OTLP_ENDPOINT:
    "the collector's URL, http:// (plaintext) or https:// (TLS); HTTP posts to its /v1/traces, grpc uses its host:port (unset with OTEL_TRACES_EXPORTER=otlp: localhost:4318/4317)",
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "the full traces URL (HTTP: used as is, no /v1/traces added), overriding OTEL_EXPORTER_OTLP_ENDPOINT",
  OTEL_EXPORTER_OTLP_HEADERS: "headers (gRPC metadata) sent with every export, as name=value,name2=value2 (percent-encoded), e.g. a collector token",
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: "headers for trace exports, merged over OTEL_EXPORTER_OTLP_HEADERS",
  OTEL_EXPORTER_OTLP_TIMEOUT: "ms one export may take, retries included; also bounds how long shutdown waits for the last spans (at most 3 s)",
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "ms one trace export may take, overriding OTEL_EXPORTER_OTLP_TIMEOUT",
  OTEL_EXPORTER_OTLP_COMPRESSION: "gzip or none: compression of the export requests",
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "gzip or none for trace exports, overriding OTEL_EXPORTER_OTLP_COMPRESSION",
  OTEL_EXPORTER_OTLP_CERTIFICATE: "PEM file of the CA certificates that verify the collector (TLS)",
  OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: "OTEL_EXPORTER_OTLP_CERTIFICATE for trace exports",
  OTEL_EXPORTER_OTLP_CLIENT_KEY: "PEM file of the client's private key for mutual TLS (with OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)",
  OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: "OTEL_EXPORTER_OTLP_CLIENT_KEY for trace exports",
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: "PEM file of the client's certificate chain for mutual TLS (with OTEL_EXPORTER_OTLP_CLIENT_KEY)",
  OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE for trace exports",
  OTEL_TRACES_SAMPLER:
    "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio; unsampled calls leave no exemplars",
  OTEL_TRACES_SAMPLER_ARG: "the sampled share of traces for the traceidratio samplers, 0 to 1 (unset: 1)",
  OTEL_BSP_SCHEDULE_DELAY: "ms between two batch exports",
  OTEL_BSP_EXPORT_TIMEOUT: "ms the batch processor waits for one export; also bounds how long shutdown waits for the last spans",
  OTEL_BSP_MAX_QUEUE_SIZE: "spans held waiting for export; more are dropped",
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "spans per export request (at most OTEL_BSP_MAX_QUEUE_SIZE)",
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "longest attribute value kept, in characters; longer ones are truncated (unset: no limit)",
  OTEL_ATTRIBUTE_COUNT_LIMIT: "attributes kept per span, event or link",
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT for span attributes (e.g. captured message content)",
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "attributes kept per span, overriding OTEL_ATTRIBUTE_COUNT_LIMIT",
  OTEL_SPAN_EVENT_COUNT_LIMIT: "events kept per span (retries, history trims)",
  OTEL_SPAN_LINK_COUNT_LIMIT: "links kept per span",
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT:
    "message content on spans: false/NO_CONTENT (default), true/SPAN_ONLY (attributes), EVENT_ONLY (a span event) or SPAN_AND_EVENT",
  PRICING_FILE: "a price table replacing the shipped pricing/gemini.json (same shape; validated at start-up)",
  METRICS_EXTRA_MODELS: "comma-separated model names kept as their own model label although they have no price",
};

/** Settings that may hold a collector's credentials: never taken from a flag. */
const secrets: NonNullable<ConfigSection<TelemetryConfig>["secrets"]> = {
  OTEL_EXPORTER_OTLP_HEADERS: { instead: "(it usually holds the collector's token)" },
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: { instead: "(it usually holds the collector's token)" },
};

/** The HTTP traces URL as the OTLP/HTTP exporter resolves it: the signal's URL as is, else the base plus v1/traces. */
function httpTracesUrl(base: string | undefined, traces: string | undefined): string {
  if (traces) return traces;
  const root = base ?? "http://localhost:4318";
  return `${root.endsWith("/") ? root : `${root}/`}v1/traces`;
}

/** The problems that need more than one setting, one line each. */
function crossProblems(s: Settings): string[] {
  const problems: string[] = [];
  for (const prefix of ["OTEL_EXPORTER_OTLP", "OTEL_EXPORTER_OTLP_TRACES"]) {
    const key = s[`${prefix}_CLIENT_KEY` as keyof Settings];
    const certificate = s[`${prefix}_CLIENT_CERTIFICATE` as keyof Settings];
    if ((key === undefined) !== (certificate === undefined)) {
      problems.push(`${prefix}_CLIENT_KEY and ${prefix}_CLIENT_CERTIFICATE: mutual TLS needs both (the exporter would silently use neither)`);
    }
  }
  return problems;
}

function toConfig(s: Settings, source: SettingSource): TelemetryConfig {
  const sdkSettings: Record<string, string> = {};
  for (const name of SDK_SETTINGS) {
    const value = source[name]?.trim();
    if (value) sdkSettings[name] = value;
  }
  const named = s.OTEL_TRACES_EXPORTER;
  const endpointSet = s.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
  // The SDK exports over OTLP to localhost by default; the gateway exports only when told where (an endpoint) or that
  // it should (OTEL_TRACES_EXPORTER), so that a gateway run without a collector does not log export failures.
  const exporters: TraceExporterName[] | undefined = named
    ? named.filter((name): name is TraceExporterName => name !== "none")
    : endpointSet
      ? ["otlp"]
      : undefined;
  const protocol = s.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? s.OTEL_EXPORTER_OTLP_PROTOCOL;
  const timeoutMs = s.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? s.OTEL_EXPORTER_OTLP_TIMEOUT;
  const otlp = exporters?.includes("otlp") ?? false;
  const detectors = s.OTEL_NODE_RESOURCE_DETECTORS;
  return {
    serviceName: s.OTEL_SERVICE_NAME,
    tracingDisabled: s.OTEL_SDK_DISABLED,
    otlpTracesUrl: !otlp
      ? undefined
      : protocol === "grpc"
        ? (s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? s.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4317")
        : httpTracesUrl(s.OTEL_EXPORTER_OTLP_ENDPOINT, s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    tracesExport:
      exporters === undefined
        ? undefined
        : { exporters, protocol, timeoutMs, shutdownTimeoutMs: Math.min(timeoutMs, s.OTEL_BSP_EXPORT_TIMEOUT, SHUTDOWN_EXPORT_CAP_MS) },
    sdkSettings: Object.keys(sdkSettings).length > 0 ? sdkSettings : undefined,
    resourceDetectors: !detectors
      ? undefined
      : detectors.includes("all")
        ? RESOURCE_DETECTOR_NAMES.filter((name): name is ResourceDetectorName => name !== "all" && name !== "none")
        : detectors.filter((name): name is ResourceDetectorName => name !== "none"),
    contentCapture: CAPTURE_MODES[s.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT]!,
    pricingFile: s.PRICING_FILE,
    extraModels: s.METRICS_EXTRA_MODELS,
  };
}

/** The source without the secret settings' values, so that a problem line never repeats a token. */
function withoutSecrets(source: SettingSource): SettingSource {
  return Object.fromEntries(Object.entries(source).filter(([name]) => !(name in secrets)));
}

/** The settings checked: the config, or zod's issues, or the problems spanning several settings. */
function check(source: SettingSource): { config: TelemetryConfig } | { issues: z.ZodError } | { problems: string[] } {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) return { issues: parsed.error };
  const problems = crossProblems(parsed.data);
  return problems.length > 0 ? { problems } : { config: toConfig(parsed.data, source) };
}

/** The telemetry settings alone (tests, tools); throws one FAILED_PRECONDITION naming every problem, one per line. */
export function loadTelemetryConfig(env: Readonly<Record<string, string | undefined>> = process.env): TelemetryConfig {
  const result = check(env);
  if ("config" in result) return result.config;
  const lines = "issues" in result ? result.issues.issues.map((i) => `${i.path.join(".")}: ${i.message}`) : result.problems;
  throw failedPrecondition(lines.join("\n"));
}

/** The telemetry settings as a section of the server's configuration (reported with every other problem at start-up). */
export const telemetrySection: ConfigSection<TelemetryConfig> = {
  settings: Object.keys(envSchema.shape),
  help,
  secrets,
  schema: envSchema,
  load(source) {
    const result = check(source);
    return "issues" in result ? { problems: describeIssues(result.issues, withoutSecrets(source)) } : result;
  },
};
