// The models the simulator serves, with the limits, thinking ranges, cache minimums and methods of the real ones.
import type { GeminiError } from "../gemini/errors.js";
import { notFound } from "../gemini/errors.js";
import type { Model } from "../gemini/types.js";

/** The names Google lists in a model's supportedGenerationMethods. */
export type GenerationMethod = "generateContent" | "countTokens" | "createCachedContent" | "batchGenerateContent" | "embedContent" | "batchEmbedContents";

export interface SimModel {
  id: string;
  displayName: string;
  version: string;
  inputTokenLimit: number;
  outputTokenLimit: number;
  /** Thinking budget range; undefined for models that do not think. */
  thinking?: { min: number; max: number; canDisable: boolean };
  methods: readonly GenerationMethod[];
  /**
   * The fewest tokens a cache of this model may hold (explicit caches, and the prefix an implicit cache hit needs).
   * This table is the one place these figures live: docs/simulator.md quotes it.
   */
  cacheMinTokens?: number;
  /** Gemini 2.5 models cache a repeated prompt prefix on their own. */
  implicitCaching?: boolean;
  /** Embedding models: the size of a vector, by default and at most. */
  embeddingDimensions?: number;
}

const CHAT_METHODS = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"] as const;
const EMBEDDING_METHODS = ["embedContent", "batchEmbedContents", "countTokens"] as const;

export const MODELS: readonly SimModel[] = [
  { id: "gemini-2.5-pro", displayName: "Gemini 2.5 Pro", version: "2.5", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: { min: 128, max: 32768, canDisable: false }, methods: CHAT_METHODS, cacheMinTokens: 4096, implicitCaching: true },
  { id: "gemini-2.5-flash", displayName: "Gemini 2.5 Flash", version: "001", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: { min: 1, max: 24576, canDisable: true }, methods: CHAT_METHODS, cacheMinTokens: 1024, implicitCaching: true },
  { id: "gemini-2.5-flash-lite", displayName: "Gemini 2.5 Flash-Lite", version: "001", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: { min: 512, max: 24576, canDisable: true }, methods: CHAT_METHODS, cacheMinTokens: 1024, implicitCaching: true },
  { id: "gemini-2.0-flash", displayName: "Gemini 2.0 Flash", version: "2.0", inputTokenLimit: 1048576, outputTokenLimit: 8192, methods: CHAT_METHODS, cacheMinTokens: 4096 },
  // No context caching for 2.0 Flash-Lite (it has no cached-input price either).
  { id: "gemini-2.0-flash-lite", displayName: "Gemini 2.0 Flash-Lite", version: "2.0", inputTokenLimit: 1048576, outputTokenLimit: 8192, methods: ["generateContent", "countTokens", "batchGenerateContent"] },
  { id: "gemini-embedding-001", displayName: "Gemini Embedding 001", version: "001", inputTokenLimit: 2048, outputTokenLimit: 1, methods: EMBEDDING_METHODS, embeddingDimensions: 3072 },
  { id: "text-embedding-004", displayName: "Text Embedding 004", version: "004", inputTokenLimit: 2048, outputTokenLimit: 1, methods: EMBEDDING_METHODS, embeddingDimensions: 768 },
];

/** A model by id; `models/` in front is accepted (request bodies name models that way). */
export function findModel(id: string): SimModel | undefined {
  const bare = id.startsWith("models/") ? id.slice("models/".length) : id;
  return MODELS.find((m) => m.id === bare);
}

export function supports(model: SimModel, method: GenerationMethod): boolean {
  return model.methods.includes(method);
}

export function describeModel(model: SimModel): Model {
  const description: Model = {
    name: `models/${model.id}`,
    version: model.version,
    displayName: model.displayName,
    description: `${model.displayName} (simulated)`,
    inputTokenLimit: model.inputTokenLimit,
    outputTokenLimit: model.outputTokenLimit,
    supportedGenerationMethods: [...model.methods],
  };
  if (model.embeddingDimensions === undefined) {
    Object.assign(description, { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2 });
  }
  if (model.thinking) description.thinking = true;
  return description;
}

/** Google's 404 for an unknown model, or one that does not support the method asked of it. */
export function modelNotFound(id: string, version: string, method: string): GeminiError {
  return notFound(
    `models/${id} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
  );
}
