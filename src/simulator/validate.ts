// Request validation with the messages and statuses of the real Developer API (docs/simulator.md lists them).
// Pure functions: raw JSON in, a normalized (lowerCamelCase) request out, or a GeminiError thrown.
import type { EnumTable } from "../gemini/enums.js";
import { CODE_LANGUAGE_NUMBERS, CODE_OUTCOME_NUMBERS, HARM_BLOCK_THRESHOLD_NUMBERS, HARM_CATEGORY_NUMBERS, enumName } from "../gemini/enums.js";
import { invalidArgument } from "../gemini/errors.js";
import type { Content, CountTokensRequest, GenerateContentRequest, GenerationConfig } from "../gemini/types.js";
import { GENERATION_CONFIG_FIELDS, PART_DATA_FIELDS, PART_FIELDS, THINKING_CONFIG_FIELDS } from "../gemini/types.js";
import type { SimModel } from "./models.js";

export type ApiVersion = "v1" | "v1beta" | "v1alpha";

const REQUEST_FIELDS = [
  "model",
  "contents",
  "systemInstruction",
  "generationConfig",
  "safetySettings",
  "tools",
  "toolConfig",
  "cachedContent",
] as const;
/** Fields the v1 surface does not know. */
const V1_UNKNOWN_FIELDS = new Set(["systemInstruction", "tools", "toolConfig", "cachedContent"]);

export function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const unknownName = (name: string, at?: string): never => {
  throw invalidArgument(`Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ""}: Cannot find field.`);
};

/**
 * Renames snake_case keys to lowerCamelCase (proto JSON accepts both) and rejects unknown names.
 * `at` is the proto path Google names in the message (snake_case).
 */
export function normalizeKeys(obj: JsonObject, known: ReadonlySet<string>, at?: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(obj)) {
    const camel = snakeToCamel(key);
    if (!known.has(camel)) unknownName(key, at);
    out[camel] = value;
  }
  return out;
}

/** GenerationConfig.Modality, which numbers AUDIO 3: not the Modality of token counts (VIDEO 3, AUDIO 4). */
const RESPONSE_MODALITY_NUMBERS: EnumTable = { MODALITY_UNSPECIFIED: 0, TEXT: 1, IMAGE: 2, AUDIO: 3 };

const PROTO_PACKAGE = "type.googleapis.com/google.ai.generativelanguage.v1beta";

/**
 * An enum value sent as its name or its number (`enum-encoding=int` clients send numbers), as its name; anything else
 * is the proto JSON parser's 400. `path` is the proto path (snake_case), `typeName` the enum's proto name.
 */
export function enumValue(table: EnumTable, typeName: string, value: unknown, path: string): string {
  const name = typeof value === "string" && table[value] !== undefined ? value : typeof value === "number" && Object.values(table).includes(value) ? enumName(table, value) : undefined;
  if (name === undefined) throw invalidArgument(`Invalid value at '${path}' (${PROTO_PACKAGE}.${typeName}), ${JSON.stringify(value)}`);
  return name;
}

/** Nested part objects: their known fields, and which of them are enums. */
const NESTED_PART_OBJECTS: Readonly<Record<string, { fields: ReadonlySet<string>; enums?: Readonly<Record<string, [EnumTable, string]>> }>> = {
  inlineData: { fields: new Set(["mimeType", "data"]) },
  fileData: { fields: new Set(["mimeType", "fileUri"]) },
  executableCode: { fields: new Set(["language", "code", "id"]), enums: { language: [CODE_LANGUAGE_NUMBERS, "ExecutableCode.Language"] } },
  codeExecutionResult: { fields: new Set(["outcome", "output", "id"]), enums: { outcome: [CODE_OUTCOME_NUMBERS, "CodeExecutionResult.Outcome"] } },
};

export function normalizeContent(raw: unknown, path: string): Content {
  if (!isObject(raw)) throw invalidArgument(`Invalid value at '${path}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), ${JSON.stringify(raw)}`);
  const content = normalizeKeys(raw, new Set(["role", "parts"]), path);
  const rawParts = content.parts === undefined ? [] : content.parts;
  if (!Array.isArray(rawParts)) throw invalidArgument(`Invalid value at '${path}.parts': expected a list.`);
  const parts = rawParts.map((rawPart, j) => {
    const partPath = `${path}.parts[${j}]`;
    if (!isObject(rawPart)) throw invalidArgument(`Invalid value at '${partPath}': expected an object.`);
    const part = normalizeKeys(rawPart, PART_FIELDS, partPath);
    for (const [field, { fields, enums = {} }] of Object.entries(NESTED_PART_OBJECTS)) {
      const nested = part[field];
      if (!isObject(nested)) continue;
      const at = `${partPath}.${field}`;
      const normalized = normalizeKeys(nested, fields, at);
      for (const [enumField, [table, typeName]] of Object.entries(enums)) {
        if (normalized[enumField] !== undefined) normalized[enumField] = enumValue(table, typeName, normalized[enumField], `${at}.${enumField}`);
      }
      part[field] = normalized;
    }
    return part;
  });
  const result: Content = { parts };
  if (content.role !== undefined) result.role = String(content.role);
  return result;
}

/** `path` is how Google names the request in messages: GenerateContentRequest or CountTokensRequest.generate_content_request. */
export function checkContents(contents: Content[], path: string): void {
  if (contents.length === 0) throw invalidArgument(`* ${path}.contents: contents is not specified\n`);
  contents.forEach((content, i) => {
    if (content.parts.length === 0) throw invalidArgument(`* ${path}.contents[${i}].parts: contents.parts must not be empty.\n`);
    content.parts.forEach((part, j) => {
      const dataFields = PART_DATA_FIELDS.filter((f) => (part as JsonObject)[f] !== undefined);
      if (dataFields.length === 0) {
        throw invalidArgument(`* ${path}.contents[${i}].parts[${j}].data: required oneof field 'data' must have one initialized field\n`);
      }
      if (dataFields.length > 1) {
        throw invalidArgument(`* ${path}.contents[${i}].parts[${j}].data: oneof field 'data' is already set. Cannot set '${dataFields[1]}'\n`);
      }
    });
    if (content.role !== undefined && content.role !== "" && content.role !== "user" && content.role !== "model") {
      throw invalidArgument("Please use a valid role: user, model.");
    }
  });
  checkFunctionCallOrder(contents);
}

const FUNCTION_CALL_POSITION = "Please ensure that function call turn comes immediately after a user turn or after a function response turn.";
const FUNCTION_RESPONSE_COUNT =
  "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";

/** A function-call turn must follow a user or function-response turn; the next turn answers every call. */
export function checkFunctionCallOrder(contents: readonly Content[]): void {
  contents.forEach((content, i) => {
    const calls = content.parts.filter((p) => p.functionCall).length;
    if (calls === 0) return;
    const previous = contents[i - 1];
    if (!previous || previous.role === "model") throw invalidArgument(FUNCTION_CALL_POSITION);
    const next = contents[i + 1];
    if (next && next.role !== "model") {
      const responses = next.parts.filter((p) => p.functionResponse).length;
      if (responses !== calls) throw invalidArgument(FUNCTION_RESPONSE_COUNT);
    }
  });
}

/** Range rules of thinkingBudget per model (-1 = dynamic, 0 = off where allowed). */
export function checkThinkingBudget(model: SimModel, budget: number | undefined): void {
  if (budget === undefined || budget === -1 || !model.thinking) return;
  if (budget === 0) {
    if (model.thinking.canDisable) return;
    throw invalidArgument("Budget 0 is invalid. This model only works in thinking mode.");
  }
  if (!Number.isInteger(budget) || budget < model.thinking.min || budget > model.thinking.max) {
    throw invalidArgument(`The thinking budget (${budget}) is invalid.`);
  }
}

function normalizeGenerationConfig(raw: unknown): GenerationConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw invalidArgument("Invalid value at 'generation_config': expected an object.");
  // An empty config is no config (@google/genai sends `{}` whenever a call has a config): the same reply either way.
  if (Object.keys(raw).length === 0) return undefined;
  const config = normalizeKeys(raw, GENERATION_CONFIG_FIELDS, "generation_config") as GenerationConfig;
  if (isObject(config.thinkingConfig)) {
    config.thinkingConfig = normalizeKeys(config.thinkingConfig, THINKING_CONFIG_FIELDS, "generation_config.thinking_config");
  }
  if (Array.isArray(config.responseModalities)) {
    config.responseModalities = config.responseModalities.map((m, i) =>
      enumValue(RESPONSE_MODALITY_NUMBERS, "GenerationConfig.Modality", m, `generation_config.response_modalities[${i}]`),
    );
  }
  return config;
}

const SAFETY_SETTING_FIELDS = new Set(["category", "threshold"]);

function normalizeSafetySettings(raw: unknown): GenerateContentRequest["safetySettings"] {
  if (!Array.isArray(raw)) throw invalidArgument("Invalid value at 'safety_settings': expected a list.");
  return raw.map((setting, i) => {
    const at = `safety_settings[${i}]`;
    if (!isObject(setting)) throw invalidArgument(`Invalid value at '${at}': expected an object.`);
    const { category, threshold } = normalizeKeys(setting, SAFETY_SETTING_FIELDS, at);
    return {
      category: enumValue(HARM_CATEGORY_NUMBERS, "HarmCategory", category, `${at}.category`),
      threshold: enumValue(HARM_BLOCK_THRESHOLD_NUMBERS, "SafetySetting.HarmBlockThreshold", threshold, `${at}.threshold`),
    };
  });
}

/** Validates a GenerateContentRequest body (already JSON-parsed). */
export function parseGenerateContentRequest(
  raw: unknown,
  model: SimModel,
  version: ApiVersion,
  path = "GenerateContentRequest",
): GenerateContentRequest {
  if (!isObject(raw)) throw invalidArgument(`Invalid JSON payload received. Expected an object.`);
  const knownFields = new Set<string>(REQUEST_FIELDS.filter((f) => version !== "v1" || !V1_UNKNOWN_FIELDS.has(f)));
  const body = normalizeKeys(raw, knownFields);
  const rawContents = body.contents ?? [];
  if (!Array.isArray(rawContents)) throw invalidArgument(`Invalid value at 'contents': expected a list.`);
  const contents = rawContents.map((c, i) => normalizeContent(c, `contents[${i}]`));
  checkContents(contents, path);
  const request: GenerateContentRequest = { contents };
  if (body.systemInstruction !== undefined && body.systemInstruction !== null) {
    request.systemInstruction = normalizeContent(body.systemInstruction, "system_instruction");
  }
  const generationConfig = normalizeGenerationConfig(body.generationConfig);
  if (generationConfig) {
    request.generationConfig = generationConfig;
    checkThinkingBudget(model, generationConfig.thinkingConfig?.thinkingBudget);
  }
  if (body.safetySettings !== undefined && body.safetySettings !== null) request.safetySettings = normalizeSafetySettings(body.safetySettings);
  if (Array.isArray(body.tools)) request.tools = body.tools;
  if (body.toolConfig !== undefined) request.toolConfig = body.toolConfig;
  if (body.cachedContent !== undefined && body.cachedContent !== null && body.cachedContent !== "") {
    if (typeof body.cachedContent !== "string") throw invalidArgument(`Invalid value at 'cached_content' (TYPE_STRING), ${JSON.stringify(body.cachedContent)}`);
    request.cachedContent = body.cachedContent;
  }
  return request;
}

/** A countTokens body: `{contents}` or `{generateContentRequest}`, not both. Returns what to count. */
export function parseCountTokensRequest(raw: unknown, model: SimModel, version: ApiVersion): GenerateContentRequest {
  if (!isObject(raw)) throw invalidArgument(`Invalid JSON payload received. Expected an object.`);
  const body = normalizeKeys(raw, new Set(["contents", "generateContentRequest"])) as CountTokensRequest;
  if (body.contents !== undefined && body.generateContentRequest !== undefined) {
    throw invalidArgument("CountTokensRequest must have one of contents or generateContentRequest, not both.");
  }
  if (body.generateContentRequest !== undefined) {
    return parseGenerateContentRequest(body.generateContentRequest, model, version, "CountTokensRequest.generate_content_request");
  }
  const contents = (Array.isArray(body.contents) ? body.contents : []).map((c, i) => normalizeContent(c, `contents[${i}]`));
  // countTokens of an empty list is legal and counts 0.
  if (contents.length > 0) checkContents(contents, "CountTokensRequest");
  return { contents };
}

/** Parses a request body as JSON, with Google's message for malformed payloads. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Google quotes the start of the payload under a caret; the parser's own wording varies across Node versions.
    throw invalidArgument(`Invalid JSON payload received. Unexpected token.\n${text.slice(0, 40).split("\n")[0]}\n^`);
  }
}
