// HTTP/1.1 over a raw TCP socket, for tests that must send what no HTTP client would (bad method tokens, NUL bytes in
// the path, conflicting Content-Length and Transfer-Encoding, bad chunks, truncated bodies) and read exactly what comes
// back. One connection per exchange; the socket is always destroyed before the promise settles.

import { connect, type Socket } from "node:net";

/** One step of what the client writes: bytes, a pause, or a half-close (FIN: the client will send nothing more). */
export type RawStep = string | Buffer | { pauseMs: number } | { halfClose: true };

export interface RawResponse {
  status: number;
  reason: string;
  /** Lower-cased names; repeated headers keep every value. */
  headers: Map<string, string[]>;
  body: Buffer;
}

export interface RawExchange {
  /** The final responses, in order (interim 1xx answers are in `interim`). */
  responses: RawResponse[];
  interim: RawResponse[];
  /** Every byte the server sent. */
  raw: Buffer;
  /** The server closed (or reset) the connection before the client did. */
  serverClosed: boolean;
  /** A socket error seen on the way (EPIPE/ECONNRESET once the server stopped reading), if any. */
  socketError?: string;
}

export interface RawOptions {
  host?: string;
  /** The exchange fails (rejects) when no complete answer came within this many ms. */
  timeoutMs?: number;
  /** Final responses to wait for (default 1); the exchange also ends when the server closes. */
  responses?: number;
  /** The request is a HEAD: its answer has no body whatever its headers say. */
  head?: boolean;
}

/** A header's first value. */
export function header(response: RawResponse, name: string): string | undefined {
  return response.headers.get(name.toLowerCase())?.[0];
}

const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

type Parsed = { response: RawResponse; used: number } | undefined;

/** Parses one response from the start of `data`; undefined while incomplete. `closed`: no more bytes will come. */
export function parseResponse(data: Buffer, head: boolean, closed: boolean): Parsed {
  const end = data.indexOf(HEAD_END);
  if (end < 0) return undefined;
  const lines = data.subarray(0, end).toString("latin1").split("\r\n");
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (!statusLine) throw new Error(`not an HTTP response: ${JSON.stringify(data.subarray(0, 80).toString("latin1"))}`);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad response header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const status = Number(statusLine[1]);
  const response: RawResponse = { status, reason: statusLine[2] ?? "", headers, body: Buffer.alloc(0) };
  let at = end + HEAD_END.length;
  if (head || status < 200 || status === 204 || status === 304) return { response, used: at };
  const te = headers.get("transfer-encoding")?.join(",").toLowerCase();
  if (te?.includes("chunked")) {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = data.indexOf(CRLF, at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(data.subarray(at, lineEnd).toString("latin1").split(";")[0]!.trim(), 16);
      if (!Number.isFinite(size)) throw new Error("bad chunk size in response");
      at = lineEnd + 2;
      if (size === 0) {
        // Trailers (none expected), then the final CRLF.
        const trailerEnd = data.indexOf(CRLF, at);
        if (trailerEnd < 0) return undefined;
        at = trailerEnd + 2;
        break;
      }
      if (data.length < at + size + 2) return undefined;
      chunks.push(data.subarray(at, at + size));
      at += size + 2;
    }
    response.body = Buffer.concat(chunks);
    return { response, used: at };
  }
  const length = headers.get("content-length")?.[0];
  if (length !== undefined) {
    const n = Number(length);
    if (data.length < at + n) return undefined;
    response.body = data.subarray(at, at + n);
    return { response, used: at + n };
  }
  // No framing: the body runs to the end of the connection.
  if (!closed) return undefined;
  response.body = data.subarray(at);
  return { response, used: data.length };
}

/**
 * Writes `steps` on a fresh connection and reads the answers. Resolves once `responses` final answers were read, or
 * the server closed the connection (whatever it sent by then); rejects on timeout, naming what was received.
 */
export function rawExchange(port: number, steps: readonly RawStep[], options: RawOptions = {}): Promise<RawExchange> {
  const { host = "127.0.0.1", timeoutMs = 5_000, responses: wanted = 1, head = false } = options;
  return new Promise<RawExchange>((resolve, reject) => {
    const socket: Socket = connect({ port, host });
    const received: Buffer[] = [];
    const exchange: RawExchange = { responses: [], interim: [], raw: Buffer.alloc(0), serverClosed: false };
    let settled = false;
    let pending: NodeJS.Timeout | undefined;

    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(pending);
      socket.destroy();
      if (error) reject(error);
      else resolve(exchange);
    };
    const parse = (closed: boolean): void => {
      exchange.raw = Buffer.concat(received);
      let data = exchange.raw;
      exchange.responses = [];
      exchange.interim = [];
      try {
        for (;;) {
          const parsed = parseResponse(data, head, closed);
          if (!parsed) break;
          (parsed.response.status < 200 ? exchange.interim : exchange.responses).push(parsed.response);
          data = data.subarray(parsed.used);
          if (data.length === 0) break;
        }
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (exchange.responses.length >= wanted || closed) finish();
    };
    const timer = setTimeout(() => {
      const got = Buffer.concat(received).subarray(0, 200).toString("latin1");
      finish(new Error(`no complete answer within ${timeoutMs} ms (received ${JSON.stringify(got)})`));
    }, timeoutMs);

    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      parse(false);
    });
    socket.on("end", () => {
      exchange.serverClosed = true;
      parse(true);
    });
    socket.on("close", () => parse(true));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // The server may stop reading (and close) before the client finished writing: what it answered still counts.
      exchange.socketError = err.code ?? err.message;
      exchange.serverClosed = true;
      parse(true);
    });
    socket.once("connect", () => {
      const run = (i: number): void => {
        if (settled || i >= steps.length) return;
        const step = steps[i]!;
        if (typeof step === "string" || Buffer.isBuffer(step)) {
          if (!socket.writable) return;
          socket.write(step, () => run(i + 1));
        } else if ("pauseMs" in step) {
          pending = setTimeout(() => run(i + 1), step.pauseMs);
        } else {
          if (socket.writable) socket.end();
          run(i + 1);
        }
      };
      run(0);
    });
  });
}

/** A request's bytes: request line, headers (as given: duplicates and odd spellings survive), blank line, body. */
export function rawRequest(method: string, target: string, headers: ReadonlyArray<readonly [string, string]>, body: string | Buffer = ""): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), typeof body === "string" ? Buffer.from(body, "utf8") : body]);
}
