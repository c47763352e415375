// The model methods of the native surface (generateContent, streamGenerateContent, countTokens, models), and the one
// path every generation takes, whichever surface asked (native, batch, OpenAI-compatible): resolve what the prompt is
// made of for its owner (a named cache, Files API URIs, an implicit cache hit), plan the reply, admit it under quota.
import type { GeminiError } from "../gemini/errors.js";
import { formatEnvelope, notFound } from "../gemini/errors.js";
import type { GenerateContentRequest, GenerateContentResponse } from "../gemini/types.js";
import { cacheNotFound, withCachedContent } from "./cached-contents.js";
import type { Handlers, RequestContext, StreamAnswer, StreamFraming } from "./context.js";
import { jsonAnswer, modelOf, orThrow } from "./context.js";
import { encodeIntEnums } from "./enum-encoding.js";
import { planOverrides } from "./faults.js";
import { fileIdOfUri, fileNotFound, fileUrisIn } from "./files.js";
import type { PlanOverrides, ReplyPlan } from "./generation.js";
import { planReply, streamChunks, unaryResponse } from "./generation.js";
import { prefixUnits } from "./implicit-cache.js";
import type { SimModel } from "./models.js";
import { MODELS, describeModel, findModel } from "./models.js";
import { listAnswer, pageOf } from "./paging.js";
import { violationError } from "./quota.js";
import type { SimulatorState } from "./state.js";
import type { PromptTokens } from "./tokenizer.js";
import { countPromptTokens } from "./tokenizer.js";
import { parseCountTokensRequest, parseGenerateContentRequest } from "./validate.js";

const MODEL_PAGE = { defaultSize: 50, maxSize: 1000 };

export interface PreparedPrompt {
  /** The request as the model sees it: a named cache's contents, instruction and tools merged in. */
  request: GenerateContentRequest;
  /** The part of the prompt a cache serves. */
  cached?: PromptTokens;
}

/**
 * What a request's prompt is made of for `owner`: its named cache (403 when not the owner's, 400 when combined with
 * its own instruction or tools, or another model), its Files API URIs (403 when not the owner's files).
 */
export function preparePrompt(state: SimulatorState, owner: string, model: SimModel, request: GenerateContentRequest, now: number): PreparedPrompt {
  let prepared: PreparedPrompt = { request };
  if (request.cachedContent !== undefined) {
    const cache = orThrow(state.caches.find(owner, request.cachedContent, now), cacheNotFound);
    prepared = { request: withCachedContent(cache, request, model), cached: cache.tokens };
  }
  for (const uri of fileUrisIn(prepared.request.contents)) {
    const id = fileIdOfUri(uri);
    if (id !== undefined && !state.files.get(owner, id, now)) throw fileNotFound(id);
  }
  return prepared;
}

export interface ReplyOptions {
  /** Count the request against the rpm/rpd/tpm quotas (interactive requests; batches have their own). */
  quota: boolean;
}

/** The reply to a validated request, as every surface generates it. */
export function replyTo(state: SimulatorState, owner: string, model: SimModel, request: GenerateContentRequest, overrides: PlanOverrides, options: ReplyOptions): ReplyPlan {
  const now = state.now();
  const prepared = preparePrompt(state, owner, model, request, now);
  // An explicit cache wins; otherwise a repeated prefix may be served implicitly.
  const units = prepared.cached ? undefined : prefixUnits(owner, model, prepared.request);
  const cached = prepared.cached ?? (units && state.implicitCache.lookup(model, units, now));
  const plan = planReply(model, prepared.request, state.options.replyTokens, overrides, cached);
  if (options.quota && state.quotas.enabled) {
    const violation = state.quotas.admit(owner, model.id, plan.prompt.total, now);
    if (violation) throw violationError(model.id, violation);
  }
  if (units) state.implicitCache.record(model, units, now);
  return plan;
}

/** How long a reply of `tokens` visible tokens takes to trickle out. */
export function trickleMs(state: SimulatorState, tokens: number): number {
  return state.options.tokensPerSecond > 0 ? (tokens * 1000) / state.options.tokensPerSecond : 0;
}

const pretty = (value: unknown): string => JSON.stringify(value, null, 2);

/** streamGenerateContent's answer: SSE events (`data: <one line>\r\n\r\n`) or a JSON array written element by element. */
export function nativeStream(chunks: readonly GenerateContentResponse[], framing: StreamFraming, intEnums: boolean): StreamAnswer {
  const frames = chunks.map((chunk, i) => {
    const wire = intEnums ? encodeIntEnums(chunk) : chunk;
    const before = i > 0 ? (chunks[i - 1]!.usageMetadata?.candidatesTokenCount ?? 0) : 0;
    return {
      text: framing === "sse" ? `data: ${JSON.stringify(wire)}\r\n\r\n` : `${i === 0 ? "[" : "\r\n,"}${pretty(wire)}`,
      tokens: (chunk.usageMetadata?.candidatesTokenCount ?? 0) - before,
      usage: chunk.usageMetadata,
    };
  });
  return {
    kind: "stream",
    headers: { "Content-Type": framing === "sse" ? "text/event-stream" : "application/json; charset=UTF-8", "Content-Disposition": "attachment" },
    frames,
    end: framing === "array" ? "\r\n]" : "",
    // SSE: the raw pretty error, no `data:` prefix. Array: one more element, then the array closes.
    failure: (error: GeminiError, sent: number) =>
      framing === "array" ? `${sent > 0 ? "\r\n," : "["}${pretty(error.toEnvelope())}\r\n]` : formatEnvelope(error.toEnvelope()),
  };
}

export function generateHandlers(state: SimulatorState): Handlers<"generateContent" | "streamGenerateContent" | "countTokens" | "listModels" | "getModel"> {
  const plan = async (ctx: RequestContext): Promise<ReplyPlan> => {
    const request = parseGenerateContentRequest(await ctx.json(), modelOf(ctx), ctx.route.version);
    return replyTo(state, ctx.key, modelOf(ctx), request, planOverrides(ctx.fault), { quota: true });
  };
  return {
    generateContent: async (ctx) => {
      const reply = await plan(ctx);
      const response = unaryResponse(reply);
      return jsonAnswer(response, { delayMs: state.options.ttftMs + trickleMs(state, reply.pieces.length), usage: response.usageMetadata });
    },
    streamGenerateContent: async (ctx) => nativeStream(streamChunks(await plan(ctx)), ctx.framing, ctx.intEnums),
    countTokens: async (ctx) => {
      const request = parseCountTokensRequest(await ctx.json(), modelOf(ctx), ctx.route.version);
      const prepared = preparePrompt(state, ctx.key, modelOf(ctx), request, ctx.now);
      const prompt = countPromptTokens(prepared.request);
      const answer: Record<string, unknown> = { totalTokens: prompt.total };
      if (prepared.cached) answer.cachedContentTokenCount = prepared.cached.total;
      if (prompt.details.length > 0) answer.promptTokensDetails = prompt.details;
      if (prepared.cached) answer.cacheTokensDetails = prepared.cached.details;
      return jsonAnswer(answer);
    },
    listModels: async (ctx) => jsonAnswer(listAnswer("models", pageOf(MODELS.map(describeModel), ctx.url.searchParams, MODEL_PAGE))),
    getModel: async (ctx) => {
      const model = findModel(ctx.route.model ?? "");
      if (!model) throw notFound(`Model is not found: models/${ctx.route.model} for api version ${ctx.route.version}`);
      return jsonAnswer(describeModel(model));
    },
  };
}
