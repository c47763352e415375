// A tap reads a response as its bytes pass to the client, without holding them back: push() per network chunk,
// finish() at the end. One tap per wire format; each turns what it reads into the same wire-neutral TappedResponse
// (tokens by kind, finish reasons in Gemini's vocabulary, ids, visible content), so everything after it is the same
// whatever the format.

import type { ErrorBody } from "../gemini/errors.js";
import type { TappedResponse } from "../turn/record.js";
import { SseLines, sseData } from "./sse.js";

export interface TapResult {
  response: TappedResponse;
  /** An error that ended a stream after it began (a raw error tail, an array element or an event `{"error": ...}`). */
  streamError?: ErrorBody;
  /** Response objects read: chunks for a stream, 1 for a unary answer. */
  chunks: number;
  /** True when bytes were left that were not a complete object (a truncated or non-JSON body). */
  malformed: boolean;
}

export interface Tap {
  push(bytes: Uint8Array): void;
  finish(): TapResult;
}

export interface TapOptions {
  /** Keep the visible text and the model turn (sessions, message content capture). */
  captureContent: boolean;
}

/** Parses one JSON text; undefined when it is not JSON or not an object (the caller marks the answer malformed). */
export function parseObject(json: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(json);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** An `{"error": {code, ...}}` object's error, in either wire format. */
export function errorOf(object: Record<string, unknown>): ErrorBody | undefined {
  const error = object.error;
  return error && typeof error === "object" && !Array.isArray(error) ? (error as ErrorBody) : undefined;
}

/**
 * The framing shared by the taps of answers that are one JSON object (unary), or SSE `data:` events of one JSON object
 * each (`stream`): it parses them and hands each object over; an `{"error": ...}` object ends the stream with an error.
 */
export abstract class JsonEventsTap implements Tap {
  private readonly decoder = new TextDecoder();
  private readonly sse = new SseLines();
  private body = "";
  private streamError: ErrorBody | undefined;
  private chunks = 0;
  private malformed = false;

  constructor(protected readonly stream: boolean) {}

  /** Reads one object: the unary body, or one event. */
  protected abstract read(object: Record<string, unknown>): void;

  /** What was read. */
  protected abstract tapped(): TappedResponse;

  push(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    if (this.stream) this.readLines(this.sse.push(text));
    else this.body += text;
  }

  finish(): TapResult {
    const rest = this.decoder.decode();
    if (this.stream) {
      this.readLines([...this.sse.push(rest), ...this.sse.end()]);
    } else {
      this.body += rest;
      if (this.body.trim()) this.readText(this.body);
    }
    return { response: this.tapped(), streamError: this.streamError, chunks: this.chunks, malformed: this.malformed };
  }

  private readLines(lines: string[]): void {
    for (const line of lines) {
      const data = sseData(line);
      if (data === undefined || data.trim() === "[DONE]") continue;
      this.readText(data);
    }
  }

  private readText(json: string): void {
    const object = parseObject(json);
    if (!object) {
      this.malformed = true;
      return;
    }
    const error = errorOf(object);
    if (error) {
      this.streamError = error;
      return;
    }
    this.chunks++;
    this.read(object);
  }
}
