// Reading a request, for every route: its query string, and its body as bytes (bounded by MAX_BODY_BYTES and decoded
// from its Content-Encoding, read with raw-body, the reader under express's body parsers, without express's
// per-request machinery, for the proxy's hot path).

import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable, type Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import getRawBody from "raw-body";
import { canonicalError, GeminiError, invalidArgument } from "../gemini/errors.js";

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

/** The 408 of a body that stopped arriving. The connection is closed with it: the rest of the body is not awaited. */
export const bodyTimeoutError = (idleMs: number): GeminiError =>
  new GeminiError(408, "DEADLINE_EXCEEDED", `The request body stopped arriving: nothing came for ${idleMs} ms (REQUEST_BODY_TIMEOUT_MS).`, undefined, {
    connection: "close",
  });

/** The body as it arrives, failed with a 408 when nothing arrives for `idleMs` (a slow or stalled client). */
export function idleLimited(source: Readable, idleMs: number): Readable {
  const out = new PassThrough();
  const timer = setTimeout(() => {
    source.unpipe(out);
    out.destroy(bodyTimeoutError(idleMs));
  }, idleMs);
  source.on("data", () => timer.refresh());
  source.once("error", (err) => out.destroy(err));
  out.once("close", () => clearTimeout(timer));
  source.pipe(out);
  return out;
}

/** The body, decoded; the limit applies to the decoded bytes, and is checked against Content-Length before anything
 *  is read. Errors carry an HTTP status (413, 400, 408). */
export async function readBody(req: IncomingMessage, limit: number, idleMs: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  const length = Number(req.headers["content-length"]);
  if (encoding === "identity" && Number.isFinite(length) && length > limit) throw tooLarge(limit);
  const body = idleLimited(req, idleMs);
  if (encoding === "identity") return getRawBody(body, { limit, length: req.headers["content-length"] ?? null });
  const decoder = DECODERS[encoding];
  if (!decoder) throw canonicalError(400, `Unsupported Content-Encoding "${encoding}": send identity, gzip, deflate or br.`);
  const decoded = decoder();
  body.pipe(decoded);
  try {
    return await getRawBody(decoded, { limit });
  } catch (err) {
    // zlib's own errors (a corrupt body) carry no status: they are the client's.
    if (typeof err === "object" && err !== null && "status" in err) throw err;
    throw canonicalError(400, `The request body is not valid ${encoding}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    body.unpipe(decoded);
  }
}

/** The 413 of a body over MAX_BODY_BYTES; the connection is closed with it (the body is not read to its end). */
export const tooLarge = (limit: number): GeminiError =>
  new GeminiError(413, "INVALID_ARGUMENT", `Request payload size exceeds the limit: ${limit} bytes.`, undefined, { connection: "close" });

/** The parsed body, or why it is not JSON in Google's words. */
export function parseJsonBody(body: Buffer): { error: GeminiError } | { request: unknown } {
  try {
    return { request: JSON.parse(body.toString("utf8")) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { error: invalidArgument(`Invalid JSON payload received. ${reason}`) };
  }
}
