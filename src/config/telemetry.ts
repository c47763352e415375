// Telemetry settings from the environment: the standard OTEL_* variables plus PRICING_FILE and METRICS_EXTRA_MODELS.
// Validated at start-up; every problem is reported on its own line.

import { z } from "zod";
import { failedPrecondition } from "../gemini/errors.js";
import type { ConfigSection } from "./source.js";

/** Where GenAI message content goes when capture is on (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
export interface ContentCapture {
  onSpan: boolean;
  onEvent: boolean;
}

export interface TelemetryConfig {
  serviceName: string;
  /** OTEL_SDK_DISABLED=true: no spans at all (metrics still work, without exemplars). */
  tracingDisabled: boolean;
  /** The OTLP/HTTP traces URL; undefined: spans are made (for exemplars and log ids) but not exported. */
  otlpTracesUrl?: string;
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

const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["", "true", "false"]))
  .optional()
  .transform((v) => v === "true");

const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined))
  .pipe(z.url({ protocol: /^https?$/ }).optional());

const envSchema = z.object({
  OTEL_SERVICE_NAME: z.string().trim().min(1).default("gemini-chat-gateway"),
  OTEL_SDK_DISABLED: booleanFlag,
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl,
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: z
    .string()
    .trim()
    .toLowerCase()
    .default("")
    .refine((v) => v in CAPTURE_MODES, "expected true, false, NO_CONTENT, SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT"),
  PRICING_FILE: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined)),
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

/** The traces URL per the OTLP exporter spec: the signal-specific variable as is, else the base plus /v1/traces. */
function tracesUrl(base: string | undefined, signal: string | undefined): string | undefined {
  if (signal) return signal;
  if (base) return `${base.replace(/\/+$/, "")}/v1/traces`;
  return undefined;
}

export function loadTelemetryConfig(env: Readonly<Record<string, string | undefined>> = process.env): TelemetryConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw failedPrecondition(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  }
  const e = parsed.data;
  return {
    serviceName: e.OTEL_SERVICE_NAME,
    tracingDisabled: e.OTEL_SDK_DISABLED,
    otlpTracesUrl: tracesUrl(e.OTEL_EXPORTER_OTLP_ENDPOINT, e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    contentCapture: CAPTURE_MODES[e.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT]!,
    pricingFile: e.PRICING_FILE,
    extraModels: e.METRICS_EXTRA_MODELS,
  };
}

/** The telemetry settings as a section of the server's configuration (reported with every other problem at start-up). */
export const telemetrySection: ConfigSection<TelemetryConfig> = {
  settings: Object.keys(envSchema.shape),
  load(source) {
    const parsed = envSchema.safeParse(source);
    if (!parsed.success) return { problems: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
    return { config: loadTelemetryConfig(source) };
  },
};
