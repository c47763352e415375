// Spans of session messages (the SessionTracing contract of src/turn/session-trace.ts): `session_message` over the
// whole message, a `session_store {step}` child per store step (CLIENT spans with db.system.name=redis on Redis),
// and the model call's `generate_content {model}` span nested in it through the context handed to the model call.

import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes, Span, Tracer } from "@opentelemetry/api";
import { GeminiError } from "../gemini/errors.js";
import type { SessionTracing } from "../turn/session-trace.js";
import { extractParentContext } from "./context.js";
import * as sc from "./semconv.js";

/** error.type of a refused message or failed step: the HTTP status of a GeminiError, else the error's class. */
function errorType(err: unknown): string {
  if (err instanceof GeminiError) return String(err.code);
  return err instanceof Error ? err.name : "_OTHER";
}

function markFailed(span: Span, err: unknown): void {
  span.setAttribute(sc.ERROR_TYPE, errorType(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

export function sessionSpans(tracer: Tracer): SessionTracing {
  return {
    startMessage(start) {
      const parent = extractParentContext(start.clientHeaders);
      const span = tracer.startSpan(
        "session_message",
        {
          kind: SpanKind.SERVER,
          attributes: {
            [sc.GEN_AI_CONVERSATION_ID]: start.sessionId,
            [sc.GATEWAY_TENANT]: start.tenant,
            [sc.GATEWAY_SESSION_STORE]: start.store,
            [sc.GEN_AI_REQUEST_STREAM]: start.stream,
          },
        },
        parent,
      );
      const context = trace.setSpan(parent, span);
      const stepAttributes: Attributes = { [sc.GATEWAY_SESSION_STORE]: start.store };
      if (start.store === "redis") stepAttributes[sc.DB_SYSTEM_NAME] = "redis";
      return {
        context,
        async step(step, run) {
          const child = tracer.startSpan(
            `session_store ${step}`,
            { kind: start.store === "redis" ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes: stepAttributes },
            context,
          );
          try {
            return await run();
          } catch (err) {
            markFailed(child, err);
            throw err;
          } finally {
            child.end();
          }
        },
        end(outcome) {
          if ("error" in outcome) {
            markFailed(span, outcome.error);
          } else {
            span.setAttribute(sc.GATEWAY_SESSION_TURN, outcome.turn);
            span.setAttribute(sc.GATEWAY_SESSION_APPENDED, outcome.appended);
            if (outcome.notAppendedReason) span.setAttribute(sc.GATEWAY_SESSION_NOT_APPENDED_REASON, outcome.notAppendedReason);
          }
          span.end();
        },
      };
    },
  };
}
