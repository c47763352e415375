// The response tap: fed the response bytes as they pass to the client, it reads what telemetry and sessions need
// (the LAST chunk's usage, finish reasons, block reason, ids, the assembled model turn) without holding the stream
// back. Incremental and pure: push() per network chunk, finish() at the end. Usage is never summed over chunks:
// every chunk carries running totals and only the last one is authoritative.

import type { TappedResponse } from "../turn/record.js";
import type { ErrorBody } from "./errors.js";
import type { Content, GenerateContentResponse, Part } from "./types.js";

/** The three shapes of a successful response body. */
export type ResponseFormat = "sse" | "json_array" | "json";

export function responseFormat(stream: boolean, query: URLSearchParams): ResponseFormat {
  if (!stream) return "json";
  return query.get("alt") === "sse" ? "sse" : "json_array";
}

export interface TapOptions {
  /** Keep the visible text and the model turn (sessions, message content capture). */
  captureContent: boolean;
}

export interface TapResult {
  response: TappedResponse;
  /** An error that ended a stream after it began (SSE raw tail, or an array element `{"error": ...}`). */
  streamError?: ErrorBody;
  /** Response objects read: chunks for a stream, 1 for a unary answer. */
  chunks: number;
  /** True when bytes were left that were not a complete object (a truncated or non-JSON body). */
  malformed: boolean;
}

export class ResponseTap {
  private readonly decoder = new TextDecoder();
  private readonly finishByCandidate = new Map<number, string>();
  private readonly parts: Part[] = [];
  private usage: TappedResponse["usage"];
  private blockReason: string | undefined;
  private responseId: string | undefined;
  private modelVersion: string | undefined;
  private hasVisibleParts = false;
  private streamError: ErrorBody | undefined;
  private chunks = 0;
  private malformed = false;
  /** Text received but not yet parsed: the incomplete line (SSE), element (array) or the whole body (unary). */
  private pending = "";
  /** SSE: lines that were not `data:` events; Gemini ends a failed stream with a raw error object. */
  private sseTail = "";
  /** JSON array scanner state. */
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(
    private readonly format: ResponseFormat,
    private readonly options: TapOptions,
  ) {}

  push(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    if (this.format === "sse") this.pushSse(text);
    else if (this.format === "json_array") this.pushArray(text);
    else this.pending += text;
  }

  finish(): TapResult {
    const rest = this.decoder.decode();
    if (this.format === "sse") {
      this.pushSse(`${rest}\n`);
      if (this.sseTail.trim()) this.readObjectText(this.sseTail);
    } else if (this.format === "json_array") {
      this.pushArray(rest);
      if (this.pending.trim() || this.depth !== 0) this.malformed = true;
    } else {
      this.pending += rest;
      if (this.pending.trim()) this.readObjectText(this.pending);
    }
    return { response: this.tapped(), streamError: this.streamError, chunks: this.chunks, malformed: this.malformed };
  }

  private pushSse(text: string): void {
    let buffer = this.pending + text;
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (line.startsWith("data:")) this.readObjectText(line.slice(5));
      else if (line.trim()) this.sseTail += `${line}\n`;
      newline = buffer.indexOf("\n");
    }
    this.pending = buffer;
  }

  /** Scans `[ {..}, {..} ]` and reads each top-level element as soon as it is complete. */
  private pushArray(text: string): void {
    let elementStart = this.depth >= 2 ? 0 : -1;
    let buffer = this.depth >= 2 ? this.pending + text : text;
    const offset = this.depth >= 2 ? this.pending.length : 0;
    for (let i = offset; i < buffer.length; i++) {
      const c = buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === "[" || c === "{") {
        this.depth++;
        if (this.depth === 2) elementStart = i;
      } else if (c === "]" || c === "}") {
        this.depth--;
        if (this.depth === 1 && elementStart >= 0) {
          this.readObjectText(buffer.slice(elementStart, i + 1));
          elementStart = -1;
        }
      }
    }
    if (elementStart >= 0) buffer = buffer.slice(elementStart);
    this.pending = this.depth >= 2 ? buffer : "";
  }

  private readObjectText(json: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      this.malformed = true;
      return;
    }
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) this.readObject(parsed as GenerateContentResponse);
    else this.malformed = true;
  }

  private readObject(chunk: GenerateContentResponse & { error?: ErrorBody }): void {
    if (chunk.error) {
      this.streamError = chunk.error;
      return;
    }
    this.chunks++;
    if (chunk.usageMetadata) this.usage = chunk.usageMetadata;
    if (chunk.responseId) this.responseId = chunk.responseId;
    if (chunk.modelVersion) this.modelVersion = chunk.modelVersion;
    if (chunk.promptFeedback?.blockReason) this.blockReason = chunk.promptFeedback.blockReason;
    chunk.candidates?.forEach((candidate, position) => {
      const index = candidate.index ?? position;
      if (candidate.finishReason) this.finishByCandidate.set(index, candidate.finishReason);
      if (index === 0) for (const part of candidate.content?.parts ?? []) this.readPart(part);
    });
  }

  /** Thought parts are not part of the model turn; an empty text part (the last chunk may carry one) is not visible. */
  private readPart(part: Part): void {
    if (part.thought) return;
    if (part.text !== "") this.hasVisibleParts = true;
    if (!this.options.captureContent) return;
    const last = this.parts.at(-1);
    if (part.text !== undefined && last?.text !== undefined && !part.thoughtSignature) {
      last.text += part.text;
    } else if (part.text !== "" || part.thoughtSignature) {
      this.parts.push({ ...part });
    }
  }

  private tapped(): TappedResponse {
    const response: TappedResponse = {
      finishReasons: [...this.finishByCandidate.entries()].sort(([a], [b]) => a - b).map(([, reason]) => reason),
      hasVisibleParts: this.hasVisibleParts,
    };
    if (this.usage) response.usage = this.usage;
    if (this.blockReason) response.blockReason = this.blockReason;
    if (this.responseId) response.responseId = this.responseId;
    if (this.modelVersion) response.modelVersion = this.modelVersion;
    if (this.options.captureContent) {
      response.text = this.parts.map((p) => p.text ?? "").join("");
      if (this.parts.length > 0) response.modelContent = { role: "model", parts: this.parts } satisfies Content;
    }
    return response;
  }
}
