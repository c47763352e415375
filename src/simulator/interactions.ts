// The Interactions API (`/{v}/interactions`): create (unary, streamed, background, continuation hops), get (the JSON, or
// the stream replayed from an event id), delete and cancel, over the same generation as generateContent. Interactions
// belong to the API key that made them and are kept when `store` is true (the default): a later create names one as
// previous_interaction_id to continue its conversation. What to answer is decided in interaction-input.ts and
// interaction-output.ts; this module keeps the records and moves them on.
import type { GeminiError } from "../gemini/errors.js";
import { canonicalError, failedPrecondition, invalidArgument, notFound } from "../gemini/errors.js";
import type { Content, UsageMetadata } from "../gemini/types.js";
import type { Handlers, RequestContext, StreamAnswer } from "./context.js";
import { jsonAnswer, modelOf, orThrow } from "./context.js";
import type { Fault } from "./faults.js";
import { forcedInteractionStatus, framesBeforeCut, midstreamError, planOverrides } from "./faults.js";
import { replyTo, trickleMs } from "./generate.js";
import type { ReplyPlan } from "./generation.js";
import { randomId } from "./ids.js";
import type { CreateInteractionRequest } from "./interaction-input.js";
import { argumentsFor, contentsOfSteps, forcedFunction, functionCallNames, parseCreateInteraction } from "./interaction-input.js";
import type { EventFrame, InteractionHead, TurnOutcome } from "./interaction-output.js";
import {
  backgroundDone,
  completedEvent,
  describeInteraction,
  errorEventBody,
  isFinished,
  openingEvents,
  resumeIndex,
  sseEvent,
  stepsFromEvents,
  turnEvents,
  turnOutcome,
  withEventId,
} from "./interaction-output.js";
import type { InteractionEvent, InteractionStatus, InteractionStep } from "./interaction-types.js";
import type { SimModel } from "./models.js";
import type { SimulatorState } from "./state.js";
import { sumPromptTokens } from "./tokenizer.js";
import { violationError } from "./quota.js";
import { parseGenerateContentRequest } from "./validate.js";

/** An event as kept for replay, with the visible tokens it carries (a replay trickles like the original). */
interface StoredEvent {
  event: InteractionEvent;
  tokens: number;
}

export interface InteractionRecord {
  id: string;
  owner: string;
  model: SimModel;
  previousInteractionId?: string;
  /** The input as sent. */
  input?: unknown;
  /** This turn's input as steps (GET shows them before the output). */
  inputSteps: InteractionStep[];
  /** What the model was sent: the history of the conversation, then this turn's input. */
  contents: Content[];
  /** Earlier continuation hops' output steps of this same model turn. */
  earlierTurnSteps: InteractionStep[];
  /** How the turn ends, decided at creation; shown once the interaction is finished. */
  outcome: TurnOutcome;
  /** Set when the outcome requires continuation: the token the next hop sends. */
  continuationToken?: string;
  /** The plan a continuation goes on with. */
  plan: ReplyPlan;
  /** Visible pieces of `plan` the hops before this one sent. */
  piecesBefore: number;
  status: InteractionStatus;
  /** Output steps shown (once finished). */
  steps: InteractionStep[];
  /** Usage shown (once finished; a cancelled interaction has none). */
  usage?: UsageMetadata;
  /** The events a stream GET replays (once finished). */
  events: StoredEvent[];
  /** GETs of a background interaction so far. */
  polls: number;
  created: number;
  updated: number;
}

/** Where a requires_continuation turn stopped: a continuation hop goes on from here. */
interface ContinuationCheckpoint {
  owner: string;
  model: string;
  plan: ReplyPlan;
  /** Visible pieces sent by the hops so far. */
  piecesSent: number;
  contents: Content[];
  /** The output steps of the turn so far (every hop's). */
  turnSteps: InteractionStep[];
}

export class InteractionStore {
  private readonly interactions = new Map<string, InteractionRecord>();
  private readonly checkpoints = new Map<string, ContinuationCheckpoint>();

  add(record: InteractionRecord): void {
    this.interactions.set(record.id, record);
  }

  get(owner: string, id: string): InteractionRecord | undefined {
    const record = this.interactions.get(id);
    return record?.owner === owner ? record : undefined;
  }

  delete(owner: string, id: string): boolean {
    return this.get(owner, id) !== undefined && this.interactions.delete(id);
  }

  /** Checkpoints are kept whether or not the interaction is stored: a `store: false` turn is continued by token. */
  addCheckpoint(token: string, checkpoint: ContinuationCheckpoint): void {
    this.checkpoints.set(token, checkpoint);
  }

  checkpoint(owner: string, token: string): ContinuationCheckpoint | undefined {
    const checkpoint = this.checkpoints.get(token);
    return checkpoint?.owner === owner ? checkpoint : undefined;
  }
}

const headOf = (record: InteractionRecord): InteractionHead => ({ id: record.id, model: record.model.id, created: record.created, updated: record.updated });

/** The conversation after an interaction: what its model was sent, then its model turn (thoughts are not sent back). */
function historyAfter(record: InteractionRecord): Content[] {
  const turn = [...record.earlierTurnSteps, ...record.steps];
  return [...record.contents, ...contentsOfSteps(turn, functionCallNames(record.contents))];
}

function lastUserText(contents: readonly Content[]): string {
  const user = [...contents].reverse().find((c) => c.role === "user" && c.parts.some((p) => typeof p.text === "string"));
  return user?.parts.find((p) => typeof p.text === "string")?.text ?? "";
}

/** SSE of stored events; a failure after `sent` of them is an `error` event numbered on from `firstIndex`. */
function eventStream(events: readonly StoredEvent[], firstIndex: number): StreamAnswer {
  return {
    kind: "stream",
    headers: { "Content-Type": "text/event-stream" },
    frames: events.map(({ event, tokens }) => ({ text: sseEvent(event), tokens })),
    end: "",
    failure: (error: GeminiError, sent: number) => sseEvent(withEventId(errorEventBody(error), firstIndex + sent)),
  };
}

const numbered = (frames: readonly EventFrame[]): StoredEvent[] => frames.map((frame, i) => ({ event: withEventId(frame.body, i), tokens: frame.tokens }));

/** What a create turns into before it is a record: the turn's context, its plan and outcome. */
interface PlannedTurn {
  contents: Content[];
  earlierTurnSteps: InteractionStep[];
  plan: ReplyPlan;
  piecesBefore: number;
  outcome: TurnOutcome;
}

export function interactionHandlers(state: SimulatorState): Handlers<"createInteraction" | "getInteraction" | "deleteInteraction" | "cancelInteraction"> {
  const { interactions } = state;
  const owned = (ctx: RequestContext): InteractionRecord => orThrow(interactions.get(ctx.key, ctx.route.id ?? ""), () => canonicalError(404));

  /** A new model turn: the previous interaction's conversation, this input, one generation. */
  const newTurn = (ctx: RequestContext, request: CreateInteractionRequest, model: SimModel): PlannedTurn => {
    let history: Content[] = [];
    if (request.previousInteractionId !== undefined) {
      const id = request.previousInteractionId;
      // Unknown, deleted, another key's, or never stored (store: false): all the same to the caller.
      const previous = orThrow(interactions.get(ctx.key, id), () =>
        notFound(`Interaction ${id} was not found: it does not exist, was deleted, belongs to another API key, or was created with store: false.`),
      );
      if (!isFinished(previous.status)) throw failedPrecondition(`Interaction ${id} is still in progress: continue it once it has finished.`);
      history = historyAfter(previous);
    }
    const contents = [...history, ...contentsOfSteps(request.inputSteps, functionCallNames(history))];
    // Interactions take systemInstruction and tools on every version: validate as the v1beta GenerateContentRequest.
    const generateRequest = parseGenerateContentRequest({ contents, ...request.generate }, model, "v1beta");
    const plan = replyTo(state, ctx.key, model, generateRequest, planOverrides(ctx.fault), { quota: true });
    const forced = forcedFunction(request.functions, request.toolChoice);
    const functionCall = forced ? { name: forced.name, args: argumentsFor(forced.parameters, lastUserText(generateRequest.contents)) } : undefined;
    const forcedStatus = forcedInteractionStatus(ctx.fault);
    const outcome = turnOutcome(plan, { ...(functionCall ? { functionCall } : {}), ...(forcedStatus ? { forcedStatus } : {}) });
    return { contents, earlierTurnSteps: [], plan, piecesBefore: 0, outcome };
  };

  /**
   * A continuation hop: the rest of a requires_continuation turn. Its input is the context and the text already
   * generated (re-prefilled, so counted as input again); it does not think again.
   */
  const continuedTurn = (ctx: RequestContext, token: string, model: SimModel): PlannedTurn => {
    const checkpoint = orThrow(interactions.checkpoint(ctx.key, token), () => invalidArgument("continuation_token is not valid: it is unknown or was issued to another API key."));
    if (checkpoint.model !== model.id) throw invalidArgument(`continuation_token was issued for model ${checkpoint.model}, not ${model.id}.`);
    const { plan, piecesSent } = checkpoint;
    const prefix = (plan.codeExecution?.codeTokens ?? 0) + piecesSent;
    const hopPlan: ReplyPlan = {
      model: plan.model,
      responseId: plan.responseId,
      prompt: sumPromptTokens([plan.prompt, { total: prefix, details: [{ modality: "TEXT", tokenCount: prefix }] }]),
      thoughtsTokens: 0,
      pieces: plan.pieces.slice(piecesSent),
      finishReason: plan.finishReason,
    };
    if (state.quotas.enabled) {
      const violation = state.quotas.admit(ctx.key, model.id, hopPlan.prompt.total, ctx.now);
      if (violation) throw violationError(model.id, violation);
    }
    const forcedStatus = forcedInteractionStatus(ctx.fault);
    const outcome = turnOutcome(hopPlan, forcedStatus ? { forcedStatus } : {});
    return { contents: checkpoint.contents, earlierTurnSteps: checkpoint.turnSteps, plan, piecesBefore: piecesSent, outcome };
  };

  /**
   * Ends an interaction (its usage counted in the stats, once): as planned, or, when `streamFault` is a midstream_error,
   * failed where that fault breaks its stream, with what the events before carried and an `error` event. Returns
   * every planned event (the stream to send; the HTTP shell makes the same cut).
   */
  const finish = (record: InteractionRecord, now: number, streamFault?: Fault): StoredEvent[] => {
    record.updated = now;
    const frames = turnEvents(headOf(record), record.outcome, record.continuationToken);
    const all = numbered(frames);
    const failing = streamFault && "kind" in streamFault && streamFault.kind === "midstream_error" ? streamFault : undefined;
    const failAfter = framesBeforeCut(failing, frames.length);
    if (failing && failAfter !== undefined) {
      const sent = frames.slice(0, failAfter);
      record.status = "failed";
      record.steps = stepsFromEvents(sent.map((f) => f.body));
      // What the events sent had cost (the opening events' usage when none went out).
      record.usage = sent.at(-1)?.usage ?? frames[0]!.usage;
      record.events = [...all.slice(0, failAfter), { event: withEventId(errorEventBody(midstreamError(failing.status)), failAfter), tokens: 0 }];
    } else {
      record.status = record.outcome.status;
      record.steps = record.outcome.steps;
      record.usage = record.outcome.usage;
      record.events = all;
      if (record.continuationToken !== undefined) {
        interactions.addCheckpoint(record.continuationToken, {
          owner: record.owner,
          model: record.model.id,
          plan: record.plan,
          piecesSent: record.piecesBefore + (record.outcome.piecesSent ?? 0),
          contents: record.contents,
          turnSteps: [...record.earlierTurnSteps, ...record.outcome.steps],
        });
      }
    }
    state.stats.usage(record.usage);
    return all;
  };

  /** The Interaction JSON: a create answers its output steps; GET and cancel the input steps before them. */
  const describe = (record: InteractionRecord, view: { withInput: boolean; echoInput?: boolean }): Record<string, unknown> =>
    describeInteraction({
      ...headOf(record),
      status: record.status,
      ...(record.previousInteractionId === undefined ? {} : { previousInteractionId: record.previousInteractionId }),
      ...(view.echoInput && record.input !== undefined ? { input: record.input } : {}),
      steps: [...(view.withInput ? record.inputSteps : []), ...record.steps],
      ...(record.usage ? { usage: record.usage } : {}),
      ...(record.status === "requires_continuation" && record.continuationToken !== undefined ? { continuationToken: record.continuationToken } : {}),
    });

  return {
    createInteraction: async (ctx) => {
      const request = parseCreateInteraction(await ctx.json());
      const model = modelOf(ctx);
      if (request.background && !request.store) throw invalidArgument("background requires store: a background interaction is read back with GET, so it must be stored.");
      const turn = request.continuationToken === undefined ? newTurn(ctx, request, model) : continuedTurn(ctx, request.continuationToken, model);
      const record: InteractionRecord = {
        id: `v1_${randomId(27)}`,
        owner: ctx.key,
        model,
        ...(request.previousInteractionId === undefined ? {} : { previousInteractionId: request.previousInteractionId }),
        ...(request.input === undefined ? {} : { input: request.input }),
        inputSteps: request.continuationToken === undefined ? request.inputSteps : [],
        contents: turn.contents,
        earlierTurnSteps: turn.earlierTurnSteps,
        outcome: turn.outcome,
        ...(turn.outcome.status === "requires_continuation" ? { continuationToken: `ct_${randomId(32)}` } : {}),
        plan: turn.plan,
        piecesBefore: turn.piecesBefore,
        status: "in_progress",
        steps: [],
        events: [],
        polls: 0,
        created: ctx.now,
        updated: ctx.now,
      };
      if (request.store) interactions.add(record);
      // A midstream_error fails the interaction where its stream breaks; a hang only breaks the connection.
      if (request.stream) return eventStream(finish(record, ctx.now, ctx.fault), 0);
      // A background interaction answers at once and ends at a later GET (backgroundDone).
      if (request.background) return jsonAnswer(describe(record, { withInput: false }));
      finish(record, ctx.now);
      const visible = record.usage?.candidatesTokenCount ?? 0;
      return jsonAnswer(describe(record, { withInput: false }), { delayMs: state.options.ttftMs + trickleMs(state, visible) });
    },
    getInteraction: async (ctx) => {
      const record = owned(ctx);
      const query = ctx.url.searchParams;
      const stream = query.get("stream") === "true";
      const lastEventId = query.get("last_event_id") ?? undefined;
      if (lastEventId !== undefined && !stream) throw invalidArgument("last_event_id can only be used with stream=true.");
      if (!isFinished(record.status)) {
        record.polls += 1;
        // A stream watches the rest of the generation: it ends the interaction at once.
        if (stream || backgroundDone(record.polls, state.options.interactionPollsUntilDone)) finish(record, ctx.now);
      }
      if (stream) {
        const events = record.events.map((e) => e.event);
        const from = orThrow(resumeIndex(events, lastEventId), () => invalidArgument(`last_event_id ${JSON.stringify(lastEventId)} is not an event of interaction ${record.id}.`));
        return eventStream(record.events.slice(from), from);
      }
      return jsonAnswer(describe(record, { withInput: true, echoInput: query.get("include_input") === "true" }));
    },
    deleteInteraction: async (ctx) => {
      interactions.delete(ctx.key, owned(ctx).id);
      return jsonAnswer({});
    },
    cancelInteraction: async (ctx) => {
      const record = owned(ctx);
      if (isFinished(record.status)) {
        throw failedPrecondition(`Interaction ${record.id} is ${record.status}: only a background interaction that is still in progress can be cancelled.`);
      }
      record.status = "cancelled";
      record.updated = ctx.now;
      // A cancelled interaction never generated: its replay is the opening events and the cancelled end, costing nothing.
      const usage = { promptTokenCount: 0 };
      record.events = numbered([...openingEvents(headOf(record), usage), { body: completedEvent(headOf(record), "cancelled", undefined), tokens: 0, usage }]);
      return jsonAnswer(describe(record, { withInput: true }));
    },
  };
}
