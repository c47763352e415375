import { describe, expect, it } from "vitest";
import { GeminiError } from "../../src/gemini/errors.js";
import { exchanges, fitHistory, turnFromContents } from "../../src/sessions/history.js";
import type { FitOptions } from "../../src/sessions/history.js";
import type { Content } from "../../src/gemini/types.js";

const user = (text: string): Content => ({ role: "user", parts: [{ text }] });
const model = (text: string): Content => ({ role: "model", parts: [{ text }] });
const chat = (turns: number): Content[] => Array.from({ length: turns }, (_, i) => [user(`u${i + 1}`), model(`m${i + 1}`)]).flat();
const options = (over: Partial<FitOptions> = {}): FitOptions => ({
  sessionId: "S",
  maxTurns: 3,
  policy: "reject",
  pinFirstTurn: false,
  maxHistoryTokens: undefined,
  lastHistoryTokens: undefined,
  ...over,
});

describe("turn counting", () => {
  it("counts user turns", () => {
    expect(turnFromContents([])).toBe(0);
    expect(turnFromContents([...chat(2), user("next")])).toBe(3);
  });

  it("groups a function-call round trip into one exchange", () => {
    const history: Content[] = [
      user("a"),
      { role: "model", parts: [{ functionCall: { name: "f" } }] },
      { role: "user", parts: [{ functionResponse: { name: "f", response: {} } }] },
      model("b"),
      user("c"),
      model("d"),
    ];
    expect(exchanges(history).map((b) => b.length)).toEqual([4, 2]);
  });
});

describe("turn cap", () => {
  it("lets turns through up to the cap", () => {
    expect(fitHistory(chat(2), user("u3"), options())).toEqual({ history: chat(2), trimmedTurns: 0 });
  });

  it("rejects past the cap with FAILED_PRECONDITION saying the cap and how to export", () => {
    let error: unknown;
    try {
      fitHistory(chat(3), user("u4"), options());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GeminiError);
    const { code, status, message } = error as GeminiError;
    expect([code, status]).toEqual([400, "FAILED_PRECONDITION"]);
    expect(message).toContain("cap of 3 turns (SESSION_MAX_TURNS)");
    expect(message).toContain("GET /v1/sessions/S");
    expect(message).toContain("POST /v1/sessions");
  });

  it("slides: drops the oldest pair", () => {
    expect(fitHistory(chat(3), user("u4"), options({ policy: "slide" }))).toEqual({
      history: chat(3).slice(2),
      trimmedTurns: 1,
    });
  });

  it("slides around a pinned first turn", () => {
    const fitted = fitHistory(chat(3), user("u4"), options({ policy: "slide", pinFirstTurn: true }));
    expect(fitted.history.map((c) => c.parts[0]!.text)).toEqual(["u1", "m1", "u3", "m3"]);
    expect(fitted.trimmedTurns).toBe(1);
  });
});

describe("token budget", () => {
  it("trims the oldest pairs when the last prompt plus the new message would exceed it", () => {
    // Each pair is 1 token by the estimate (4 characters); the model last counted 6 tokens; the new message is 1.
    const fitted = fitHistory(chat(3), user("u4"), options({ maxTurns: 50, maxHistoryTokens: 5, lastHistoryTokens: 6 }));
    expect(fitted.history.map((c) => c.parts[0]!.text)).toEqual(["u3", "m3"]);
    expect(fitted.trimmedTurns).toBe(2);
  });

  it("leaves the history alone under the budget", () => {
    expect(fitHistory(chat(3), user("u4"), options({ maxTurns: 50, maxHistoryTokens: 100, lastHistoryTokens: 6 })).trimmedTurns).toBe(0);
  });
});
