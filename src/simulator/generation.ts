// Deterministic generation: the same request always gives the same reply, usage and responseId.
// A reply is a context line proving what the model was sent, then filler words; its length in tokens is a function
// of the request within the configured range. Pure: the HTTP shell only times and writes what these functions return.
import { createHash } from "node:crypto";
import type {
  BlockReason,
  Candidate,
  Content,
  FinishReason,
  GenerateContentRequest,
  GenerateContentResponse,
  ModalityTokenCount,
  Part,
  UsageMetadata,
} from "../gemini/types.js";
import type { SimModel } from "./models.js";
import { countPromptTokens, splitTokens } from "./tokenizer.js";

export interface ReplyTokenRange {
  min: number;
  max: number;
}

/** How many visible tokens one streamed chunk carries. */
export const TOKENS_PER_CHUNK = 5;
const CONTEXT_WORDS = 8;
/** Dynamic thinking spends between these many tokens, by request. */
const DYNAMIC_THOUGHTS = { min: 40, max: 240 };

const FILLER_WORDS = [
  "the", "model", "answers", "with", "simulated", "text", "that", "carries", "no", "meaning", "but", "counts",
  "tokens", "exactly", "and", "stays", "the", "same", "for", "every", "identical", "request", "so", "tests", "can",
  "check", "what", "was", "sent", "gateway", "streams", "quietly", "while", "metrics", "record", "each", "turn",
];

export interface ReplyPlan {
  model: string;
  responseId: string;
  prompt: { total: number; details: ModalityTokenCount[] };
  thoughtsTokens: number;
  /** With thinkingConfig.includeThoughts on a reply that thought: the thought summary, sent as a `thought: true`
   *  part before the answer (its tokens are among thoughtsTokenCount, as at Google). */
  thoughtSummary?: string;
  /** The visible reply as token pieces; joined, they are the text. */
  pieces: string[];
  finishReason: FinishReason;
  /** Set when the prompt is blocked: no candidates at all. */
  blockReason?: BlockReason;
}

export interface PlanOverrides {
  /** A forced finish (fault): the reply is cut to half and ends with this reason (STOP keeps it whole). */
  finishReason?: FinishReason;
  blockReason?: BlockReason;
}

function requestDigest(model: SimModel, request: GenerateContentRequest): Buffer {
  const { contents, systemInstruction, generationConfig, tools } = request;
  return createHash("sha256").update(JSON.stringify({ model: model.id, contents, systemInstruction, generationConfig, tools })).digest();
}

/** mulberry32: a tiny seeded PRNG, enough for picking filler words reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `[context: N contents; first user message: "first eight words"]` */
export function contextLine(contents: readonly Content[]): string {
  const firstUser = contents.find((c) => (c.role ?? "user") === "user" && c.parts.some((p) => typeof p.text === "string"));
  const text = firstUser?.parts.find((p) => typeof p.text === "string")?.text ?? "";
  const words = text.split(/\s+/).filter((w) => w !== "").slice(0, CONTEXT_WORDS).join(" ");
  const noun = contents.length === 1 ? "content" : "contents";
  return `[context: ${contents.length} ${noun}; first user message: ${firstUser ? JSON.stringify(words) : "none"}]`;
}

function fillerText(random: () => number, minTokens: number): string {
  const words: string[] = [];
  let sentenceLength = 0;
  let tokens = 0;
  while (tokens < minTokens) {
    let word = FILLER_WORDS[Math.floor(random() * FILLER_WORDS.length)]!;
    if (sentenceLength === 0) word = word[0]!.toUpperCase() + word.slice(1);
    sentenceLength += 1;
    tokens += 1;
    if (sentenceLength >= 6 + Math.floor(random() * 6)) {
      word += ".";
      tokens += 1;
      sentenceLength = 0;
    }
    words.push(word);
  }
  return words.join(" ");
}

/** Tokens the model thinks before answering: 0 for non-thinking models or budget 0; capped by a positive budget. */
export function thoughtsFor(model: SimModel, request: GenerateContentRequest, random: () => number): number {
  if (!model.thinking) return 0;
  const budget = request.generationConfig?.thinkingConfig?.thinkingBudget ?? -1;
  if (budget === 0) return 0;
  const dynamic = DYNAMIC_THOUGHTS.min + Math.floor(random() * (DYNAMIC_THOUGHTS.max - DYNAMIC_THOUGHTS.min + 1));
  return budget > 0 ? Math.min(budget, dynamic) : dynamic;
}

export function planReply(
  model: SimModel,
  request: GenerateContentRequest,
  range: ReplyTokenRange,
  overrides: PlanOverrides = {},
): ReplyPlan {
  const digest = requestDigest(model, request);
  const random = seededRandom(digest.readUInt32BE(0));
  const responseId = digest.subarray(4, 20).toString("base64url").slice(0, 22);
  const prompt = countPromptTokens(request);
  const base = { model: model.id, responseId, prompt };
  if (overrides.blockReason) {
    return { ...base, thoughtsTokens: 0, pieces: [], finishReason: "OTHER", blockReason: overrides.blockReason };
  }
  const target = range.min + Math.floor(random() * (range.max - range.min + 1));
  const head = `${contextLine(request.contents)}\n\n`;
  const text = head + fillerText(random, target);
  let pieces = splitTokens(text).slice(0, target);
  let thoughtsTokens = thoughtsFor(model, request, random);
  let finishReason: FinishReason = "STOP";

  const maxOutput = request.generationConfig?.maxOutputTokens;
  if (typeof maxOutput === "number" && maxOutput > 0) {
    if (thoughtsTokens >= maxOutput) {
      thoughtsTokens = maxOutput;
      pieces = [];
      finishReason = "MAX_TOKENS";
    } else if (pieces.length > maxOutput - thoughtsTokens) {
      pieces = pieces.slice(0, maxOutput - thoughtsTokens);
      finishReason = "MAX_TOKENS";
    }
  }
  if (overrides.finishReason && overrides.finishReason !== finishReason) {
    if (overrides.finishReason !== "STOP") pieces = pieces.slice(0, Math.ceil(pieces.length / 2));
    finishReason = overrides.finishReason;
  }
  const includeThoughts = request.generationConfig?.thinkingConfig?.includeThoughts === true;
  return { ...base, thoughtsTokens, ...(includeThoughts && thoughtsTokens > 0 ? { thoughtSummary: thoughtSummary(request) } : {}), pieces, finishReason };
}

/** A short, deterministic summary of the "thinking" about the request's last user message. */
function thoughtSummary(request: GenerateContentRequest): string {
  const lastUser = [...request.contents].reverse().find((c) => (c.role ?? "user") === "user");
  const text = lastUser?.parts.find((p) => typeof p.text === "string")?.text ?? "";
  const words = text.split(/\s+/).filter((w) => w !== "").slice(0, CONTEXT_WORDS).join(" ");
  return `**Considering the request**\n\nI am thinking about ${JSON.stringify(words)} before answering.\n`;
}

/** usageMetadata after `candidates` visible tokens, zero fields omitted, in Google's key order. */
export function usageAfter(plan: ReplyPlan, candidates: number): UsageMetadata {
  const usage: UsageMetadata = { promptTokenCount: plan.prompt.total };
  if (candidates > 0) usage.candidatesTokenCount = candidates;
  usage.totalTokenCount = plan.prompt.total + candidates + plan.thoughtsTokens;
  if (plan.prompt.details.length > 0) usage.promptTokensDetails = plan.prompt.details;
  if (plan.thoughtsTokens > 0) usage.thoughtsTokenCount = plan.thoughtsTokens;
  return usage;
}

function response(plan: ReplyPlan, candidate: Candidate | undefined, candidates: number): GenerateContentResponse {
  const out: GenerateContentResponse = {};
  if (candidate) out.candidates = [candidate];
  if (plan.blockReason) {
    out.promptFeedback = {
      blockReason: plan.blockReason,
      safetyRatings: [
        { category: "HARM_CATEGORY_SEXUALLY_EXPLICIT", probability: "NEGLIGIBLE" },
        { category: "HARM_CATEGORY_HATE_SPEECH", probability: "NEGLIGIBLE" },
        { category: "HARM_CATEGORY_HARASSMENT", probability: "NEGLIGIBLE" },
        { category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: plan.blockReason === "SAFETY" ? "HIGH" : "NEGLIGIBLE" },
      ],
    };
  }
  out.usageMetadata = usageAfter(plan, candidates);
  out.modelVersion = plan.model;
  out.responseId = plan.responseId;
  return out;
}

function candidateWith(parts: Part[], finishReason: FinishReason | undefined): Candidate {
  const candidate: Candidate = { content: parts.length === 0 ? { role: "model" } : { parts, role: "model" } };
  if (finishReason) candidate.finishReason = finishReason;
  candidate.index = 0;
  return candidate;
}

const thoughtPart = (plan: ReplyPlan): Part[] => (plan.thoughtSummary === undefined ? [] : [{ text: plan.thoughtSummary, thought: true }]);

/** The whole answer of generateContent: the thought summary first when asked for, then the text. */
export function unaryResponse(plan: ReplyPlan): GenerateContentResponse {
  if (plan.blockReason) return response(plan, undefined, 0);
  const parts = [...thoughtPart(plan), ...(plan.pieces.length > 0 ? [{ text: plan.pieces.join("") }] : [])];
  return response(plan, candidateWith(parts, plan.finishReason), plan.pieces.length);
}

/** The chunks of streamGenerateContent: running usage on each, finishReason only on the last; a thought summary
 *  comes first, in a chunk of its own. */
export function streamChunks(plan: ReplyPlan, tokensPerChunk = TOKENS_PER_CHUNK): GenerateContentResponse[] {
  if (plan.blockReason || plan.pieces.length === 0) return [unaryResponse(plan)];
  const chunks: GenerateContentResponse[] = [];
  if (plan.thoughtSummary !== undefined) chunks.push(response(plan, candidateWith(thoughtPart(plan), undefined), 0));
  for (let start = 0; start < plan.pieces.length; start += tokensPerChunk) {
    const end = Math.min(start + tokensPerChunk, plan.pieces.length);
    const last = end === plan.pieces.length;
    const text = plan.pieces.slice(start, end).join("");
    chunks.push(response(plan, candidateWith([{ text }], last ? plan.finishReason : undefined), end));
  }
  return chunks;
}
