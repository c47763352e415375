// Validation of session bodies and histories (pure). Errors name the index and the problem, e.g.
//   history[3]: role "assistant" is not one of user, model
// Function-call ordering is checked as Gemini enforces it (a function-call turn follows a user turn; the next turn answers
// every call with one functionResponse part); strict alternation is only a warning unless asked for.

import { z } from "zod";
import { invalidArgument } from "../gemini/errors.js";
import { tooDeepAt, tooDeepMessage } from "../gemini/json-limits.js";
import { enumNumber, HARM_BLOCK_THRESHOLD_NUMBERS, HARM_CATEGORY_NUMBERS } from "../gemini/enums.js";
import { GENERATION_CONFIG_FIELDS, MODEL_ID, modelIdProblem, PART_DATA_FIELDS, PART_FIELDS, THINKING_CONFIG_FIELDS } from "../gemini/types.js";
import type { Content, GenerationConfig, Part } from "../gemini/types.js";
import { historySteps } from "./interactions.js";
import type { SessionBackend, SessionSettings } from "./store.js";

const ROLES = ["user", "model"] as const;

export interface ContentsCheck {
  /** Problems that make the contents unusable: the first one becomes the 400. */
  errors: string[];
  /** Problems Gemini tolerates (consecutive turns of one role); errors under strict alternation. */
  warnings: string[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isString = (value: unknown): boolean => typeof value === "string";

/** The shape each data field of a part must have (what the gateway and Gemini read of it): the problem, or undefined. */
const PART_FIELD_SHAPES: Record<(typeof PART_DATA_FIELDS)[number], (value: unknown) => string | undefined> = {
  text: (v) => (isString(v) ? undefined : "text must be a string"),
  inlineData: (v) => (isObject(v) && isString(v.mimeType) && isString(v.data) ? undefined : "inlineData must be {mimeType, data} strings"),
  fileData: (v) =>
    isObject(v) && isString(v.fileUri) && (v.mimeType === undefined || isString(v.mimeType)) ? undefined : "fileData must be {fileUri, mimeType?} strings",
  functionCall: (v) =>
    isObject(v) && isString(v.name) && (v.args === undefined || isObject(v.args)) ? undefined : "functionCall must be {name: string, args?: object}",
  functionResponse: (v) => (isObject(v) && isString(v.name) && isObject(v.response) ? undefined : "functionResponse must be {name: string, response: object}"),
  executableCode: (v) => (isObject(v) && isString(v.code) ? undefined : "executableCode must be {code: string, language?}"),
  codeExecutionResult: (v) => (isObject(v) && (v.output === undefined || isString(v.output)) ? undefined : "codeExecutionResult must be {outcome?, output?: string}"),
};

/** Checks one part; returns the problem or undefined. A field set to null is a field sent with the wrong type; a
 *  name Gemini does not know would make every later send of the history fail. */
function partProblem(part: unknown): string | undefined {
  if (!isObject(part)) return "a part must be an object";
  const unknown = Object.keys(part).find((key) => !PART_FIELDS.has(key));
  if (unknown !== undefined) return `unknown field "${unknown}" (a part has ${[...PART_FIELDS].join(", ")})`;
  const present = PART_DATA_FIELDS.filter((field) => part[field] !== undefined);
  if (present.length !== 1) {
    const found = present.length === 0 ? "none" : present.join(", ");
    return `a part must have exactly one data field (${PART_DATA_FIELDS.join(", ")}); found ${found}`;
  }
  const field = present[0]!;
  if (part.thought !== undefined && typeof part.thought !== "boolean") return "thought must be a boolean";
  if (part.thoughtSignature !== undefined && !isString(part.thoughtSignature)) return "thoughtSignature must be a string";
  return PART_FIELD_SHAPES[field](part[field]);
}

const countParts = (content: Content, field: "functionCall" | "functionResponse"): number =>
  content.parts.filter((p) => p[field] !== undefined).length;

/** Checks a list of turns; `label` names the list in messages. */
export function checkContents(contents: readonly unknown[], label = "history"): ContentsCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  let previous: Content | undefined;
  contents.forEach((raw, i) => {
    const at = `${label}[${i}]`;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      errors.push(`${at}: a turn must be an object {role, parts}`);
      previous = undefined;
      return;
    }
    const { role, parts } = raw as { role?: unknown; parts?: unknown };
    const unknown = Object.keys(raw).find((key) => key !== "role" && key !== "parts");
    if (unknown !== undefined) errors.push(`${at}: unknown field "${unknown}" (a turn has role and parts)`);
    if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
      errors.push(`${at}: role ${JSON.stringify(role ?? null)} is not one of ${ROLES.join(", ")}`);
    }
    if (!Array.isArray(parts) || parts.length === 0) {
      errors.push(`${at}: parts must be a non-empty array`);
      previous = undefined;
      return;
    }
    parts.forEach((part: unknown, j) => {
      const problem = partProblem(part);
      if (problem) errors.push(`${at}.parts[${j}]: ${problem}`);
    });
    const turn = raw as Content;
    if (i === 0 && role !== "user") errors.push(`${at}: the first turn must be from user, not ${JSON.stringify(role)}`);
    if (previous && previous.role === role) warnings.push(`${at}: two ${String(role)} turns in a row`);
    errors.push(...functionOrderProblems(previous, turn, at, `${label}[${i - 1}]`));
    previous = turn;
  });
  return { errors, warnings };
}

function functionOrderProblems(previous: Content | undefined, turn: Content, at: string, previousAt: string): string[] {
  const problems: string[] = [];
  const calls = countParts(turn, "functionCall");
  const responses = countParts(turn, "functionResponse");
  const previousCalls = previous ? countParts(previous, "functionCall") : 0;
  if (calls > 0 && (turn.role !== "model" || previous?.role !== "user")) {
    problems.push(`${at}: a function call turn must be a model turn that comes right after a user turn or a function response turn`);
  }
  if (previousCalls > 0 && responses !== previousCalls) {
    problems.push(`${at}: expected ${previousCalls} functionResponse part(s) answering the function calls of ${previousAt}, found ${responses}`);
  } else if (responses > 0 && previousCalls === 0) {
    problems.push(`${at}: a function response must come right after the model turn with the function calls it answers`);
  } else if (responses > 0 && turn.role !== "user") {
    problems.push(`${at}: function responses must be sent in a user turn`);
  }
  return problems;
}

/** Throws the 400 for a history (create/import); returns the warnings to log or report. */
export function validateHistory(history: readonly unknown[], strictAlternation: boolean): string[] {
  const { errors, warnings } = checkContents(history, "history");
  const fatal = strictAlternation ? [...errors, ...warnings.map((w) => `${w} (SESSION_STRICT_ALTERNATION=true)`)] : errors;
  if (fatal.length > 0) throw invalidArgument(fatal[0]!);
  return warnings;
}

/** Throws the 400 when the new user turn cannot follow the history (function-call ordering, parts). */
export function validateNewTurn(history: readonly Content[], turn: Content, strictAlternation: boolean): string[] {
  const at = "message";
  const errors = turn.parts.flatMap((part, j) => {
    const problem = partProblem(part);
    return problem ? [`${at}.parts[${j}]: ${problem}`] : [];
  });
  const previous = history[history.length - 1];
  errors.push(...functionOrderProblems(previous, turn, at, `history[${history.length - 1}]`));
  const warnings = previous?.role === "user" ? [`${at}: two user turns in a row (the history ends with a user turn)`] : [];
  const fatal = strictAlternation ? [...errors, ...warnings.map((w) => `${w} (SESSION_STRICT_ALTERNATION=true)`)] : errors;
  if (fatal.length > 0) throw invalidArgument(fatal[0]!);
  return warnings;
}

// ---- request bodies -------------------------------------------------------------------------------------------------

const contentShape = z.object({ role: z.string().optional(), parts: z.array(z.record(z.string(), z.unknown())) }).loose();

export const createSessionBody = z.strictObject({
  model: z
    .string()
    .min(1, "model must be a non-empty string")
    .transform((m) => m.replace(/^models\//, ""))
    .refine((m) => MODEL_ID.test(m), { error: (issue) => modelIdProblem(String(issue.input)) }),
  backend: z.enum(["generateContent", "interactions"], { error: 'backend must be "generateContent" or "interactions"' }).optional(),
  history: z.array(z.unknown()).optional(),
  systemInstruction: z.union([z.string(), contentShape]).optional(),
  generationConfig: z.record(z.string(), z.unknown()).optional(),
  safetySettings: z.array(z.object({ category: z.string(), threshold: z.string() }).loose()).optional(),
  tools: z.array(z.unknown()).optional(),
  toolConfig: z.record(z.string(), z.unknown()).optional(),
});

export const sendMessageBody = z.strictObject({
  message: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))], {
    error: "message must be a string or a list of parts",
  }),
  generationConfig: z.record(z.string(), z.unknown()).optional(),
});

export interface CreateSessionInput extends SessionSettings {
  model: string;
  backend: SessionBackend;
  history: Content[];
  /** Tolerated problems (consecutive turns of one role). */
  warnings: string[];
}

export interface SendMessageInput {
  turn: Content;
  generationConfig?: GenerationConfig;
}

/** The 400 for a zod failure, phrased like Gemini's own messages. */
function bodyError(error: z.ZodError): Error {
  const issue = error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    return invalidArgument(`Invalid JSON payload received. Unknown name "${issue.keys[0]}": Cannot find field.`);
  }
  const path = issue.path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
  return invalidArgument(path ? `${path}: ${issue.message}` : issue.message);
}

/** The body as an object; one nested past Gemini's limit is refused here, before anything stores or serializes it. */
function parseObject(body: unknown): unknown {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw invalidArgument("The request body must be a JSON object.");
  const deep = tooDeepAt(body);
  if (deep !== undefined) throw invalidArgument(tooDeepMessage(deep));
  return body;
}

/** What a session stores and sends with every message must be what Gemini accepts, or every send would fail. */
function settingsProblem(settings: { generationConfig?: unknown; safetySettings?: unknown }, at = ""): string | undefined {
  const config = settings.generationConfig;
  if (isObject(config)) {
    const unknown = Object.keys(config).find((key) => !GENERATION_CONFIG_FIELDS.has(key));
    if (unknown !== undefined) return `${at}generationConfig: unknown field "${unknown}"`;
    const thinking = config.thinkingConfig;
    if (thinking !== undefined && !isObject(thinking)) return `${at}generationConfig.thinkingConfig must be an object`;
    const unknownThinking = isObject(thinking) ? Object.keys(thinking).find((key) => !THINKING_CONFIG_FIELDS.has(key)) : undefined;
    if (unknownThinking !== undefined) return `${at}generationConfig.thinkingConfig: unknown field "${unknownThinking}"`;
  }
  const safety = settings.safetySettings;
  if (Array.isArray(safety)) {
    for (const [i, setting] of safety.entries()) {
      if (!isObject(setting)) return `safetySettings[${i}] must be an object`;
      if (enumNumber(HARM_CATEGORY_NUMBERS, setting.category) === undefined) return `safetySettings[${i}].category: ${JSON.stringify(setting.category)} is not a HarmCategory`;
      if (enumNumber(HARM_BLOCK_THRESHOLD_NUMBERS, setting.threshold) === undefined) return `safetySettings[${i}].threshold: ${JSON.stringify(setting.threshold)} is not a HarmBlockThreshold`;
    }
  }
  return undefined;
}

export function parseCreateSession(body: unknown, strictAlternation: boolean): CreateSessionInput {
  const parsed = createSessionBody.safeParse(parseObject(body));
  if (!parsed.success) throw bodyError(parsed.error);
  const { model, backend = "generateContent", history = [], systemInstruction, ...rest } = parsed.data;
  const warnings = validateHistory(history, strictAlternation);
  const settings = settingsProblem(rest);
  if (settings) throw invalidArgument(settings);
  if (isObject(systemInstruction)) {
    const problem = checkContents([{ role: "user", parts: systemInstruction.parts }], "systemInstruction").errors[0];
    if (problem) throw invalidArgument(problem.replace("systemInstruction[0]", "systemInstruction"));
  }
  if (backend === "interactions") {
    const unsupported = (["safetySettings", "tools", "toolConfig"] as const).find((field) => rest[field] !== undefined);
    if (unsupported) throw invalidArgument(`${unsupported}: a session with backend "interactions" takes model, history, systemInstruction and generationConfig only.`);
    historySteps(history as Content[]); // refuses parts the Interactions API input cannot carry
  }
  const input: CreateSessionInput = { model, backend, history: history as Content[], warnings };
  if (systemInstruction !== undefined) {
    input.systemInstruction =
      typeof systemInstruction === "string" ? { parts: [{ text: systemInstruction }] } : (systemInstruction as Content);
  }
  if (rest.generationConfig) input.generationConfig = rest.generationConfig as GenerationConfig;
  if (rest.safetySettings) input.safetySettings = rest.safetySettings;
  if (rest.tools) input.tools = rest.tools;
  if (rest.toolConfig) input.toolConfig = rest.toolConfig;
  return input;
}

export function parseSendMessage(body: unknown): SendMessageInput {
  const parsed = sendMessageBody.safeParse(parseObject(body));
  if (!parsed.success) throw bodyError(parsed.error);
  const { message, generationConfig } = parsed.data;
  if (message.length === 0) throw invalidArgument("message: message must not be empty");
  const settings = settingsProblem({ generationConfig });
  if (settings) throw invalidArgument(settings);
  const parts: Part[] = typeof message === "string" ? [{ text: message }] : (message as Part[]);
  const input: SendMessageInput = { turn: { role: "user", parts } };
  if (generationConfig) input.generationConfig = generationConfig as GenerationConfig;
  return input;
}
