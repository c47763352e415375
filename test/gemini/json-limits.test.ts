// The nesting scan every model call's body goes through: it skips strings with indexOf, so escapes and quotes inside
// strings must never be taken for structure. Checked against the plain byte-by-byte definition.
import { describe, expect, test } from "vitest";
import { jsonNestingExceeds, MAX_JSON_DEPTH } from "../../src/gemini/json-limits.js";

/** The definition: the depth of brackets outside strings, byte by byte. */
function deepestByDefinition(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (const c of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") deepest = Math.max(deepest, ++depth);
    else if (c === "]" || c === "}") depth--;
  }
  return deepest;
}

const nested = (levels: number, inner = "1"): string => "[".repeat(levels) + inner + "]".repeat(levels);
const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

describe("jsonNestingExceeds", () => {
  test("counts nesting outside strings, up to the limit and one past it", () => {
    expect(jsonNestingExceeds(bytes(nested(MAX_JSON_DEPTH)))).toBe(false);
    expect(jsonNestingExceeds(bytes(nested(MAX_JSON_DEPTH + 1)))).toBe(true);
    expect(jsonNestingExceeds(bytes(JSON.stringify({ a: [{ b: [] }] })), 4)).toBe(false);
    expect(jsonNestingExceeds(bytes(JSON.stringify({ a: [{ b: [] }] })), 3)).toBe(true);
  });

  test("brackets, escaped quotes and backslash runs inside strings are not structure", () => {
    const tricky = ['[[[[', 'say \\"[[[[\\" twice', "ends in a backslash \\\\", "\\\\\\\"{{{{", "ünïcödé [{ 🙂", ""];
    for (const text of tricky) {
      const body = JSON.stringify({ contents: [{ parts: [{ text }] }], note: text });
      // { contents: [ { parts: [ { text } ] } ] }: five levels, whatever the text holds.
      expect(deepestByDefinition(body)).toBe(5);
      expect(jsonNestingExceeds(bytes(body), 5)).toBe(false);
      expect(jsonNestingExceeds(bytes(body), 4)).toBe(true);
    }
    // A string holding a deep "array" next to real nesting within the limit.
    const body = JSON.stringify({ s: nested(200), a: JSON.parse(nested(50)) as unknown });
    expect(jsonNestingExceeds(bytes(body))).toBe(false);
    expect(jsonNestingExceeds(bytes(body), 51)).toBe(false); // the object, then 50 arrays
    expect(jsonNestingExceeds(bytes(body), 50)).toBe(true);
  });

  test("agrees with the definition on random texts of quotes, backslashes and brackets", () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['"', "\\", "[", "]", "{", "}", "a", " "];
    for (let run = 0; run < 2000; run++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 40) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
      const deepest = deepestByDefinition(text);
      for (const max of [0, 1, 2, 3]) expect(jsonNestingExceeds(bytes(text), max), text).toBe(deepest > max);
    }
  });

  test("an unterminated string ends the scan", () => {
    expect(jsonNestingExceeds(bytes('{"a": "[[[[[['), 1)).toBe(false);
  });
});
