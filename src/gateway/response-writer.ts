// Where a model call's response goes. The proxy writes to the node response directly; the sessions route wraps a
// writer to see the bytes as they pass.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { GeminiError } from "../gemini/errors.js";
import { openAiErrorBody } from "../openai/errors.js";

export interface ResponseWriter {
  head(status: number, headers: Record<string, string>): void;
  /** Called as each upstream chunk arrives; a returned promise is awaited (backpressure from a slow client). */
  chunk(bytes: Buffer): void | Promise<void>;
  end(): void;
  /** The response cannot be completed after its head was sent (upstream failed mid-body): break the connection
   *  so the client sees an error rather than a clean but truncated answer. Falls back to end() when absent. */
  abort?(): void;
  /** The status the client was actually sent, when a head went out (possibly not this writer's: Node's parser
   *  refusing the rest of the body answers through the same response). */
  sentStatus?(): number | undefined;
}

/** What a route says of its response, for the request log: which route answered it, and whether a model call
 *  covers it (the model call's TurnRecord counts it and its log line describes it; the request log then does neither). */
export interface RouteTag {
  route: string;
  modelCall: boolean;
}
const routeTags = new WeakMap<ServerResponse, RouteTag>();
/** Names the route of a response; the returned tag is the response's own, to mark when a model call covers it. */
export function tagRoute(res: ServerResponse, route: string): RouteTag {
  const tag: RouteTag = { route, modelCall: false };
  routeTags.set(res, tag);
  return tag;
}
export const routeTagOf = (res: ServerResponse): RouteTag | undefined => routeTags.get(res);

export const JSON_CONTENT_TYPE = "application/json; charset=UTF-8";

/** A writer over a node/express response, with backpressure and no hang when the client goes away. */
export function nodeResponseWriter(res: ServerResponse): ResponseWriter {
  let wrote = false;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    res.uncork();
  };
  return {
    head: (status, headers) => {
      // Answered already (a parser error in the body was answered through this response): the client has its answer.
      if (res.headersSent) return;
      res.writeHead(status, headers);
      // The head leaves with the first chunk when that follows at once (one write, not two); when the upstream
      // is slow to send its first chunk, the client still gets the head without waiting for it. (headersSent is
      // true as soon as writeHead ran, so whether a chunk went out is tracked here.)
      setImmediate(() => {
        if (!wrote && !res.writableEnded && !res.destroyed) res.flushHeaders();
      });
    },
    chunk: (bytes) => {
      wrote = true;
      if (res.destroyed) return;
      // Chunks read from one upstream packet, and the end of the response when it came with them, leave in ONE
      // socket write at the end of this turn of the event loop (node's own cork lasts only until the next tick,
      // which would send the chunked-encoding terminator as a second packet and wake the client twice).
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(uncork);
      }
      if (res.write(bytes)) return;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    },
    end: () => {
      wrote = true;
      // end() flushes a corked socket (the pending uncork then has nothing left to do).
      res.end();
    },
    abort: () => {
      res.destroy();
    },
    sentStatus: () => (res.headersSent ? res.statusCode : undefined),
  };
}

/** The wire format of the gateway's own errors on a route: Gemini's envelope, or OpenAI's shape on the
 *  OpenAI-compatible routes. */
export type ErrorShape = "gemini" | "openai";

export function writeGeminiError(out: ResponseWriter, error: GeminiError, headers: Record<string, string> = {}, shape: ErrorShape = "gemini"): void {
  out.head(error.code, { "content-type": JSON_CONTENT_TYPE, ...error.headers, ...headers });
  void out.chunk(Buffer.from(shape === "openai" ? openAiErrorBody(error) : error.toBody()));
  out.end();
}

/** Aborts when the client goes away before the response is complete. */
export function clientDisconnectSignal(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new Error("client disconnected"));
  };
  res.once("close", onClose);
  req.once("aborted", onClose);
  return controller.signal;
}
