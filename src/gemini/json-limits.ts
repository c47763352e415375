// Nesting limits of Gemini's JSON: its parser (protobuf's) refuses objects and arrays nested deeper than 100 levels.
// The gateway refuses them first, with a 400 naming where, rather than send them upstream (which answers 500 and makes
// a retry pointless) or recurse into them itself (a stack overflow). Iterative, so any depth is safe to check.

export const MAX_JSON_DEPTH = 100;

/** Whether JSON text nests objects and arrays deeper than `max`: a scan of its bytes, strings skipped. Every request
 *  body of a model call goes through it, and most of a chat body is string content, so strings are skipped with
 *  indexOf (memchr) rather than byte by byte: a 50 KB history takes microseconds, not a quarter of a millisecond. */
export function jsonNestingExceeds(bytes: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === 0x22) i = closingQuote(bytes, i + 1);
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > max) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return false;
}

/** The index of the quote that ends the string whose text starts at `from` (the length when it never ends): the
 *  first quote after an even run of backslashes. */
function closingQuote(bytes: Uint8Array, from: number): number {
  for (let start = from; ; ) {
    const quote = bytes.indexOf(0x22, start);
    if (quote < 0) return bytes.length;
    let backslashes = 0;
    while (quote - backslashes - 1 >= start && bytes[quote - backslashes - 1] === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote;
    start = quote + 1;
  }
}

/** Where a parsed value nests deeper than `max` (a path like `tools[0].functionDeclarations[2]...`), or undefined. */
export function tooDeepAt(value: unknown, max = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: "" }];
  while (stack.length > 0) {
    const { value: current, depth, path } = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (depth + 1 > max) return path || "(body)";
    const entries: Array<[string, unknown]> = Array.isArray(current)
      ? current.map((item, i) => [`${path}[${i}]`, item])
      : Object.entries(current).map(([key, item]) => [path ? `${path}.${key}` : key, item]);
    for (const [childPath, child] of entries) stack.push({ value: child, depth: depth + 1, path: childPath });
  }
  return undefined;
}

/** The 400 for a body nested too deep, in Google's words. */
export const tooDeepMessage = (where: string): string =>
  `Invalid JSON payload received. Nesting deeper than ${MAX_JSON_DEPTH} levels at ${where}.`;
