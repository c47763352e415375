// `$alt=json;enum-encoding=int`: every enum of an answer written as its proto number. One walker for every answer
// (generate responses, stream chunks, files, batches...), by field name as src/gemini/enums.ts maps them.
import { ENUM_FIELDS, enumNumber } from "../gemini/enums.js";

/**
 * Fields whose value is a google.protobuf.Struct the caller wrote (function arguments and results, a batch request's
 * metadata): their keys are the user's, so a `state` or `category` inside is not an enum. Keyed by the field name,
 * with the name of the field that holds the object it sits in.
 */
const USER_STRUCTS: ReadonlyArray<{ field: string; parent?: string }> = [
  { field: "args" },
  { field: "response", parent: "functionResponse" },
  { field: "metadata", parent: "inlinedResponses" },
];

const isUserStruct = (field: string, parent: string | undefined): boolean =>
  USER_STRUCTS.some((s) => s.field === field && (s.parent === undefined || s.parent === parent));

/** A copy of `value` with every enum name replaced by its number (unknown names stay names). */
export function encodeIntEnums(value: unknown, parent?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => encodeIntEnums(item, parent));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [field, item] of Object.entries(value)) {
    const table = ENUM_FIELDS[field];
    if (isUserStruct(field, parent)) out[field] = item;
    else if (table && typeof item === "string") out[field] = enumNumber(table, item) ?? item;
    else if (table && Array.isArray(item)) out[field] = item.map((v) => (typeof v === "string" ? (enumNumber(table, v) ?? v) : v));
    else out[field] = encodeIntEnums(item, field);
  }
  return out;
}
