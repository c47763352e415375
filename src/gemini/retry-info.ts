// Reading a Gemini 429: the retry delay it carries in its body (google.rpc.RetryInfo) and the quota it reports
// (google.rpc.QuotaFailure). Pure functions: the retry policy decides with them, telemetry labels with them.

import type { QuotaKind } from "../turn/record.js";
import { findDetail, type ErrorBody } from "./errors.js";

/** A protobuf Duration in its JSON form ("28s", "28.32s", "0.5s") in milliseconds; undefined when malformed. */
export function parseDurationMs(duration: string): number | undefined {
  const match = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(duration.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]);
  const fraction = match[2] ? Number(`0.${match[2]}`) : 0;
  return Math.round((seconds + fraction) * 1000);
}

/** The RetryInfo retryDelay of an error, in milliseconds. */
export function retryDelayMs(error: ErrorBody): number | undefined {
  const retryDelay = findDetail(error, "RetryInfo")?.["retryDelay"];
  return typeof retryDelay === "string" ? parseDurationMs(retryDelay) : undefined;
}

/** The quotaIds of the error's QuotaFailure violations. */
export function quotaIds(error: ErrorBody): string[] {
  const violations = findDetail(error, "QuotaFailure")?.["violations"];
  if (!Array.isArray(violations)) return [];
  return violations
    .map((v: unknown) => (v && typeof v === "object" ? (v as { quotaId?: unknown }).quotaId : undefined))
    .filter((id): id is string => typeof id === "string");
}

/** The kind of one quotaId. InputTokens ids also say PerMinute, so tokens is tested first. */
export function quotaKindOf(quotaId: string): QuotaKind {
  if (quotaId.includes("PerDay")) return "per_day";
  if (quotaId.includes("InputTokens")) return "tokens";
  if (quotaId.includes("PerMinute")) return "per_minute";
  return "unknown";
}

/**
 * The quota a 429 exhausted. With several violations the one that clears last wins (per day over the others),
 * because that is the one that decides whether waiting can help.
 */
export function quotaKind(error: ErrorBody): QuotaKind {
  const kinds = quotaIds(error).map(quotaKindOf);
  for (const kind of ["per_day", "tokens", "per_minute"] as const) if (kinds.includes(kind)) return kind;
  return "unknown";
}
