// What Node's HTTP parser refuses before any handler runs (a bad method token, a space or NUL in the path, headers
// too large, conflicting Content-Length and Transfer-Encoding, a bad chunk, an Expect the server does not meet, a
// request that takes too long to arrive) is answered in Gemini's envelope like every other error, counted and logged,
// instead of Node's bodyless default.

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { GeminiError, type CanonicalStatus } from "../gemini/errors.js";
import { JSON_CONTENT_TYPE, nodeResponseWriter, tagRoute, writeGeminiError } from "../gateway/response-writer.js";

/** The route label of requests refused before they could be routed. */
export const INVALID_REQUEST_ROUTE = "invalid_request";

/** The status and message of a parser error (Node's own codes). */
export function clientErrorAnswer(code: string | undefined): { status: number; canonical: CanonicalStatus; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, canonical: "INVALID_ARGUMENT", message: "Request headers are too large." };
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "ERR_HTTP_HEADERS_TIMEOUT":
      return { status: 408, canonical: "DEADLINE_EXCEEDED", message: "The request did not arrive in time." };
    case "HPE_INVALID_EOF_STATE":
      // The client closed its side mid-request: it may still read the answer (a half-close), or be gone.
      return { status: 400, canonical: "INVALID_ARGUMENT", message: "The request ended before its body did (Content-Length or the chunks said more)." };
    default:
      return { status: 400, canonical: "INVALID_ARGUMENT", message: `The request is not valid HTTP${code ? ` (${code})` : ""}.` };
  }
}

/** The raw HTTP/1.1 answer written to the socket (no request object exists to answer through). */
export function rawAnswer(status: number, error: GeminiError): string {
  const body = error.toBody();
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
    `content-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

export interface ClientErrorReport {
  (status: number, code: string | undefined): void;
}

/** Installs the handlers on a server; `report` counts and logs each refusal no request handler sees. */
export function answerParserErrors(server: Server, report: ClientErrorReport): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, canonical, message } = clientErrorAnswer(err.code);
    const error = new GeminiError(status, canonical, message, undefined, { connection: "close" });
    // The parser failed in a request's body: that request's handler is running, and answers through its response
    // (its request log counts it); the handler's own later answer finds the head sent and gives up.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (inFlight) {
      // Its own body failed (not a request pipelined after it, whose error cannot be answered in order): answer it.
      if (!inFlight.headersSent && inFlight.req.complete === false) writeGeminiError(nodeResponseWriter(inFlight), error);
      else socket.destroy();
      return;
    }
    socket.end(rawAnswer(status, error));
    report(status, err.code);
  });
  // An Expect other than 100-continue: 417 in the envelope (Node's default answers without a body; the request
  // handler, and so the request log, never runs).
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
    tagRoute(res, INVALID_REQUEST_ROUTE);
    const error = new GeminiError(417, "FAILED_PRECONDITION", `Expect: ${req.headers.expect ?? ""} cannot be met; send the request without it.`, undefined, {
      connection: "close",
    });
    writeGeminiError(nodeResponseWriter(res), error);
    report(417, "EXPECTATION_FAILED");
  });
  // A CONNECT (a tunnel through the gateway) is no API call.
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    socket.on("error", () => undefined);
    socket.end(rawAnswer(405, new GeminiError(405, "UNIMPLEMENTED", "CONNECT is not served: the gateway is no tunnel.")));
    report(405, "CONNECT");
  });
}
