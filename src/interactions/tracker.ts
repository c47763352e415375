// Conversations of the Interactions API. Google keeps the history (store: true) and a client continues a chat by naming
// `previous_interaction_id`; the gateway follows those chains so that each turn has a conversation id (the id of its
// chain's first interaction) and a turn number (its depth), the same facts a session gives its turns. It remembers
// each interaction's place in its chain in the shared keyed store (bounded in memory, shared in Redis), refuses a
// create past INTERACTION_MAX_TURNS before it goes upstream, and counts each interaction's outcome once: when a create
// answers it, or when the first read shows a background one finished.

import { failedPrecondition } from "../gemini/errors.js";
import { continuationTokenOf, previousInteractionOf } from "../gemini/interactions.js";
import type { ResponseHook } from "../gateway/model-call.js";
import type { KeyedState, KeyedStore } from "../store/keyed.js";
import { SseLines, sseData } from "../taps/sse.js";
import type { TurnRecord } from "../turn/record.js";

/** An interaction's place in its chain. `depth` is absent when the chain was entered at an interaction the gateway
 *  had not seen (made elsewhere, or forgotten): its turn number is then unknown. */
export interface ChainLink {
  root: string;
  depth?: number;
}

/** What a create continues: the conversation and the turn number it will have. */
export interface ChainPlace {
  conversationId?: string;
  turn?: number;
  /** A continuation hop (`continuation_token`): the rest of the previous interaction's turn, not a new turn. */
  hop?: boolean;
}

/** The place of a create that names `previous` (whose link is `link` when known). Pure. */
export function placeAfter(previous: string | undefined, link: ChainLink | undefined, hop = false): ChainPlace {
  if (previous === undefined) return { turn: 1 };
  if (!link) return hop ? { conversationId: previous, hop } : { conversationId: previous };
  const turn = link.depth === undefined ? undefined : hop ? link.depth : link.depth + 1;
  return { conversationId: link.root, ...(turn !== undefined ? { turn } : {}), ...(hop ? { hop } : {}) };
}

/** The turn cap's refusal, saying how to go on. */
export function turnCapRefusal(maxTurns: number, previous: string): Error {
  return failedPrecondition(
    `This conversation has reached the gateway's limit of ${maxTurns} turns (INTERACTION_MAX_TURNS): ${previous} cannot be continued. ` +
      "Start a new chain (a create without previous_interaction_id), giving it a summary of this conversation as its first input if the model needs it.",
  );
}

export interface InteractionTrackerOptions {
  maxTurns: number | undefined;
  maxChains: number;
  maxChainBytes: number;
  chainTtlSeconds: number;
}

export interface InteractionTrackerDeps {
  /** Marks "counted once" (shared with batches: the resource store's marks). */
  firstTime(mark: string): Promise<boolean>;
  /** Records a new interaction as the caller's (resource isolation; a no-op when isolation is off). */
  claim(name: string, tenant: string): Promise<void>;
  /** A create refused by the turn cap (gemini_gateway_turn_cap_total{action="rejected"}). */
  onTurnCapRejected(): void;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function parseLink(json: string | undefined): ChainLink | undefined {
  if (json === undefined) return undefined;
  try {
    const link: unknown = JSON.parse(json);
    return isObject(link) && typeof link.root === "string" ? { root: link.root, ...(typeof link.depth === "number" ? { depth: link.depth } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

/** The id of a create's answer: the Interaction's `id`, or in a stream the `interaction.created` event's. */
class CreatedIdReader {
  private readonly decoder = new TextDecoder();
  private readonly sse = new SseLines();
  id: string | undefined;

  /** Reads a chunk of an SSE create; true once the id is known. */
  pushEvents(chunk: Buffer): boolean {
    if (this.id !== undefined) return true;
    for (const line of this.sse.push(this.decoder.decode(chunk, { stream: true }))) {
      const data = sseData(line);
      if (data === undefined) continue;
      try {
        const event: unknown = JSON.parse(data);
        if (isObject(event) && isObject(event.interaction) && typeof event.interaction.id === "string") {
          this.id = event.interaction.id;
          return true;
        }
      } catch {
        // not an event the id could be in
      }
    }
    return false;
  }
}

export class InteractionTracker {
  private readonly chains: KeyedState;

  constructor(
    store: KeyedStore,
    private readonly options: InteractionTrackerOptions,
    private readonly deps: InteractionTrackerDeps,
  ) {
    this.chains = store.space({
      name: "i",
      maxEntries: options.maxChains,
      maxBytes: options.maxChainBytes,
      ttlSeconds: options.chainTtlSeconds,
      concern: "interaction_chains",
      what: "interaction chain store",
      consequence: "Interactions cannot be created or read through the gateway until it is back; other routes keep working.",
    });
  }

  /** A create's place in its chain; refuses (400 FAILED_PRECONDITION) one past the turn cap. */
  async placeOfCreate(request: unknown): Promise<ChainPlace> {
    const previous = previousInteractionOf(request);
    const hop = continuationTokenOf(request) !== undefined;
    const place = placeAfter(previous, previous === undefined ? undefined : parseLink(await this.chains.get(previous)), hop);
    const { maxTurns } = this.options;
    if (maxTurns !== undefined && !hop && previous !== undefined && place.turn !== undefined && place.turn > maxTurns) {
      this.deps.onTurnCapRejected();
      throw turnCapRefusal(maxTurns, previous);
    }
    return place;
  }

  /** A create's answer: the new interaction is the caller's and takes its place in the chain as soon as its id is
   *  known (before the client can name it), its turn is counted once. */
  createHook(place: ChainPlace, tenant: string, stream: boolean): ResponseHook {
    const reader = new CreatedIdReader();
    const remember = async (id: string): Promise<void> => {
      await this.deps.claim(`interactions/${id}`, tenant);
      const link: ChainLink = { root: place.conversationId ?? id, ...(place.turn !== undefined ? { depth: place.turn } : {}) };
      await this.chains.set(id, JSON.stringify(link));
    };
    const hook: ResponseHook = {
      settle: async (record) => {
        const id = reader.id ?? record.response?.responseId;
        if (id === undefined) return;
        record.conversationId = place.conversationId ?? id;
        // A hop is billed on its own, but is no new turn of the per-turn histograms.
        if ((await this.countOnce(record, id)) && place.turn !== undefined && !place.hop) record.sessionTurn = place.turn;
      },
    };
    if (stream) {
      hook.beforeChunk = (chunk) => (reader.id === undefined && reader.pushEvents(chunk) ? remember(reader.id!) : undefined);
    } else {
      hook.body = async (body) => {
        try {
          const answer: unknown = JSON.parse(body.toString("utf8"));
          if (isObject(answer) && typeof answer.id === "string") {
            reader.id = answer.id;
            await remember(answer.id);
          }
        } catch {
          // not an Interaction: nothing to remember
        }
        return body;
      };
    }
    return hook;
  }

  /** An interaction made by the gateway itself for a caller (a session's message), already measured: it is the
   *  caller's, its place is `link`, and its outcome is not counted again if the caller reads it directly. */
  async adopt(id: string, tenant: string, link: ChainLink): Promise<void> {
    await this.deps.claim(`interactions/${id}`, tenant);
    await this.chains.set(id, JSON.stringify(link));
    await this.deps.firstTime(`metered/interactions/${id}`);
  }

  /** A read or a cancel of `id`: its conversation and turn for the record; its outcome counted if not yet. */
  readHook(id: string): ResponseHook {
    return {
      settle: async (record) => {
        const link = parseLink(await this.chains.get(id));
        if (link) record.conversationId = link.root;
        if ((await this.countOnce(record, id)) && link?.depth !== undefined) record.sessionTurn = link.depth;
      },
    };
  }

  /** An interaction's outcome (tokens, finish, error) is counted by the first answer that shows it final: true when
   *  this record is that answer (it then also carries the turn number, so each turn is one sample of the per-turn
   *  histograms); otherwise its outcome is dropped from the record. */
  private async countOnce(record: TurnRecord, id: string): Promise<boolean> {
    const response = record.response;
    if (!response || response.pending) return false;
    if (await this.deps.firstTime(`metered/interactions/${id}`)) return true;
    delete record.response;
    if (!record.clientAborted && (record.errorType === "failed" || record.errorType === "cancelled")) delete record.errorType;
    return false;
  }
}
