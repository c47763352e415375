// The models the simulator serves, with the limits and thinking ranges of the real ones.
import type { Model } from "../gemini/types.js";

export interface SimModel {
  id: string;
  displayName: string;
  version: string;
  inputTokenLimit: number;
  outputTokenLimit: number;
  /** Thinking budget range; undefined for models that do not think. */
  thinking?: { min: number; max: number; canDisable: boolean };
}

export const MODELS: readonly SimModel[] = [
  { id: "gemini-2.5-pro", displayName: "Gemini 2.5 Pro", version: "2.5", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: { min: 128, max: 32768, canDisable: false } },
  { id: "gemini-2.5-flash", displayName: "Gemini 2.5 Flash", version: "001", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: { min: 1, max: 24576, canDisable: true } },
  { id: "gemini-2.5-flash-lite", displayName: "Gemini 2.5 Flash-Lite", version: "001", inputTokenLimit: 1048576, outputTokenLimit: 65536, thinking: { min: 512, max: 24576, canDisable: true } },
  { id: "gemini-2.0-flash", displayName: "Gemini 2.0 Flash", version: "2.0", inputTokenLimit: 1048576, outputTokenLimit: 8192 },
  { id: "gemini-2.0-flash-lite", displayName: "Gemini 2.0 Flash-Lite", version: "2.0", inputTokenLimit: 1048576, outputTokenLimit: 8192 },
];

export function findModel(id: string): SimModel | undefined {
  return MODELS.find((m) => m.id === id);
}

export function describeModel(model: SimModel): Model {
  const description: Model = {
    name: `models/${model.id}`,
    version: model.version,
    displayName: model.displayName,
    description: `${model.displayName} (simulated)`,
    inputTokenLimit: model.inputTokenLimit,
    outputTokenLimit: model.outputTokenLimit,
    supportedGenerationMethods: ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
  };
  if (model.thinking) description.thinking = true;
  return description;
}
