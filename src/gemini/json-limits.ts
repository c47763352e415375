// Nesting limits of Gemini's JSON: its parser (protobuf's) refuses objects and arrays nested deeper than 100 levels.
// The gateway refuses them first, with a 400 naming where, rather than send them upstream (which answers 500 and makes
// a retry pointless) or recurse into them itself (a stack overflow). Iterative, so any depth is safe to check.

export const MAX_JSON_DEPTH = 100;

/** Whether JSON text nests objects and arrays deeper than `max`: a scan of its bytes, strings skipped. */
export function jsonNestingExceeds(bytes: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const byte of bytes) {
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
      continue;
    }
    if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > max) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return false;
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
