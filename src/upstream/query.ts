// What of a client's query string goes upstream: an allow-list of the parameters Gemini's API reads (the key is
// never among them: the gateway sends its own). Anything else is dropped: `access_token`, `quotaUser`, `callback`,
// `userIp` would act on the gateway's key or project. A field mask (`fields`, `$fields`) on a call the gateway meters
// could strip the usage and finish reasons from the answer, so it is refused there; elsewhere it passes.

import { invalidArgument, type GeminiError } from "../gemini/errors.js";

export const FORWARDED_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  "alt",
  "$alt",
  "prettyPrint",
  "$prettyPrint",
  "pageSize",
  "pageToken",
  "filter",
  "updateMask",
  "update_mask",
  "force",
  "upload_id",
  "upload_protocol",
  "uploadType",
  "stream",
  "last_event_id",
  "include_input",
  "fields",
  "$fields",
]);

const FIELD_MASKS = new Set(["fields", "$fields"]);

/** The query to send upstream; `metered`: the call's answer is read for usage (a field mask is refused). */
export function upstreamQuery(query: URLSearchParams, metered: boolean): URLSearchParams | GeminiError {
  const out = new URLSearchParams();
  for (const [name, value] of query) {
    if (!FORWARDED_QUERY_PARAMETERS.has(name)) continue;
    if (metered && FIELD_MASKS.has(name)) {
      return invalidArgument(`The "${name}" field mask is not accepted on this method through the gateway: it could remove the usage the gateway measures. Send the request without it.`);
    }
    out.append(name, value);
  }
  return out;
}
