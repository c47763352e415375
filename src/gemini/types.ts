// Gemini REST wire types (v1beta), as sent and received by generativelanguage.googleapis.com.
// Only the fields the gateway reads are typed precisely; everything else passes through untouched.

export type Role = "user" | "model";

/** Gemini's model ids (gemini-2.5-flash, gemini-2.0-flash-001...). The gateway puts a model id into the upstream
 *  path, so anything else (`..`, an encoded `/`) is refused: it could steer the path out of /models with the
 *  gateway's own key. */
export const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const modelIdProblem = (model: string): string =>
  `"${model}" is not a model name: use letters, digits, ".", "-" and "_" (e.g. gemini-2.5-flash).`;

export interface Part {
  text?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType?: string };
  functionCall?: { name: string; args?: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
  executableCode?: { language?: string; code: string };
  codeExecutionResult?: { outcome?: string; output?: string };
  thought?: boolean;
  thoughtSignature?: string;
}

/** The data fields of a Part: exactly one must be set. */
export const PART_DATA_FIELDS = [
  "text",
  "inlineData",
  "fileData",
  "functionCall",
  "functionResponse",
  "executableCode",
  "codeExecutionResult",
] as const;
export type PartDataField = (typeof PART_DATA_FIELDS)[number];

/** Every field a Part may have (lowerCamelCase); Gemini refuses any other name. */
export const PART_FIELDS: ReadonlySet<string> = new Set<string>([...PART_DATA_FIELDS, "thought", "thoughtSignature", "videoMetadata", "partMetadata"]);

/** The fields of a GenerationConfig (lowerCamelCase) and of its thinkingConfig; Gemini refuses any other name. */
export const GENERATION_CONFIG_FIELDS: ReadonlySet<string> = new Set([
  "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities", "candidateCount",
  "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs",
  "logprobs", "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig", "mediaResolution",
  "_responseJsonSchema",
]);
export const THINKING_CONFIG_FIELDS: ReadonlySet<string> = new Set(["thinkingBudget", "includeThoughts", "thinkingLevel"]);

export interface Content {
  role?: string;
  parts: Part[];
}

export interface ThinkingConfig {
  thinkingBudget?: number;
  includeThoughts?: boolean;
  thinkingLevel?: string;
}

export interface GenerationConfig {
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  candidateCount?: number;
  stopSequences?: string[];
  seed?: number;
  responseMimeType?: string;
  thinkingConfig?: ThinkingConfig;
  [field: string]: unknown;
}

export interface GenerateContentRequest {
  contents: Content[];
  systemInstruction?: Content;
  generationConfig?: GenerationConfig;
  safetySettings?: Array<{ category: string; threshold: string }>;
  tools?: unknown[];
  toolConfig?: unknown;
  cachedContent?: string;
}

export type Modality = "TEXT" | "IMAGE" | "VIDEO" | "AUDIO" | "DOCUMENT";

export interface ModalityTokenCount {
  modality: Modality;
  tokenCount: number;
}

export interface UsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
  promptTokensDetails?: ModalityTokenCount[];
  candidatesTokensDetails?: ModalityTokenCount[];
  cacheTokensDetails?: ModalityTokenCount[];
  toolUsePromptTokensDetails?: ModalityTokenCount[];
}

export const FINISH_REASONS = [
  "FINISH_REASON_UNSPECIFIED",
  "STOP",
  "MAX_TOKENS",
  "SAFETY",
  "RECITATION",
  "OTHER",
  "LANGUAGE",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "MALFORMED_FUNCTION_CALL",
  "IMAGE_SAFETY",
  "UNEXPECTED_TOOL_CALL",
  "TOO_MANY_TOOL_CALLS",
  "IMAGE_PROHIBITED_CONTENT",
  "IMAGE_OTHER",
  "NO_IMAGE",
  "IMAGE_RECITATION",
] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export const BLOCK_REASONS = ["SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY"] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

export interface SafetyRating {
  category: string;
  probability: string;
}

export interface Candidate {
  content?: { role?: string; parts?: Part[] };
  finishReason?: FinishReason;
  index?: number;
  safetyRatings?: SafetyRating[];
}

export interface PromptFeedback {
  blockReason?: BlockReason;
  safetyRatings?: SafetyRating[];
}

export interface GenerateContentResponse {
  candidates?: Candidate[];
  promptFeedback?: PromptFeedback;
  usageMetadata?: UsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

export interface CountTokensRequest {
  contents?: Content[];
  generateContentRequest?: GenerateContentRequest & { model?: string };
}

export interface CountTokensResponse {
  totalTokens: number;
  promptTokensDetails?: ModalityTokenCount[];
}

export interface Model {
  name: string;
  version: string;
  displayName: string;
  description: string;
  inputTokenLimit: number;
  outputTokenLimit: number;
  supportedGenerationMethods: string[];
  temperature?: number;
  topP?: number;
  topK?: number;
  maxTemperature?: number;
  thinking?: boolean;
}

/** The methods of `models/{model}:{method}`. */
export type ModelMethod = "generateContent" | "streamGenerateContent" | "countTokens";
