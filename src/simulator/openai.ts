// The OpenAI-compatible endpoint (`/{v}/openai/`): chat completions (unary and streamed), embeddings and models, in
// OpenAI's shapes, over the same generation as generateContent. Pure translation both ways, then thin handlers.
import { invalidArgument, notFound } from "../gemini/errors.js";
import type { GeminiError } from "../gemini/errors.js";
import type { Candidate, Content, GenerateContentResponse, Part, UsageMetadata } from "../gemini/types.js";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatContentPart,
  ChatFinishReason,
  ChatMessage,
  CompletionUsage,
  EmbeddingResponse,
  OpenAiModel,
} from "../openai/types.js";
import type { Handlers, StreamAnswer, StreamFrame } from "./context.js";
import { jsonAnswer, modelOf } from "./context.js";
import { embedText } from "./embeddings.js";
import { planOverrides } from "./faults.js";
import { replyTo, trickleMs } from "./generate.js";
import type { ReplyPlan } from "./generation.js";
import { streamChunks, unaryResponse } from "./generation.js";
import type { SimModel } from "./models.js";
import { MODELS, findModel } from "./models.js";
import type { SimulatorState } from "./state.js";
import { countTextTokens } from "./tokenizer.js";
import type { JsonObject } from "./validate.js";
import { isObject, parseGenerateContentRequest } from "./validate.js";

/** reasoning_effort as a thinking budget (what Google documents for 2.5 models; `none` turns thinking off). */
export const REASONING_BUDGETS: Readonly<Record<string, number>> = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576, xhigh: 24576, max: 24576 };

const CONTENT_FILTER_REASONS = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"]);

/** The model id a request names (`gemini-2.5-flash` or `models/gemini-2.5-flash`). */
export function requestedModel(raw: unknown): string {
  if (!isObject(raw) || typeof raw.model !== "string" || raw.model === "") throw invalidArgument("model is required.");
  return raw.model.replace(/^models\//, "");
}

function textOf(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  return (content ?? []).flatMap((p) => (p.type === "text" && typeof p.text === "string" ? [p.text] : [])).join("\n");
}

/** A user message's parts: text, and images as inline data (data: URLs) or file data (other URLs). */
function userParts(content: ChatMessage["content"]): Part[] {
  if (typeof content === "string" || content === null || content === undefined) return [{ text: content ?? "" }];
  return content.map((part: ChatContentPart): Part => {
    const url = part.image_url?.url;
    if (part.type !== "image_url" || url === undefined) return { text: part.text ?? "" };
    const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    return data ? { inlineData: { mimeType: data[1]!, data: data[2]! } } : { fileData: { fileUri: url } };
  });
}

function parseArguments(text: string): Record<string, unknown> {
  try {
    const args: unknown = JSON.parse(text);
    return isObject(args) ? args : { value: args };
  } catch {
    throw invalidArgument(`Function call arguments must be a JSON object: ${JSON.stringify(text)}`);
  }
}

/** OpenAI messages as Gemini contents: system/developer become the system instruction, assistant the model, and
 *  consecutive tool results one user turn of function responses (named after the calls they answer). */
export function contentsOf(messages: readonly ChatMessage[]): { contents: Content[]; systemInstruction?: Content } {
  const system: Part[] = [];
  const contents: Content[] = [];
  const callNames = new Map<string, string>();
  for (const message of messages) {
    switch (message.role) {
      case "system":
      case "developer":
        system.push({ text: textOf(message.content) });
        break;
      case "user":
        contents.push({ role: "user", parts: userParts(message.content) });
        break;
      case "assistant": {
        const text = textOf(message.content);
        const calls = (message.tool_calls ?? []).map((call): Part => {
          callNames.set(call.id, call.function.name);
          return { functionCall: { name: call.function.name, args: parseArguments(call.function.arguments), id: call.id } };
        });
        contents.push({ role: "model", parts: [...(text !== "" || calls.length === 0 ? [{ text }] : []), ...calls] });
        break;
      }
      case "tool": {
        const id = message.tool_call_id ?? "";
        const part: Part = { functionResponse: { name: callNames.get(id) ?? message.name ?? "function", response: { content: textOf(message.content) }, id } };
        const last = contents.at(-1);
        if (last?.role === "user" && last.parts.every((p) => p.functionResponse)) last.parts.push(part);
        else contents.push({ role: "user", parts: [part] });
        break;
      }
      default:
        throw invalidArgument(`Invalid role: ${JSON.stringify((message as { role: unknown }).role)}. Use system, developer, user, assistant or tool.`);
    }
  }
  return system.length > 0 ? { contents, systemInstruction: { parts: system } } : { contents };
}

function toolsOf(tools: unknown): unknown[] | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const functionDeclarations = tools.flatMap((tool) => (isObject(tool) && tool.type === "function" && isObject(tool.function) ? [tool.function] : []));
  return functionDeclarations.length > 0 ? [{ functionDeclarations }] : undefined;
}

function toolConfigOf(choice: unknown): unknown {
  if (choice === "none") return { functionCallingConfig: { mode: "NONE" } };
  if (choice === "auto") return { functionCallingConfig: { mode: "AUTO" } };
  if (choice === "required") return { functionCallingConfig: { mode: "ANY" } };
  if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === "string") {
    return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.function.name] } };
  }
  return undefined;
}

/**
 * A chat completion request as the GenerateContentRequest body Google makes of it: max_tokens (or
 * max_completion_tokens) -> maxOutputTokens, reasoning_effort -> a thinking budget, stop -> stopSequences, tools ->
 * function declarations, `extra_body.google` (cached_content, thinking_config) passed through. Only n = 1.
 */
export function chatToGenerateBody(raw: JsonObject): JsonObject {
  if (!Array.isArray(raw.messages) || raw.messages.length === 0 || !raw.messages.every(isObject)) {
    throw invalidArgument("messages must be a non-empty list of messages.");
  }
  if (raw.n !== undefined && raw.n !== null && raw.n !== 1) throw invalidArgument("Only one candidate (n = 1) is supported.");
  // Messages are objects; contentsOf reads them as OpenAI's shape and answers 400 for a role it does not know.
  const body: JsonObject = { ...contentsOf(raw.messages as unknown as ChatMessage[]) };
  const config: JsonObject = {};
  const maxTokens = raw.max_completion_tokens ?? raw.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) config.maxOutputTokens = maxTokens;
  if (raw.temperature !== undefined && raw.temperature !== null) config.temperature = raw.temperature;
  if (raw.top_p !== undefined && raw.top_p !== null) config.topP = raw.top_p;
  if (raw.seed !== undefined && raw.seed !== null) config.seed = raw.seed;
  if (typeof raw.stop === "string") config.stopSequences = [raw.stop];
  else if (Array.isArray(raw.stop)) config.stopSequences = raw.stop;
  const google = isObject(raw.extra_body) && isObject(raw.extra_body.google) ? raw.extra_body.google : {};
  if (typeof raw.reasoning_effort === "string") {
    const budget = REASONING_BUDGETS[raw.reasoning_effort];
    if (budget === undefined) throw invalidArgument(`Invalid reasoning_effort: ${JSON.stringify(raw.reasoning_effort)}.`);
    config.thinkingConfig = { thinkingBudget: budget };
  }
  if (isObject(google.thinking_config)) config.thinkingConfig = google.thinking_config;
  if (Object.keys(config).length > 0) body.generationConfig = config;
  const tools = toolsOf(raw.tools);
  if (tools) body.tools = tools;
  const toolConfig = toolConfigOf(raw.tool_choice);
  if (toolConfig !== undefined) body.toolConfig = toolConfig;
  if (typeof google.cached_content === "string") body.cachedContent = google.cached_content;
  return body;
}

/** OpenAI's finish_reason for a Gemini candidate (a blocked prompt, with no candidate, is content_filter). */
export function chatFinishReason(candidate: Candidate | undefined): ChatFinishReason {
  const reason = candidate?.finishReason;
  if (reason === undefined || CONTENT_FILTER_REASONS.has(reason)) return "content_filter";
  if (reason === "MAX_TOKENS") return "length";
  return candidate?.content?.parts?.some((p) => p.functionCall) ? "tool_calls" : "stop";
}

/** OpenAI usage of a Gemini usage: cached tokens are among the prompt's, thoughts among the completion's. */
export function chatUsage(usage: UsageMetadata | undefined): CompletionUsage {
  const prompt = (usage?.promptTokenCount ?? 0) + (usage?.toolUsePromptTokenCount ?? 0);
  const completion = (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0);
  const out: CompletionUsage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: usage?.totalTokenCount ?? prompt + completion };
  if (usage?.cachedContentTokenCount) out.prompt_tokens_details = { cached_tokens: usage.cachedContentTokenCount };
  if (usage?.thoughtsTokenCount) out.completion_tokens_details = { reasoning_tokens: usage.thoughtsTokenCount };
  return out;
}

/** A candidate's visible parts as OpenAI text: thoughts left out, code and its result as Markdown blocks. */
function visibleText(candidate: Candidate | undefined): string {
  return (candidate?.content?.parts ?? [])
    .map((p) => {
      if (p.thought) return "";
      if (p.executableCode) return `\`\`\`python\n${p.executableCode.code}\`\`\`\n`;
      if (p.codeExecutionResult) return `\`\`\`\n${p.codeExecutionResult.output ?? ""}\`\`\`\n`;
      return p.text ?? "";
    })
    .join("");
}

function toolCallsOf(candidate: Candidate | undefined): ChatCompletion["choices"][number]["message"]["tool_calls"] {
  const calls = (candidate?.content?.parts ?? []).flatMap((p, i) =>
    p.functionCall ? [{ id: p.functionCall.id ?? `call_${i}`, type: "function" as const, function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) } }] : [],
  );
  return calls.length > 0 ? calls : undefined;
}

export function chatCompletion(response: GenerateContentResponse, model: string, created: number): ChatCompletion {
  const candidate = response.candidates?.[0];
  const toolCalls = toolCallsOf(candidate);
  const text = visibleText(candidate);
  return {
    choices: [
      {
        finish_reason: chatFinishReason(candidate),
        index: 0,
        message: { content: text === "" && (toolCalls || !candidate) ? null : text, role: "assistant", ...(toolCalls ? { tool_calls: toolCalls } : {}) },
      },
    ],
    created,
    id: response.responseId ?? "",
    model,
    object: "chat.completion",
    usage: chatUsage(response.usageMetadata),
  };
}

/**
 * The chunks of a streamed completion, one per Gemini chunk that shows something (thought summaries do not), the
 * last with the finish_reason; with include_usage, one more with no choices and the usage.
 */
export function chatChunks(chunks: readonly GenerateContentResponse[], model: string, created: number, includeUsage: boolean): Array<{ chunk: ChatCompletionChunk; source: GenerateContentResponse }> {
  const out: Array<{ chunk: ChatCompletionChunk; source: GenerateContentResponse }> = [];
  chunks.forEach((source, i) => {
    const candidate = source.candidates?.[0];
    const last = i === chunks.length - 1;
    const content = visibleText(candidate);
    if (content === "" && !last) return;
    const chunk: ChatCompletionChunk = {
      choices: [{ delta: { content, role: "assistant" }, finish_reason: last ? chatFinishReason(candidate) : null, index: 0 }],
      created,
      id: source.responseId ?? "",
      model,
      object: "chat.completion.chunk",
    };
    out.push({ chunk, source });
  });
  const final = chunks.at(-1);
  if (includeUsage && final) {
    const usage: ChatCompletionChunk = { choices: [], created, id: final.responseId ?? "", model, object: "chat.completion.chunk", usage: chatUsage(final.usageMetadata) };
    out.push({ chunk: usage, source: final });
  }
  return out;
}

/** SSE `data: <chunk>\n\n` events ending with `data: [DONE]`; a failure is one `data: {"error": ...}` event, no [DONE]. */
export function openaiStream(chunks: ReturnType<typeof chatChunks>): StreamAnswer {
  let before = 0;
  const frames: StreamFrame[] = chunks.map(({ chunk, source }) => {
    const candidates = source.usageMetadata?.candidatesTokenCount ?? 0;
    const frame = { text: `data: ${JSON.stringify(chunk)}\n\n`, tokens: candidates - before, usage: source.usageMetadata };
    before = candidates;
    return frame;
  });
  return {
    kind: "stream",
    headers: { "Content-Type": "text/event-stream" },
    frames,
    end: "data: [DONE]\n\n",
    failure: (error: GeminiError) => {
      const { code, message, status } = error.toEnvelope().error;
      return `data: ${JSON.stringify({ error: { code, message, status } })}\n\n`;
    },
  };
}

/** An embeddings request: input (a string or strings), encoding_format (float, or base64 as the SDK asks by default). */
export function parseEmbeddingsRequest(raw: JsonObject, model: SimModel): { inputs: string[]; base64: boolean; dimensions?: number } {
  const inputs = typeof raw.input === "string" ? [raw.input] : raw.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((i) => typeof i === "string")) {
    throw invalidArgument("input must be a string or a non-empty list of strings.");
  }
  const format = raw.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") throw invalidArgument(`Invalid encoding_format: ${JSON.stringify(format)}. Use float or base64.`);
  const max = model.embeddingDimensions ?? 0;
  const dimensions = raw.dimensions;
  if (dimensions !== undefined && (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > max)) {
    throw invalidArgument(`dimensions must be between 1 and ${max}, got ${JSON.stringify(dimensions)}.`);
  }
  return { inputs: inputs as string[], base64: format === "base64", ...(dimensions === undefined ? {} : { dimensions }) };
}

/** float32 little-endian, base64-encoded: what the openai SDK decodes by default. */
export function float32Base64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString("base64");
}

export function embeddingsResponse(model: SimModel, request: ReturnType<typeof parseEmbeddingsRequest>): EmbeddingResponse {
  const tokens = request.inputs.reduce((sum, input) => sum + countTextTokens(input), 0);
  return {
    data: request.inputs.map((input, index) => {
      const values = embedText(model, input, request.dimensions);
      return { embedding: request.base64 ? float32Base64(values) : values, index, object: "embedding" as const };
    }),
    model: model.id,
    object: "list",
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** A model in OpenAI's list: `created` is not known for Gemini models, so 0. */
export const openaiModel = (model: SimModel): OpenAiModel => ({ id: `models/${model.id}`, object: "model", created: 0, owned_by: "google" });

export function openaiHandlers(state: SimulatorState): Handlers<"openaiChatCompletions" | "openaiEmbeddings" | "openaiListModels" | "openaiGetModel"> {
  return {
    openaiChatCompletions: async (ctx) => {
      const raw = (await ctx.json()) as JsonObject;
      const model = modelOf(ctx);
      const request = parseGenerateContentRequest(chatToGenerateBody(raw), model, ctx.route.version);
      const plan: ReplyPlan = replyTo(state, ctx.key, model, request, planOverrides(ctx.fault), { quota: true });
      const created = Math.floor(ctx.now / 1000);
      if (raw.stream === true) {
        const includeUsage = isObject(raw.stream_options) && raw.stream_options.include_usage === true;
        return openaiStream(chatChunks(streamChunks(plan), model.id, created, includeUsage));
      }
      const response = unaryResponse(plan);
      return jsonAnswer(chatCompletion(response, model.id, created), { delayMs: state.options.ttftMs + trickleMs(state, plan.pieces.length), usage: response.usageMetadata });
    },
    openaiEmbeddings: async (ctx) => {
      const model = modelOf(ctx);
      const response = embeddingsResponse(model, parseEmbeddingsRequest((await ctx.json()) as JsonObject, model));
      return jsonAnswer(response, { usage: { promptTokenCount: response.usage.prompt_tokens, totalTokenCount: response.usage.total_tokens } });
    },
    openaiListModels: async () => jsonAnswer({ object: "list", data: MODELS.map(openaiModel) }),
    openaiGetModel: async (ctx) => {
      const id = (ctx.route.model ?? "").replace(/^models\//, "");
      const model = findModel(id);
      if (!model) throw notFound(`Model is not found: models/${id} for api version ${ctx.route.version}`);
      return jsonAnswer(openaiModel(model));
    },
  };
}
