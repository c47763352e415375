// The Interactions API's wire shapes (`/{v}/interactions`), snake_case as Google sends them and as @google/genai 2.x
// types them (Interaction, Step, Usage, the SSE events). Only what the simulator reads or writes is typed.

/** Every status the SDK types (InteractionStatus). */
export const INTERACTION_STATUSES = [
  "in_progress",
  "requires_action",
  "completed",
  "failed",
  "cancelled",
  "incomplete",
  "budget_exceeded",
  "queued",
  "requires_continuation",
] as const;
export type InteractionStatus = (typeof INTERACTION_STATUSES)[number];

/** The statuses an interaction can end a model turn with (everything but in_progress, queued and cancelled). */
export type TurnStatus = "completed" | "incomplete" | "requires_action" | "failed" | "budget_exceeded" | "requires_continuation";

/** Statuses only a fault rule produces (`{"kind": "interaction_status", "status": ...}`). */
export const FORCED_INTERACTION_STATUSES = ["failed", "incomplete", "budget_exceeded", "requires_continuation"] as const;
export type ForcedInteractionStatus = (typeof FORCED_INTERACTION_STATUSES)[number];

export interface TextContent {
  type: "text";
  text: string;
}

/** Media content: inline `data` (base64) with its `mime_type`, or a `uri`. */
export interface MediaContent {
  type: "image" | "audio" | "document" | "video";
  data?: string;
  uri?: string;
  mime_type?: string;
}

export type InteractionContent = TextContent | MediaContent;

export interface UserInputStep {
  type: "user_input";
  content: InteractionContent[];
}

export interface ModelOutputStep {
  type: "model_output";
  content?: InteractionContent[];
}

export interface ThoughtStep {
  type: "thought";
  signature?: string;
  summary?: TextContent[];
}

export interface FunctionCallStep {
  type: "function_call";
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface FunctionResultStep {
  type: "function_result";
  call_id: string;
  name?: string;
  result: unknown;
  is_error?: boolean;
}

export interface CodeExecutionCallStep {
  type: "code_execution_call";
  id: string;
  arguments: { code: string; language: string };
}

export interface CodeExecutionResultStep {
  type: "code_execution_result";
  call_id: string;
  result: string;
  is_error?: boolean;
}

export type InteractionStep =
  | UserInputStep
  | ModelOutputStep
  | ThoughtStep
  | FunctionCallStep
  | FunctionResultStep
  | CodeExecutionCallStep
  | CodeExecutionResultStep;

/** One modality's share of a usage figure: `{"modality": "text", "tokens": 12}`. */
export interface ModalityTokens {
  modality: string;
  tokens: number;
}

/** Usage as the Interactions API reports it (zero figures and empty lists omitted). */
export interface InteractionUsage {
  total_input_tokens?: number;
  input_tokens_by_modality?: ModalityTokens[];
  total_cached_tokens?: number;
  cached_tokens_by_modality?: ModalityTokens[];
  total_output_tokens?: number;
  output_tokens_by_modality?: ModalityTokens[];
  total_thought_tokens?: number;
  total_tool_use_tokens?: number;
  tool_use_tokens_by_modality?: ModalityTokens[];
  total_tokens?: number;
}

/** What a step.start announces: the step's type and ids; its content follows in step.delta events. */
export type StepHeader =
  | { type: "thought" }
  | { type: "model_output" }
  | { type: "function_call"; id: string; name: string }
  | { type: "code_execution_call"; id: string }
  | { type: "code_execution_result"; call_id: string };

/** A step.delta's payload. */
export type StepDeltaData =
  | { type: "text"; text: string }
  | { type: "thought_summary"; content: TextContent }
  | { type: "thought_signature"; signature: string }
  | { type: "arguments_delta"; arguments: string }
  | { type: "code_execution_call"; arguments: { code: string; language: string } }
  | { type: "code_execution_result"; result: string; is_error?: boolean };

/** The interaction as lifecycle events carry it (InteractionSseEventInteraction): no steps, usage at the end. */
export interface EventInteraction {
  id: string;
  status: InteractionStatus;
  object: "interaction";
  model: string;
  created?: string;
  updated?: string;
  usage?: InteractionUsage;
  continuation_token?: string;
}

/** An SSE event's payload before its event_id is assigned. */
export type InteractionEventBody =
  | { event_type: "interaction.created"; interaction: EventInteraction }
  | { event_type: "interaction.status_update"; interaction_id: string; status: InteractionStatus }
  | { event_type: "step.start"; index: number; step: StepHeader }
  | { event_type: "step.delta"; index: number; delta: StepDeltaData }
  | { event_type: "step.stop"; index: number }
  | { event_type: "interaction.completed"; interaction: EventInteraction }
  | { event_type: "error"; error: { code: string; message: string } };

export type InteractionEvent = InteractionEventBody & { event_id: string };
