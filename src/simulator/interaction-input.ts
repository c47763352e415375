// Create-interaction requests (`POST /{v}/interactions`) as the simulator reads them: the body checked (Google's 400s
// for what it cannot take), the input in any of its forms (a string, content, a content list, turns, steps) normalized
// to steps, and steps turned into the Gemini contents the generation path takes. Pure.
import { invalidArgument } from "../gemini/errors.js";
import type { Content, Part } from "../gemini/types.js";
import type {
  CodeExecutionCallStep,
  CodeExecutionResultStep,
  FunctionCallStep,
  FunctionResultStep,
  InteractionContent,
  InteractionStep,
  MediaContent,
  TextContent,
  ThoughtStep,
} from "./interaction-types.js";
import type { JsonObject } from "./validate.js";
import { isObject, normalizeKeys } from "./validate.js";

/** The body fields @google/genai 2.x types for CreateModelInteraction and CreateAgentInteraction (camelCase here:
 *  proto JSON takes both spellings, the SDK sends snake_case). */
const CREATE_FIELDS = new Set([
  "agent", "agentConfig", "background", "cachedContent", "continuationToken", "environment", "generationConfig", "input",
  "labels", "model", "previousInteractionId", "responseFormat", "responseMimeType", "responseModalities", "safetySettings",
  "serviceTier", "store", "stream", "systemInstruction", "tools", "webhookConfig",
]);
const GENERATION_CONFIG_FIELDS = new Set([
  "imageConfig", "maxOutputTokens", "seed", "speechConfig", "stopSequences", "temperature", "thinkingLevel",
  "thinkingSummaries", "toolChoice", "topP", "transcriptionConfig", "videoConfig",
]);
const THINKING_LEVELS = new Set(["minimal", "low", "medium", "high"]);
const THINKING_SUMMARIES = new Set(["auto", "none"]);
const TOOL_CHOICE_MODES = new Set(["auto", "any", "none", "validated"]);
const MEDIA_TYPES = new Set(["image", "audio", "document", "video"]);
/** Built-in tools: the Gemini tool each becomes (they only count as prompt; the simulator never runs them). */
const BUILT_IN_TOOLS: Readonly<Record<string, string>> = {
  code_execution: "codeExecution",
  google_search: "googleSearch",
  url_context: "urlContext",
  google_maps: "googleMaps",
  file_search: "fileSearch",
  computer_use: "computerUse",
  mcp_server: "mcpServer",
  retrieval: "retrieval",
};

export interface FunctionDeclaration {
  name: string;
  description?: string;
  parameters?: unknown;
}

/** generation_config.tool_choice: a mode and, with allowed_tools, the functions it may call. */
export interface ToolChoice {
  mode: "auto" | "any" | "none" | "validated";
  allowed?: string[];
}

export interface CreateInteractionRequest {
  /** The model id (without `models/`). */
  model: string;
  /** The input as sent: GET echoes it with `include_input=true`. */
  input?: unknown;
  /** The input as steps: the user_input (and replayed) steps of this turn. */
  inputSteps: InteractionStep[];
  previousInteractionId?: string;
  continuationToken?: string;
  /** Default true: the interaction is kept, readable and usable as a previous_interaction_id. */
  store: boolean;
  stream: boolean;
  background: boolean;
  /** The GenerateContentRequest fields besides contents (camelCase, validated again by the generate path). */
  generate: { systemInstruction?: Content; generationConfig?: JsonObject; tools?: unknown[]; toolConfig?: unknown; cachedContent?: string };
  functions: FunctionDeclaration[];
  toolChoice: ToolChoice;
}

const typeError = (path: string, type: string, value: unknown): never => {
  throw invalidArgument(`Invalid value at '${path}' (${type}), ${JSON.stringify(value)}`);
};

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : typeError(path, "TYPE_STRING", value);
}

function optionalBool(value: unknown, path: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "boolean" ? value : typeError(path, "TYPE_BOOL", value);
}

const NO_AGENTS = "Agent interactions are not simulated: name a model (e.g. \"model\": \"gemini-2.5-flash\") instead of an agent.";

/**
 * The model a create body names (what the shell checks exists and can generate before anything else): `model`, with or
 * without `models/`. An agent, both, or neither answer 400.
 */
export function requestedInteractionModel(raw: unknown): string {
  if (!isObject(raw)) throw invalidArgument("Invalid JSON payload received. Expected an object.");
  const hasAgent = raw.agent !== undefined && raw.agent !== null;
  if (hasAgent && raw.model !== undefined) throw invalidArgument("Exactly one of model or agent must be set.");
  if (hasAgent || raw.agent_config !== undefined || raw.agentConfig !== undefined) throw invalidArgument(NO_AGENTS);
  const model = optionalString(raw.model, "model");
  if (model === undefined || model === "") throw invalidArgument("Exactly one of model or agent must be set.");
  return model.replace(/^models\//, "");
}

function parseContent(raw: unknown, path: string): InteractionContent {
  if (!isObject(raw)) return typeError(path, "Content", raw);
  if (raw.type === "text") {
    if (typeof raw.text !== "string") return typeError(`${path}.text`, "TYPE_STRING", raw.text);
    return { type: "text", text: raw.text };
  }
  if (typeof raw.type === "string" && MEDIA_TYPES.has(raw.type)) {
    const media: MediaContent = { type: raw.type as MediaContent["type"] };
    const data = optionalString(raw.data, `${path}.data`);
    const uri = optionalString(raw.uri, `${path}.uri`);
    const mimeType = optionalString(raw.mime_type ?? raw.mimeType, `${path}.mime_type`);
    if ((data === undefined) === (uri === undefined)) throw invalidArgument(`${path}: exactly one of data and uri must be set.`);
    if (data !== undefined && mimeType === undefined) throw invalidArgument(`${path}.mime_type: mime_type is required with data.`);
    if (data !== undefined) media.data = data;
    if (uri !== undefined) media.uri = uri;
    if (mimeType !== undefined) media.mime_type = mimeType;
    return media;
  }
  return typeError(`${path}.type`, "Content.type", raw.type);
}

const isContent = (raw: unknown): boolean => isObject(raw) && typeof raw.type === "string" && (raw.type === "text" || MEDIA_TYPES.has(raw.type));

/** A step's or turn's content: a list of contents, or a string (a text). */
function parseContentList(raw: unknown, path: string): InteractionContent[] {
  if (typeof raw === "string") return [{ type: "text", text: raw }];
  if (!Array.isArray(raw) || raw.length === 0) throw invalidArgument(`${path}: content must be a non-empty list of contents.`);
  return raw.map((item, i) => parseContent(item, `${path}[${i}]`));
}

function requiredString(raw: JsonObject, field: string, path: string): string {
  const value = optionalString(raw[field], `${path}.${field}`);
  if (value === undefined || value === "") throw invalidArgument(`${path}.${field} is required.`);
  return value;
}

/** One step of a steps input: the kinds a conversation replays (the simulator's own output included). */
function parseStep(raw: JsonObject, path: string): InteractionStep {
  switch (raw.type) {
    case "user_input":
      return { type: "user_input", content: parseContentList(raw.content, `${path}.content`) };
    case "model_output":
      return { type: "model_output", content: parseContentList(raw.content, `${path}.content`) };
    case "thought": {
      const step: ThoughtStep = { type: "thought" };
      const signature = optionalString(raw.signature, `${path}.signature`);
      if (signature !== undefined) step.signature = signature;
      if (Array.isArray(raw.summary)) step.summary = raw.summary.map((s, i) => parseContent(s, `${path}.summary[${i}]`)).filter((c): c is TextContent => c.type === "text");
      return step;
    }
    case "function_call": {
      const args = raw.arguments ?? {};
      if (!isObject(args)) return typeError(`${path}.arguments`, "google.protobuf.Struct", args);
      return { type: "function_call", id: requiredString(raw, "id", path), name: requiredString(raw, "name", path), arguments: args } satisfies FunctionCallStep;
    }
    case "function_result": {
      if (raw.result === undefined || raw.result === null) throw invalidArgument(`${path}.result is required.`);
      const step: FunctionResultStep = { type: "function_result", call_id: requiredString(raw, "call_id", path), result: raw.result };
      const name = optionalString(raw.name, `${path}.name`);
      if (name !== undefined) step.name = name;
      if (optionalBool(raw.is_error, `${path}.is_error`) === true) step.is_error = true;
      return step;
    }
    case "code_execution_call": {
      const args = isObject(raw.arguments) ? raw.arguments : {};
      const code = optionalString(args.code, `${path}.arguments.code`) ?? "";
      const language = optionalString(args.language, `${path}.arguments.language`) ?? "python";
      return { type: "code_execution_call", id: requiredString(raw, "id", path), arguments: { code, language } } satisfies CodeExecutionCallStep;
    }
    case "code_execution_result": {
      const step: CodeExecutionResultStep = { type: "code_execution_result", call_id: requiredString(raw, "call_id", path), result: optionalString(raw.result, `${path}.result`) ?? "" };
      if (optionalBool(raw.is_error, `${path}.is_error`) === true) step.is_error = true;
      return step;
    }
    default:
      throw invalidArgument(`Invalid value at '${path}.type': ${JSON.stringify(raw.type)} steps are not supported (the simulator replays user_input, model_output, thought, function_call, function_result and code execution steps).`);
  }
}

/** A turn of the `[{role, content}]` form: a user_input or model_output step. */
function parseTurn(raw: JsonObject, path: string): InteractionStep {
  const content = parseContentList(raw.content, `${path}.content`);
  if (raw.role === "user") return { type: "user_input", content };
  if (raw.role === "model") return { type: "model_output", content };
  throw invalidArgument(`Invalid value at '${path}.role': ${JSON.stringify(raw.role)}. Use user or model.`);
}

/**
 * The input as steps, whatever its form: a string or content (one user_input), a list of contents (one user_input),
 * turns (`{role, content}`) or steps (the stateless way to send a conversation, replaying earlier output).
 */
export function normalizeInput(raw: unknown): InteractionStep[] {
  if (typeof raw === "string") return [{ type: "user_input", content: [{ type: "text", text: raw }] }];
  if (isContent(raw)) return [{ type: "user_input", content: [parseContent(raw, "input")] }];
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) throw invalidArgument("input must not be empty.");
  if (items.every(isContent)) return [{ type: "user_input", content: items.map((item, i) => parseContent(item, `input[${i}]`)) }];
  return items.map((item, i) => {
    const path = Array.isArray(raw) ? `input[${i}]` : "input";
    if (!isObject(item) || isContent(item)) throw invalidArgument(`Invalid value at '${path}': a list input is all contents, or all steps (or turns).`);
    return typeof item.role === "string" && item.type === undefined ? parseTurn(item, path) : parseStep(item, path);
  });
}

function mediaPart(content: MediaContent): Part {
  if (content.data !== undefined) return { inlineData: { mimeType: content.mime_type ?? "application/octet-stream", data: content.data } };
  return { fileData: { fileUri: content.uri ?? "", ...(content.mime_type === undefined ? {} : { mimeType: content.mime_type }) } };
}

const partOf = (content: InteractionContent): Part => (content.type === "text" ? { text: content.text } : mediaPart(content));

/** A function result as a functionResponse's `response` (a Struct): objects as they are, anything else wrapped. */
const responseObject = (result: unknown): Record<string, unknown> => (isObject(result) ? result : { result });

/**
 * Steps as Gemini contents: user_input and function results are user turns (consecutive results one turn), model
 * output, function calls and code execution one model turn while they follow each other; thoughts are not sent back.
 * `callNames` names the function calls the history made, for results that do not repeat the name.
 */
export function contentsOfSteps(steps: readonly InteractionStep[], callNames: ReadonlyMap<string, string> = new Map()): Content[] {
  const contents: Content[] = [];
  const names = new Map(callNames);
  const append = (role: "user" | "model", part: Part, merge: (last: Content) => boolean): void => {
    const last = contents.at(-1);
    if (last && last.role === role && merge(last)) last.parts.push(part);
    else contents.push({ role, parts: [part] });
  };
  const modelPart = (part: Part): void => append("model", part, () => true);
  for (const step of steps) {
    switch (step.type) {
      case "user_input":
        contents.push({ role: "user", parts: step.content.map(partOf) });
        break;
      case "model_output":
        for (const content of step.content ?? []) modelPart(partOf(content));
        break;
      case "thought":
        break;
      case "function_call":
        names.set(step.id, step.name);
        modelPart({ functionCall: { name: step.name, args: step.arguments, id: step.id } });
        break;
      case "function_result": {
        const name = step.name ?? names.get(step.call_id);
        if (name === undefined) throw invalidArgument(`function_result ${JSON.stringify(step.call_id)} names no function call of this conversation; set its name.`);
        const part: Part = { functionResponse: { name, response: responseObject(step.result), id: step.call_id } };
        append("user", part, (last) => last.parts.every((p) => p.functionResponse !== undefined));
        break;
      }
      case "code_execution_call":
        modelPart({ executableCode: { language: step.arguments.language.toUpperCase(), code: step.arguments.code } });
        break;
      case "code_execution_result":
        modelPart({ codeExecutionResult: { outcome: step.is_error === true ? "OUTCOME_FAILED" : "OUTCOME_OK", output: step.result } });
        break;
    }
  }
  return contents;
}

/** The function calls a history made, by id: results may omit the function's name. */
export function functionCallNames(contents: readonly Content[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const content of contents) for (const part of content.parts) if (part.functionCall?.id !== undefined) names.set(part.functionCall.id, part.functionCall.name);
  return names;
}

/** `tools` as Gemini tools: function declarations grouped first, built-in tools after. */
function parseTools(raw: unknown): { tools?: unknown[]; functions: FunctionDeclaration[] } {
  if (raw === undefined || raw === null) return { functions: [] };
  if (!Array.isArray(raw)) return typeError("tools", "Tool list", raw);
  const functions: FunctionDeclaration[] = [];
  const builtIn: unknown[] = [];
  raw.forEach((tool, i) => {
    const path = `tools[${i}]`;
    if (!isObject(tool)) return typeError(path, "Tool", tool);
    const { type, ...rest } = tool;
    if (type === "function") {
      const declaration: FunctionDeclaration = { name: requiredString(tool, "name", path) };
      const description = optionalString(tool.description, `${path}.description`);
      if (description !== undefined) declaration.description = description;
      if (tool.parameters !== undefined) declaration.parameters = tool.parameters;
      functions.push(declaration);
    } else if (typeof type === "string" && BUILT_IN_TOOLS[type] !== undefined) {
      builtIn.push({ [BUILT_IN_TOOLS[type]]: rest });
    } else {
      typeError(`${path}.type`, "Tool.type", type);
    }
  });
  const tools = [...(functions.length > 0 ? [{ functionDeclarations: functions }] : []), ...builtIn];
  return tools.length > 0 ? { tools, functions } : { functions };
}

function parseToolChoice(raw: unknown): ToolChoice {
  if (raw === undefined || raw === null) return { mode: "auto" };
  if (typeof raw === "string" && TOOL_CHOICE_MODES.has(raw)) return { mode: raw as ToolChoice["mode"] };
  const allowed = isObject(raw) && isObject(raw.allowed_tools) ? raw.allowed_tools : isObject(raw) && isObject(raw.allowedTools) ? raw.allowedTools : undefined;
  if (!allowed) return typeError("generation_config.tool_choice", "ToolChoice", raw);
  const mode = allowed.mode ?? "auto";
  if (typeof mode !== "string" || !TOOL_CHOICE_MODES.has(mode)) return typeError("generation_config.tool_choice.allowed_tools.mode", "ToolChoiceType", mode);
  const tools = Array.isArray(allowed.tools) ? allowed.tools.filter((t): t is string => typeof t === "string") : undefined;
  return { mode: mode as ToolChoice["mode"], ...(tools ? { allowed: tools } : {}) };
}

/** The toolConfig a tool choice amounts to in generateContent terms. */
function toolConfigOf(choice: ToolChoice): unknown {
  if (choice.mode === "auto" && choice.allowed === undefined) return undefined;
  return { functionCallingConfig: { mode: choice.mode.toUpperCase(), ...(choice.allowed ? { allowedFunctionNames: choice.allowed } : {}) } };
}

/** generation_config as a Gemini generationConfig (camelCase): thinking_level and thinking_summaries become thinkingConfig. */
function parseGenerationConfig(raw: unknown): { generationConfig?: JsonObject; toolChoice: ToolChoice } {
  if (raw === undefined || raw === null) return { toolChoice: { mode: "auto" } };
  if (!isObject(raw)) return typeError("generation_config", "GenerationConfig", raw);
  const config = normalizeKeys(raw, GENERATION_CONFIG_FIELDS, "generation_config");
  const out: JsonObject = {};
  for (const field of ["maxOutputTokens", "seed", "temperature", "topP", "stopSequences"] as const) if (config[field] !== undefined && config[field] !== null) out[field] = config[field];
  if (out.maxOutputTokens !== undefined && !(Number.isInteger(out.maxOutputTokens) && (out.maxOutputTokens as number) >= 0)) {
    typeError("generation_config.max_output_tokens", "TYPE_INT32", out.maxOutputTokens);
  }
  const thinking: JsonObject = {};
  if (config.thinkingLevel !== undefined) {
    if (typeof config.thinkingLevel !== "string" || !THINKING_LEVELS.has(config.thinkingLevel)) typeError("generation_config.thinking_level", "ThinkingLevel", config.thinkingLevel);
    thinking.thinkingLevel = config.thinkingLevel;
  }
  if (config.thinkingSummaries !== undefined) {
    if (typeof config.thinkingSummaries !== "string" || !THINKING_SUMMARIES.has(config.thinkingSummaries)) typeError("generation_config.thinking_summaries", "ThinkingSummaries", config.thinkingSummaries);
    if (config.thinkingSummaries === "auto") thinking.includeThoughts = true;
  }
  if (Object.keys(thinking).length > 0) out.thinkingConfig = thinking;
  const toolChoice = parseToolChoice(config.toolChoice);
  return Object.keys(out).length > 0 ? { generationConfig: out, toolChoice } : { toolChoice };
}

/** Validates a create body (already JSON-parsed; the model was checked by requestedInteractionModel). */
export function parseCreateInteraction(raw: unknown): CreateInteractionRequest {
  const model = requestedInteractionModel(raw);
  const body = normalizeKeys(raw as JsonObject, CREATE_FIELDS);
  const previousInteractionId = optionalString(body.previousInteractionId, "previous_interaction_id");
  const continuationToken = optionalString(body.continuationToken, "continuation_token");
  const hasInput = body.input !== undefined && body.input !== null;
  // A continuation hop may leave the input out: the token carries the turn.
  if (!hasInput && continuationToken === undefined) throw invalidArgument("input is required.");
  const { tools, functions } = parseTools(body.tools);
  const { generationConfig, toolChoice } = parseGenerationConfig(body.generationConfig);
  const systemInstruction = optionalString(body.systemInstruction, "system_instruction");
  const cachedContent = optionalString(body.cachedContent, "cached_content");
  const toolConfig = toolConfigOf(toolChoice);
  if (body.responseFormat !== undefined && body.responseFormat !== null && !isObject(body.responseFormat) && !Array.isArray(body.responseFormat)) {
    typeError("response_format", "ResponseFormat", body.responseFormat);
  }
  return {
    model,
    ...(hasInput ? { input: body.input } : {}),
    inputSteps: hasInput ? normalizeInput(body.input) : [],
    ...(previousInteractionId ? { previousInteractionId } : {}),
    ...(continuationToken ? { continuationToken } : {}),
    store: optionalBool(body.store, "store") ?? true,
    stream: optionalBool(body.stream, "stream") ?? false,
    background: optionalBool(body.background, "background") ?? false,
    generate: {
      ...(systemInstruction ? { systemInstruction: { parts: [{ text: systemInstruction }] } } : {}),
      ...(generationConfig ? { generationConfig } : {}),
      ...(tools ? { tools } : {}),
      ...(toolConfig === undefined ? {} : { toolConfig }),
      ...(cachedContent ? { cachedContent } : {}),
    },
    functions,
    toolChoice,
  };
}

/**
 * The function a tool choice forces the model to call: with mode `any`, the first declared function it allows.
 * Otherwise none (the simulated model answers in text whenever it may).
 */
export function forcedFunction(functions: readonly FunctionDeclaration[], choice: ToolChoice): FunctionDeclaration | undefined {
  if (choice.mode !== "any") return undefined;
  return functions.find((f) => choice.allowed === undefined || choice.allowed.includes(f.name));
}

const CONTEXT_WORDS = 8;

/**
 * Deterministic arguments for a forced call, from the function's JSON Schema: every required property gets a value of
 * its type (the first enum value; for a string the first words of the last user message; for a number how many words
 * that message has; true; [] ; a nested object filled the same way).
 */
export function argumentsFor(parameters: unknown, userText: string): Record<string, unknown> {
  if (!isObject(parameters)) return {};
  const properties = isObject(parameters.properties) ? parameters.properties : {};
  const required = Array.isArray(parameters.required) ? parameters.required.filter((r): r is string => typeof r === "string") : [];
  const words = userText.split(/\s+/).filter((w) => w !== "");
  const args: Record<string, unknown> = {};
  for (const name of required) {
    const schema = isObject(properties[name]) ? properties[name] : {};
    const type = typeof schema.type === "string" ? schema.type.toLowerCase() : "string";
    if (Array.isArray(schema.enum) && schema.enum.length > 0) args[name] = schema.enum[0];
    else if (type === "string") args[name] = words.slice(0, CONTEXT_WORDS).join(" ");
    else if (type === "integer" || type === "number") args[name] = words.length;
    else if (type === "boolean") args[name] = true;
    else if (type === "array") args[name] = [];
    else if (type === "object") args[name] = argumentsFor(schema, userText);
    else args[name] = null;
  }
  return args;
}
