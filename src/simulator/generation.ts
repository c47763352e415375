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
  Part,
  UsageMetadata,
} from "../gemini/types.js";
import type { SimModel } from "./models.js";
import type { PromptTokens } from "./tokenizer.js";
import { countPromptTokens, countTextTokens, splitTokens } from "./tokenizer.js";

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

/** The code execution tool's turn: the code the model writes, and what running it printed. */
export interface CodeExecution {
  code: string;
  output: string;
  /** The code is model output: among candidatesTokenCount. */
  codeTokens: number;
  /** The result is fed back to the model: toolUsePromptTokenCount. */
  outputTokens: number;
}

export interface ReplyPlan {
  model: string;
  responseId: string;
  /** The whole prompt, cached part included (promptTokenCount INCLUDES cachedContentTokenCount). */
  prompt: PromptTokens;
  /** The part of the prompt served from a cache (explicit or implicit). */
  cached?: PromptTokens;
  thoughtsTokens: number;
  /** With thinkingConfig.includeThoughts on a reply that thought: the thought summary, sent as a `thought: true`
   *  part before the answer (its tokens are among thoughtsTokenCount, as at Google). */
  thoughtSummary?: string;
  /** Set when the request offers the code execution tool: its parts come before the text. */
  codeExecution?: CodeExecution;
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

const firstWords = (text: string): string => text.split(/\s+/).filter((w) => w !== "").slice(0, CONTEXT_WORDS).join(" ");

/** `[context: N contents; first user message: "first eight words"]` */
export function contextLine(contents: readonly Content[]): string {
  const firstUser = contents.find((c) => (c.role ?? "user") === "user" && c.parts.some((p) => typeof p.text === "string"));
  const text = firstUser?.parts.find((p) => typeof p.text === "string")?.text ?? "";
  const words = firstWords(text);
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

/** The request offers the code execution tool (`{codeExecution: {}}`, or snake_case). */
export function offersCodeExecution(request: GenerateContentRequest): boolean {
  return (request.tools ?? []).some((tool) => typeof tool === "object" && tool !== null && ("codeExecution" in tool || "code_execution" in tool));
}

/** Deterministic code about the last user message, and what it prints: the number of its first words. */
export function codeExecutionFor(request: GenerateContentRequest): CodeExecution {
  const words = firstWords(lastUserText(request));
  const code = `words = ${JSON.stringify(words)}.split()\nprint(len(words))\n`;
  const output = `${words === "" ? 0 : words.split(" ").length}\n`;
  return { code, output, codeTokens: countTextTokens(code), outputTokens: countTextTokens(output) };
}

/**
 * The reply to a request. `cached` is the part of its prompt a cache serves (the caller resolves caches); the
 * prompt itself is counted from `request`, which holds the cached contents too.
 */
export function planReply(
  model: SimModel,
  request: GenerateContentRequest,
  range: ReplyTokenRange,
  overrides: PlanOverrides = {},
  cached?: PromptTokens,
): ReplyPlan {
  const digest = requestDigest(model, request);
  const random = seededRandom(digest.readUInt32BE(0));
  const responseId = digest.subarray(4, 20).toString("base64url").slice(0, 22);
  const prompt = countPromptTokens(request);
  const base = { model: model.id, responseId, prompt, ...(cached && cached.total > 0 ? { cached } : {}) };
  if (overrides.blockReason) {
    return { ...base, thoughtsTokens: 0, pieces: [], finishReason: "OTHER", blockReason: overrides.blockReason };
  }
  const target = range.min + Math.floor(random() * (range.max - range.min + 1));
  const head = `${contextLine(request.contents)}\n\n`;
  const text = head + fillerText(random, target);
  let pieces = splitTokens(text).slice(0, target);
  let thoughtsTokens = thoughtsFor(model, request, random);
  let codeExecution = offersCodeExecution(request) ? codeExecutionFor(request) : undefined;
  let finishReason: FinishReason = "STOP";

  // maxOutputTokens covers thoughts first, then the code, then the text.
  const maxOutput = request.generationConfig?.maxOutputTokens;
  if (typeof maxOutput === "number" && maxOutput > 0) {
    const afterThoughts = maxOutput - thoughtsTokens;
    const codeTokens = codeExecution?.codeTokens ?? 0;
    if (afterThoughts <= 0 || codeTokens > afterThoughts) {
      thoughtsTokens = Math.min(thoughtsTokens, maxOutput);
      codeExecution = undefined;
      pieces = [];
      finishReason = "MAX_TOKENS";
    } else if (pieces.length > afterThoughts - codeTokens) {
      pieces = pieces.slice(0, afterThoughts - codeTokens);
      finishReason = "MAX_TOKENS";
    }
  }
  if (overrides.finishReason && overrides.finishReason !== finishReason) {
    if (overrides.finishReason !== "STOP") pieces = pieces.slice(0, Math.ceil(pieces.length / 2));
    finishReason = overrides.finishReason;
  }
  const includeThoughts = request.generationConfig?.thinkingConfig?.includeThoughts === true;
  return {
    ...base,
    thoughtsTokens,
    ...(includeThoughts && thoughtsTokens > 0 ? { thoughtSummary: thoughtSummary(request) } : {}),
    ...(codeExecution ? { codeExecution } : {}),
    pieces,
    finishReason,
  };
}

function lastUserText(request: GenerateContentRequest): string {
  const lastUser = [...request.contents].reverse().find((c) => (c.role ?? "user") === "user");
  return lastUser?.parts.find((p) => typeof p.text === "string")?.text ?? "";
}

/** A short, deterministic summary of the "thinking" about the request's last user message. */
function thoughtSummary(request: GenerateContentRequest): string {
  return `**Considering the request**\n\nI am thinking about ${JSON.stringify(firstWords(lastUserText(request)))} before answering.\n`;
}

/** How far an answer got: visible tokens sent (code and text), and whether the code's result was fed back yet. */
export interface Progress {
  candidates: number;
  toolUse: boolean;
}

/** usageMetadata after `progress`, zero fields omitted, in Google's key order. */
export function usageAfter(plan: ReplyPlan, progress: Progress): UsageMetadata {
  const { candidates } = progress;
  const toolUse = progress.toolUse ? (plan.codeExecution?.outputTokens ?? 0) : 0;
  const usage: UsageMetadata = { promptTokenCount: plan.prompt.total };
  if (candidates > 0) usage.candidatesTokenCount = candidates;
  usage.totalTokenCount = plan.prompt.total + candidates + plan.thoughtsTokens + toolUse;
  if (plan.cached) usage.cachedContentTokenCount = plan.cached.total;
  if (plan.prompt.details.length > 0) usage.promptTokensDetails = plan.prompt.details;
  if (plan.cached) usage.cacheTokensDetails = plan.cached.details;
  if (toolUse > 0) {
    usage.toolUsePromptTokenCount = toolUse;
    usage.toolUsePromptTokensDetails = [{ modality: "TEXT", tokenCount: toolUse }];
  }
  if (plan.thoughtsTokens > 0) usage.thoughtsTokenCount = plan.thoughtsTokens;
  return usage;
}

function response(plan: ReplyPlan, candidate: Candidate | undefined, progress: Progress): GenerateContentResponse {
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
  out.usageMetadata = usageAfter(plan, progress);
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

const codePart = ({ code }: CodeExecution): Part => ({ executableCode: { language: "PYTHON", code } });
const resultPart = ({ output }: CodeExecution): Part => ({ codeExecutionResult: { outcome: "OUTCOME_OK", output } });

/** The whole answer of generateContent: the thought summary first when asked for, the code and its result, the text. */
export function unaryResponse(plan: ReplyPlan): GenerateContentResponse {
  if (plan.blockReason) return response(plan, undefined, { candidates: 0, toolUse: false });
  const code = plan.codeExecution;
  const parts = [
    ...thoughtPart(plan),
    ...(code ? [codePart(code), resultPart(code)] : []),
    ...(plan.pieces.length > 0 ? [{ text: plan.pieces.join("") }] : []),
  ];
  const progress = { candidates: (code?.codeTokens ?? 0) + plan.pieces.length, toolUse: code !== undefined };
  return response(plan, candidateWith(parts, plan.finishReason), progress);
}

/** The chunks of streamGenerateContent: running usage on each, finishReason only on the last; a thought summary,
 *  the code and its result each come in a chunk of their own, before the text. */
export function streamChunks(plan: ReplyPlan, tokensPerChunk = TOKENS_PER_CHUNK): GenerateContentResponse[] {
  if (plan.blockReason || plan.pieces.length === 0) return [unaryResponse(plan)];
  const chunks: GenerateContentResponse[] = [];
  if (plan.thoughtSummary !== undefined) chunks.push(response(plan, candidateWith(thoughtPart(plan), undefined), { candidates: 0, toolUse: false }));
  const code = plan.codeExecution;
  const codeTokens = code?.codeTokens ?? 0;
  if (code) {
    chunks.push(response(plan, candidateWith([codePart(code)], undefined), { candidates: codeTokens, toolUse: false }));
    chunks.push(response(plan, candidateWith([resultPart(code)], undefined), { candidates: codeTokens, toolUse: true }));
  }
  for (let start = 0; start < plan.pieces.length; start += tokensPerChunk) {
    const end = Math.min(start + tokensPerChunk, plan.pieces.length);
    const last = end === plan.pieces.length;
    const text = plan.pieces.slice(start, end).join("");
    chunks.push(response(plan, candidateWith([{ text }], last ? plan.finishReason : undefined), { candidates: codeTokens + end, toolUse: code !== undefined }));
  }
  return chunks;
}
