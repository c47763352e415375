import { describe, expect, it } from "vitest";
import { GeminiError } from "../../src/gemini/errors.js";
import { checkContents, parseCreateSession, parseSendMessage, validateHistory, validateNewTurn } from "../../src/sessions/validate.js";
import type { Content } from "../../src/gemini/types.js";

const user = (text: string): Content => ({ role: "user", parts: [{ text }] });
const model = (text: string): Content => ({ role: "model", parts: [{ text }] });
const call = (...names: string[]): Content => ({ role: "model", parts: names.map((name) => ({ functionCall: { name, args: {} } })) });
const answer = (...names: string[]): Content => ({
  role: "user",
  parts: names.map((name) => ({ functionResponse: { name, response: { ok: true } } })),
});

function errorOf(fn: () => unknown): GeminiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GeminiError) return err;
    throw err;
  }
  throw new Error("expected a GeminiError");
}

describe("history validation", () => {
  it("accepts a normal chat and a complete function-call exchange", () => {
    expect(checkContents([user("a"), model("b"), user("c"), call("f", "g"), answer("f", "g"), model("done")])).toEqual({
      errors: [],
      warnings: [],
    });
  });

  it.each<[string, unknown[], string]>([
    ["a role other than user/model", [user("a"), model("b"), user("c"), { role: "assistant", parts: [{ text: "x" }] }], 'history[3]: role "assistant" is not one of user, model'],
    ["a missing role", [user("a"), { parts: [{ text: "x" }] }], "history[1]: role null is not one of user, model"],
    ["empty parts", [user("a"), { role: "model", parts: [] }], "history[1]: parts must be a non-empty array"],
    ["missing parts", [{ role: "user" }], "history[0]: parts must be a non-empty array"],
    ["a turn that is not an object", [user("a"), "hello"], "history[1]: a turn must be an object {role, parts}"],
    ["a part with no data field", [user("a"), { role: "model", parts: [{ thought: true }] }], "history[1].parts[0]: a part must have exactly one data field (text, inlineData, fileData, functionCall, functionResponse, executableCode, codeExecutionResult); found none"],
    ["a part with two data fields", [{ role: "user", parts: [{ text: "a", inlineData: { mimeType: "image/png", data: "" } }] }], "history[0].parts[0]: a part must have exactly one data field (text, inlineData, fileData, functionCall, functionResponse, executableCode, codeExecutionResult); found text, inlineData"],
    ["a first turn from the model", [model("hi"), user("a")], 'history[0]: the first turn must be from user, not "model"'],
    ["a function call after a model turn", [user("a"), model("b"), call("f")], "history[2]: a function call turn must be a model turn that comes right after a user turn or a function response turn"],
    ["too few function responses", [user("a"), call("f", "g"), answer("f")], "history[2]: expected 2 functionResponse part(s) answering the function calls of history[1], found 1"],
    ["no function response after a call", [user("a"), call("f"), model("b")], "history[2]: expected 1 functionResponse part(s) answering the function calls of history[1], found 0"],
    ["a function response with no call before it", [user("a"), model("b"), answer("f")], "history[2]: a function response must come right after the model turn with the function calls it answers"],
  ])("rejects %s", (_name, history, message) => {
    const error = errorOf(() => validateHistory(history, false));
    expect(error.code).toBe(400);
    expect(error.status).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe(message);
  });

  it("warns on consecutive turns of one role, rejects them when strict", () => {
    const history = [user("a"), user("b"), model("c")];
    expect(validateHistory(history, false)).toEqual(["history[1]: two user turns in a row"]);
    expect(errorOf(() => validateHistory(history, true)).message).toBe(
      "history[1]: two user turns in a row (SESSION_STRICT_ALTERNATION=true)",
    );
  });
});

describe("new turn validation", () => {
  it("requires the function responses when the history ends with a call", () => {
    expect(errorOf(() => validateNewTurn([user("a"), call("f")], user("what?"), false)).message).toBe(
      "message: expected 1 functionResponse part(s) answering the function calls of history[1], found 0",
    );
    expect(validateNewTurn([user("a"), call("f")], answer("f"), false)).toEqual([]);
  });

  it("checks each part of the message", () => {
    expect(errorOf(() => validateNewTurn([], { role: "user", parts: [{}] }, false)).message).toMatch(/^message.parts\[0\]: a part must have exactly one data field/);
  });
});

describe("request bodies", () => {
  it("parses a create body, with a string system instruction and a models/ prefix", () => {
    const input = parseCreateSession({ model: "models/gemini-2.5-flash", systemInstruction: "be brief", history: [user("a"), model("b")] }, false);
    expect(input).toMatchObject({ model: "gemini-2.5-flash", systemInstruction: { parts: [{ text: "be brief" }] }, history: [user("a"), model("b")], warnings: [] });
  });

  it.each<[string, unknown, string]>([
    ["a body that is not an object", [1], "The request body must be a JSON object."],
    ["a missing model", {}, "model: Invalid input: expected string, received undefined"],
    ["an empty model", { model: "" }, "model: model must be a non-empty string"],
    ["an unknown field", { model: "m", histroy: [] }, 'Invalid JSON payload received. Unknown name "histroy": Cannot find field.'],
    ["a history that is not a list", { model: "m", history: {} }, "history: Invalid input: expected array, received object"],
    ["bad safety settings", { model: "m", safetySettings: [{ category: "x" }] }, "safetySettings[0].threshold: Invalid input: expected string, received undefined"],
  ])("rejects a create body with %s", (_name, body, message) => {
    const error = errorOf(() => parseCreateSession(body, false));
    expect([error.code, error.status, error.message]).toEqual([400, "INVALID_ARGUMENT", message]);
  });

  it("parses a message as text or parts", () => {
    expect(parseSendMessage({ message: "hi" })).toEqual({ turn: user("hi") });
    expect(parseSendMessage({ message: [{ text: "hi" }], generationConfig: { temperature: 0 } })).toEqual({
      turn: user("hi"),
      generationConfig: { temperature: 0 },
    });
  });

  it.each<[string, unknown, string]>([
    ["no message", {}, "message: message must be a string or a list of parts"],
    ["a number as message", { message: 5 }, "message: message must be a string or a list of parts"],
    ["an empty message", { message: "" }, "message: message must not be empty"],
    ["an empty list of parts", { message: [] }, "message: message must not be empty"],
    ["an unknown field", { message: "hi", stream: true }, 'Invalid JSON payload received. Unknown name "stream": Cannot find field.'],
  ])("rejects a message body with %s", (_name, body, message) => {
    const error = errorOf(() => parseSendMessage(body));
    expect([error.code, error.status, error.message]).toEqual([400, "INVALID_ARGUMENT", message]);
  });
});
