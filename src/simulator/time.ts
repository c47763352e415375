// Protobuf time values on the wire: Timestamps as RFC 3339 strings, Durations as "300s" / "1.5s".
import { invalidArgument } from "../gemini/errors.js";
import { parseDurationMs } from "../gemini/retry-info.js";

export const rfc3339 = (ms: number): string => new Date(ms).toISOString();

/** A Duration field in ms; Google's parse error (400) for anything else. `path` is the proto path. */
export function durationField(value: unknown, path: string): number {
  const ms = typeof value === "string" ? parseDurationMs(value) : undefined;
  if (ms === undefined) throw invalidArgument(`Invalid value at '${path}' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(value)}`);
  return ms;
}

/** A Timestamp field in ms since the epoch; Google's parse error (400) for anything else. */
export function timestampField(value: unknown, path: string): number {
  const ms = typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw invalidArgument(`Invalid value at '${path}' (type.googleapis.com/google.protobuf.Timestamp), ${JSON.stringify(value)}`);
  return ms;
}
