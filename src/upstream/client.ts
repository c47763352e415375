// The HTTP client to Gemini: one undici Pool with keep-alive to GEMINI_BASE_URL. One call of send() is one attempt;
// retries are the model-call service's business. Timeouts are the caller's too (through the AbortSignal), so that
// the attempt timeout and the request deadline are the only clocks.

import type { Readable } from "node:stream";
import { Pool, type Dispatcher } from "undici";

export interface UpstreamRequest {
  method: string;
  /** Path below the base URL with its query, e.g. `/v1beta/models/gemini-2.5-flash:generateContent?alt=sse`. */
  path: string;
  headers: Record<string, string>;
  /** Bytes, or a stream piped as it arrives (file data). */
  body?: Buffer | Readable;
  /** Aborts the request, before or after the headers (client disconnect, attempt timeout, deadline). */
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it arrives; iterate it or call dump(). */
  body: AsyncIterable<Buffer>;
  /** Reads the whole body (error bodies: small). */
  text(): Promise<string>;
  /** Discards the rest of the body, freeing the connection. */
  dump(): Promise<void>;
}

export class UpstreamClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  readonly server: { address: string; port: number };

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.server = {
      address: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
    };
    this.pool = new Pool(url.origin, {
      keepAliveTimeout: 30_000,
      // The gateway's own timers (attempt timeout, deadline) bound every wait; undici's would race them.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const response = await this.pool.request({
      method: request.method as Dispatcher.HttpMethod,
      path: `${this.basePath}${request.path}`,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body,
      text: () => response.body.text(),
      dump: () => response.body.dump(),
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
