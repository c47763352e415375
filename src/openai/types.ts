// The OpenAI-compatible wire format Gemini serves under `/{version}/openai/` (chat completions, embeddings, models).
// Only the fields the gateway and the simulator read or write are typed; everything else passes through untouched.

export type ChatRole = "system" | "developer" | "user" | "assistant" | "tool";

export interface ChatContentPart {
  type: string;
  text?: string;
  image_url?: { url: string };
}

export interface ChatMessage {
  role: ChatRole;
  content?: string | ChatContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  reasoning_effort?: string;
  tools?: unknown[];
  tool_choice?: unknown;
  response_format?: unknown;
  /** Gemini's own extensions (`extra_body`), e.g. `{google: {cached_content, thinking_config}}`. */
  extra_body?: Record<string, unknown>;
}

/** `stop`, `length` (Gemini's MAX_TOKENS), `content_filter` (safety, blocklists), `tool_calls`. */
export type ChatFinishReason = "stop" | "length" | "content_filter" | "tool_calls" | "function_call";

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number; audio_tokens?: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string | null; tool_calls?: ChatToolCall[] };
    finish_reason: ChatFinishReason | null;
  }>;
  usage?: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: "assistant"; content?: string | null; tool_calls?: unknown[] };
    finish_reason: ChatFinishReason | null;
  }>;
  usage?: CompletionUsage | null;
}

export interface EmbeddingRequest {
  model: string;
  input: string | string[];
  encoding_format?: "float" | "base64";
  dimensions?: number;
}

export interface EmbeddingResponse {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface OpenAiModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** OpenAI's error body, which the `openai` SDK parses (`error.message`, `.type`, `.code`). */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
