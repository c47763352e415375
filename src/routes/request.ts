// Reading a request, for every route: its query string, and its body as bytes (bounded by MAX_BODY_BYTES and decoded
// from its Content-Encoding, read with raw-body, the reader under express's body parsers, without express's
// per-request machinery, for the proxy's hot path).

import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable, type Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import getRawBody from "raw-body";
import { GeminiError, invalidArgument } from "../gemini/errors.js";

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
  const stop = (): void => clearTimeout(timer);
  source.on("data", () => timer.refresh());
  // A client gone mid-body is the client's doing (499), not an unexpected failure.
  source.once("error", () => out.destroy(clientGoneError()));
  source.once("aborted", () => out.destroy(clientGoneError()));
  source.once("end", stop);
  out.once("close", stop);
  // Whoever reads `out` may have given up on it already (a refused encoding, a body over the limit): its error must
  // not be an unhandled one.
  out.on("error", () => undefined);
  source.pipe(out);
  return out;
}

const clientGoneError = (): GeminiError => new GeminiError(499, "CANCELLED", "The client went away before its request body arrived.");

/** The body, decoded; the limit applies to the decoded bytes, and is checked against Content-Length before anything
 *  is read. Errors carry an HTTP status (413, 400, 408). */
export async function readBody(req: IncomingMessage, limit: number, idleMs: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  const length = Number(req.headers["content-length"]);
  if (encoding === "identity" && Number.isFinite(length) && length > limit) throw tooLarge(limit);
  const decoder = encoding === "identity" ? undefined : DECODERS[encoding];
  if (encoding !== "identity" && !decoder) {
    throw new GeminiError(400, "INVALID_ARGUMENT", `Unsupported Content-Encoding "${encoding}": send identity, gzip, deflate or br.`, undefined, { connection: "close" });
  }
  const body = idleLimited(req, idleMs);
  try {
    if (!decoder) return await getRawBody(body, { limit, length: req.headers["content-length"] ?? null });
    const decoded = decoder();
    decoded.on("error", () => undefined); // reported through getRawBody below, never unhandled
    body.pipe(decoded);
    try {
      return await getRawBody(decoded, { limit });
    } catch (err) {
      // zlib's own errors (a corrupt body) carry no status: they are the client's.
      if (typeof err === "object" && err !== null && "status" in err) throw err;
      throw new GeminiError(400, "INVALID_ARGUMENT", `The request body is not valid ${encoding}: ${err instanceof Error ? err.message : String(err)}`, undefined, {
        connection: "close",
      });
    } finally {
      body.unpipe(decoded);
      decoded.destroy();
    }
  } finally {
    // Whatever happened, nothing more is read: the idle timer must not fire on an abandoned body.
    body.destroy();
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
