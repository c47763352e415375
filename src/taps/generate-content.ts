// The tap of Gemini's generate answers (generateContent, streamGenerateContent as SSE or as a JSON array): it reads
// what telemetry and sessions need (the LAST chunk's usage, finish reasons, block reason, ids, the assembled model
// turn). Usage is never summed over chunks: every chunk carries running totals and only the last one is
// authoritative. Enums may come as names or, with `enum-encoding=int`, as numbers: both are read as names.

import { parseAlt } from "../gemini/alt.js";
import { BLOCK_REASON_NUMBERS, enumName, FINISH_REASON_NUMBERS } from "../gemini/enums.js";
import type { ErrorBody } from "../gemini/errors.js";
import type { Content, GenerateContentResponse, Part } from "../gemini/types.js";
import { tokensOfUsageMetadata } from "../gemini/usage.js";
import type { TappedResponse } from "../turn/record.js";
import { SseLines, sseData } from "./sse.js";
import { errorOf, parseObject, type Tap, type TapOptions, type TapResult } from "./tap.js";

/** The three shapes of a successful response body. */
export type ResponseFormat = "sse" | "json_array" | "json";

/** The answer's shape: unary JSON, or for a stream SSE when `alt`/`$alt` asks for it, else the JSON array. */
export function responseFormat(stream: boolean, query: URLSearchParams): ResponseFormat {
  if (!stream) return "json";
  return parseAlt(query).form === "sse" ? "sse" : "json_array";
}

export class GenerateContentTap implements Tap {
  private readonly decoder = new TextDecoder();
  private readonly sse = new SseLines();
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
      this.readSseLines([...this.sse.push(rest), ...this.sse.end()]);
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
    this.readSseLines(this.sse.push(text));
  }

  private readSseLines(lines: string[]): void {
    for (const line of lines) {
      const data = sseData(line);
      if (data !== undefined) this.readObjectText(data);
      else if (line.trim()) this.sseTail += `${line}\n`;
    }
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
    const parsed = parseObject(json);
    if (parsed) this.readObject(parsed);
    else this.malformed = true;
  }

  // The fields are checked as they are read: an upstream (or anything posing as one) may send any shape.
  private readObject(object: Record<string, unknown>): void {
    const error = errorOf(object);
    if (error) {
      this.streamError = error;
      return;
    }
    const chunk = object as GenerateContentResponse;
    this.chunks++;
    if (isObject(chunk.usageMetadata)) this.usage = chunk.usageMetadata;
    if (typeof chunk.responseId === "string") this.responseId = chunk.responseId;
    if (typeof chunk.modelVersion === "string") this.modelVersion = chunk.modelVersion;
    const blockReason = isObject(chunk.promptFeedback) ? enumName(BLOCK_REASON_NUMBERS, chunk.promptFeedback.blockReason) : undefined;
    if (blockReason && blockReason !== "BLOCK_REASON_UNSPECIFIED") this.blockReason = blockReason;
    if (!Array.isArray(chunk.candidates)) return;
    chunk.candidates.forEach((candidate, position) => {
      if (!isObject(candidate)) return;
      const index = typeof candidate.index === "number" ? candidate.index : position;
      const finishReason = enumName(FINISH_REASON_NUMBERS, candidate.finishReason);
      if (finishReason) this.finishByCandidate.set(index, finishReason);
      const parts = isObject(candidate.content) ? candidate.content.parts : undefined;
      if (index === 0 && Array.isArray(parts)) for (const part of parts) if (isObject(part)) this.readPart(part);
    });
  }

  /** Thought parts are not part of the model turn; an empty text part (the last chunk may carry one) is not visible. */
  private readPart(part: Part): void {
    if (part.thought === true) return;
    if (part.text !== "") this.hasVisibleParts = true;
    if (!this.options.captureContent) return;
    const last = this.parts.at(-1);
    if (typeof part.text === "string" && typeof last?.text === "string" && !part.thoughtSignature) {
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
    if (this.usage) {
      response.usage = this.usage;
      response.tokens = tokensOfUsageMetadata(this.usage);
    }
    if (this.blockReason) response.blockReason = this.blockReason;
    if (this.responseId) response.responseId = this.responseId;
    if (this.modelVersion) response.modelVersion = this.modelVersion;
    if (this.options.captureContent) {
      response.text = this.parts.map((p) => (typeof p.text === "string" ? p.text : "")).join("");
      if (this.parts.length > 0) response.modelContent = { role: "model", parts: this.parts } satisfies Content;
    }
    return response;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> & object =>
  typeof value === "object" && value !== null && !Array.isArray(value);
