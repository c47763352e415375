// The trace of one session message, the contract between the sessions service (which knows the steps) and
// telemetry (which makes spans of them): one span over the whole message, with the session-store steps (looking
// the session up, waiting for its turn, committing the reply) and the model call nested in it. A message that waits
// behind the previous one of the same session shows it as a long `acquire_turn`.

import type { Context } from "@opentelemetry/api";
import type { IncomingHttpHeaders } from "node:http";

export type SessionStep = "lookup" | "acquire_turn" | "commit";

export type SessionMessageOutcome = { turn: number; appended: boolean; notAppendedReason?: string } | { error: unknown };

export interface SessionMessageTrace {
  /** The context the model call's span nests in; undefined when not tracing (the model call then continues the
   *  client's own trace). */
  readonly context: Context | undefined;
  /** Runs one store step inside its own child span. */
  step<T>(step: SessionStep, run: () => Promise<T>): Promise<T>;
  /** The message is over: the turn and whether it was appended, or the error that refused it. */
  end(outcome: SessionMessageOutcome): void;
}

export interface SessionMessageStart {
  sessionId: string;
  tenant: string;
  store: "memory" | "redis";
  stream: boolean;
  /** For the client's traceparent. */
  clientHeaders: IncomingHttpHeaders;
}

export interface SessionTracing {
  startMessage(start: SessionMessageStart): SessionMessageTrace;
}

export const noSessionTracing: SessionTracing = {
  startMessage: () => ({ context: undefined, step: (_step, run) => run(), end: () => undefined }),
};
