// OpenTelemetry GenAI semantic conventions v1.41 (the last release inside the main semconv repository), kept here as
// strings because @opentelemetry/semantic-conventions marks its incubating GenAI constants deprecated.

export const GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
export const GEN_AI_PROVIDER_NAME = "gen_ai.provider.name";
export const GEN_AI_PROVIDER_GEMINI = "gcp.gemini";
export const GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
export const GEN_AI_REQUEST_STREAM = "gen_ai.request.stream";
export const GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens";
export const GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature";
export const GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p";
export const GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k";
export const GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences";
export const GEN_AI_REQUEST_SEED = "gen_ai.request.seed";
export const GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count";
export const GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id";
export const GEN_AI_RESPONSE_ID = "gen_ai.response.id";
export const GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
export const GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons";
export const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk";
export const GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
export const GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
export const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens";
export const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens";
export const GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages";
export const GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages";
export const GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions";
/** The event that carries message content when capture goes to events. */
export const GEN_AI_CLIENT_INFERENCE_DETAILS_EVENT = "gen_ai.client.inference.operation.details";

export const ERROR_TYPE = "error.type";
export const SERVER_ADDRESS = "server.address";
export const SERVER_PORT = "server.port";
export const HTTP_RESPONSE_STATUS_CODE = "http.response.status_code";
export const DB_SYSTEM_NAME = "db.system.name";

// The gateway's own attributes.
export const GATEWAY_SESSION_TURN = "gemini_gateway.session.turn";
export const GATEWAY_SESSION_STORE = "gemini_gateway.session.store";
export const GATEWAY_SESSION_APPENDED = "gemini_gateway.session.appended";
export const GATEWAY_SESSION_NOT_APPENDED_REASON = "gemini_gateway.session.not_appended_reason";
export const GATEWAY_ATTEMPTS = "gemini_gateway.attempts";
export const GATEWAY_COST_USD = "gemini_gateway.cost_usd";
export const GATEWAY_TENANT = "gemini_gateway.tenant";
export const GATEWAY_ATTEMPT_NUMBER = "gemini_gateway.attempt.number";
export const GATEWAY_ATTEMPT_OUTCOME = "gemini_gateway.attempt.outcome";
export const GATEWAY_RETRY_EVENT = "gemini_gateway.retry";
export const GATEWAY_RETRY_REASON = "gemini_gateway.retry.reason";
export const GATEWAY_RETRY_DELAY_SECONDS = "gemini_gateway.retry.delay_seconds";
export const GATEWAY_RETRY_DELAY_SOURCE = "gemini_gateway.retry.delay_source";
export const GATEWAY_HISTORY_TRIMMED_EVENT = "gemini_gateway.history_trimmed";
export const GATEWAY_TRIMMED_TURNS = "gemini_gateway.session.trimmed_turns";
export const GATEWAY_CLIENT_ABORTED = "gemini_gateway.client_aborted";

/** Bucket boundaries of gen_ai.client.token.usage ({token}). */
export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** Bucket boundaries of gen_ai.client.operation.duration and .time_to_first_chunk (s). */
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
