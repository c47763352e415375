// Gemini's enums by number, for `$alt=json;enum-encoding=int`: Google's generated REST clients (the legacy Python
// SDK with transport="rest", other gapic clients) ask for it, and Google then writes every enum of the answer as its
// proto number (and accepts numbers in the request). Readers of an answer map numbers back to names here, once;
// the simulator uses the same tables to answer in numbers. Numbers are those of the v1beta protos.

/** name -> number of one enum. */
export type EnumTable = Readonly<Record<string, number>>;

export const FINISH_REASON_NUMBERS: EnumTable = {
  FINISH_REASON_UNSPECIFIED: 0,
  STOP: 1,
  MAX_TOKENS: 2,
  SAFETY: 3,
  RECITATION: 4,
  OTHER: 5,
  LANGUAGE: 6,
  BLOCKLIST: 7,
  PROHIBITED_CONTENT: 8,
  SPII: 9,
  MALFORMED_FUNCTION_CALL: 10,
  IMAGE_SAFETY: 11,
  UNEXPECTED_TOOL_CALL: 12,
  TOO_MANY_TOOL_CALLS: 13,
  IMAGE_PROHIBITED_CONTENT: 14,
  IMAGE_OTHER: 15,
  NO_IMAGE: 16,
  IMAGE_RECITATION: 17,
};

export const BLOCK_REASON_NUMBERS: EnumTable = {
  BLOCK_REASON_UNSPECIFIED: 0,
  SAFETY: 1,
  OTHER: 2,
  BLOCKLIST: 3,
  PROHIBITED_CONTENT: 4,
  IMAGE_SAFETY: 5,
};

export const HARM_CATEGORY_NUMBERS: EnumTable = {
  HARM_CATEGORY_UNSPECIFIED: 0,
  HARM_CATEGORY_DEROGATORY: 1,
  HARM_CATEGORY_TOXICITY: 2,
  HARM_CATEGORY_VIOLENCE: 3,
  HARM_CATEGORY_SEXUAL: 4,
  HARM_CATEGORY_MEDICAL: 5,
  HARM_CATEGORY_DANGEROUS: 6,
  HARM_CATEGORY_HARASSMENT: 7,
  HARM_CATEGORY_HATE_SPEECH: 8,
  HARM_CATEGORY_SEXUALLY_EXPLICIT: 9,
  HARM_CATEGORY_DANGEROUS_CONTENT: 10,
  HARM_CATEGORY_CIVIC_INTEGRITY: 11,
};

export const HARM_PROBABILITY_NUMBERS: EnumTable = {
  HARM_PROBABILITY_UNSPECIFIED: 0,
  NEGLIGIBLE: 1,
  LOW: 2,
  MEDIUM: 3,
  HIGH: 4,
};

export const HARM_BLOCK_THRESHOLD_NUMBERS: EnumTable = {
  HARM_BLOCK_THRESHOLD_UNSPECIFIED: 0,
  BLOCK_LOW_AND_ABOVE: 1,
  BLOCK_MEDIUM_AND_ABOVE: 2,
  BLOCK_ONLY_HIGH: 3,
  BLOCK_NONE: 4,
  OFF: 5,
};

export const MODALITY_NUMBERS: EnumTable = {
  MODALITY_UNSPECIFIED: 0,
  TEXT: 1,
  IMAGE: 2,
  VIDEO: 3,
  AUDIO: 4,
  DOCUMENT: 5,
};

export const CODE_LANGUAGE_NUMBERS: EnumTable = { LANGUAGE_UNSPECIFIED: 0, PYTHON: 1 };

export const CODE_OUTCOME_NUMBERS: EnumTable = {
  OUTCOME_UNSPECIFIED: 0,
  OUTCOME_OK: 1,
  OUTCOME_FAILED: 2,
  OUTCOME_DEADLINE_EXCEEDED: 3,
};

/** File.State and the batch state share the field name `state`; their names do not collide. */
export const STATE_NUMBERS: EnumTable = {
  STATE_UNSPECIFIED: 0,
  PROCESSING: 1,
  ACTIVE: 2,
  FAILED: 10,
  BATCH_STATE_UNSPECIFIED: 0,
  BATCH_STATE_PENDING: 1,
  BATCH_STATE_RUNNING: 2,
  BATCH_STATE_SUCCEEDED: 3,
  BATCH_STATE_FAILED: 4,
  BATCH_STATE_CANCELLED: 5,
  BATCH_STATE_EXPIRED: 6,
};

export const FILE_SOURCE_NUMBERS: EnumTable = { SOURCE_UNSPECIFIED: 0, UPLOADED: 1, GENERATED: 2 };

export const TASK_TYPE_NUMBERS: EnumTable = {
  TASK_TYPE_UNSPECIFIED: 0,
  RETRIEVAL_QUERY: 1,
  RETRIEVAL_DOCUMENT: 2,
  SEMANTIC_SIMILARITY: 3,
  CLASSIFICATION: 4,
  CLUSTERING: 5,
  QUESTION_ANSWERING: 6,
  FACT_VERIFICATION: 7,
  CODE_RETRIEVAL_QUERY: 8,
};

/** Which enum a JSON field holds, by its (lowerCamelCase) name, wherever it appears in a request or an answer.
 *  (generationConfig.responseModalities is not here: its Modality numbers AUDIO 3, unlike the token counts'.) */
export const ENUM_FIELDS: Readonly<Record<string, EnumTable>> = {
  finishReason: FINISH_REASON_NUMBERS,
  blockReason: BLOCK_REASON_NUMBERS,
  category: HARM_CATEGORY_NUMBERS,
  probability: HARM_PROBABILITY_NUMBERS,
  threshold: HARM_BLOCK_THRESHOLD_NUMBERS,
  modality: MODALITY_NUMBERS,
  language: CODE_LANGUAGE_NUMBERS,
  outcome: CODE_OUTCOME_NUMBERS,
  state: STATE_NUMBERS,
  source: FILE_SOURCE_NUMBERS,
  taskType: TASK_TYPE_NUMBERS,
};

const namesByNumber = new Map<EnumTable, ReadonlyMap<number, string>>();

/**
 * The name of an enum value sent either way: a name is returned as is, a number is looked up (an unknown number
 * becomes `UNKNOWN_<n>`, so a label built from it stays bounded by the caller's own folding). Undefined when the
 * value is neither.
 */
export function enumName(table: EnumTable, value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value !== "number" || !Number.isInteger(value)) return undefined;
  let names = namesByNumber.get(table);
  if (!names) {
    const byNumber = new Map<number, string>();
    // The first name of a number wins (STATE_UNSPECIFIED, not BATCH_STATE_UNSPECIFIED).
    for (const [name, number] of Object.entries(table)) if (!byNumber.has(number)) byNumber.set(number, name);
    namesByNumber.set(table, byNumber);
    names = byNumber;
  }
  return names.get(value) ?? `UNKNOWN_${value}`;
}

/** The number of an enum name; numbers pass through; undefined for a name the table does not know. */
export function enumNumber(table: EnumTable, value: unknown): number | undefined {
  if (typeof value === "number") return value;
  return typeof value === "string" ? table[value] : undefined;
}
