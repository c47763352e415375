// Reading a request, for every route: its query string, and its body as bytes (bounded by MAX_BODY_BYTES and decoded
// from its Content-Encoding, read with raw-body, the reader under express's body parsers, without express's
// per-request machinery, for the proxy's hot path).

import type { IncomingMessage } from "node:http";
import type { Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import getRawBody from "raw-body";
import { canonicalError } from "../gemini/errors.js";

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** The query string of a request URL (the client key included: auth reads it, then the proxy removes it). */
export function queryOf(url: string): URLSearchParams {
  return new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
}

/** The body, decoded; the limit applies to the decoded bytes. Errors carry an HTTP status (413, 400). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding === "identity") return getRawBody(req, { limit, length: req.headers["content-length"] ?? null });
  const decoder = DECODERS[encoding];
  if (!decoder) throw canonicalError(400, `Unsupported Content-Encoding "${encoding}": send identity, gzip, deflate or br.`);
  const decoded = decoder();
  req.pipe(decoded);
  try {
    return await getRawBody(decoded, { limit });
  } catch (err) {
    // zlib's own errors (a corrupt body) carry no status: they are the client's.
    if (typeof err === "object" && err !== null && "status" in err) throw err;
    throw canonicalError(400, `The request body is not valid ${encoding}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    req.unpipe(decoded);
  }
}
