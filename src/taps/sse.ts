// Server-Sent Events framing, incrementally: complete lines out of text that arrives in arbitrary pieces (a line,
// or a UTF-8 character, may be split across network chunks).

export class SseLines {
  private pending = "";

  /** The complete lines in `text` (CR LF or LF endings), keeping the incomplete tail for the next call. */
  push(text: string): string[] {
    const buffer = this.pending + text;
    const lines = buffer.split("\n");
    this.pending = lines.pop() ?? "";
    return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  }

  /** What is left at the end of the stream, as a last line. */
  end(): string[] {
    const rest = this.pending;
    this.pending = "";
    return rest === "" ? [] : [rest.endsWith("\r") ? rest.slice(0, -1) : rest];
  }
}

/** The payload of a `data:` line (the one optional space after the colon removed), else undefined. */
export function sseData(line: string): string | undefined {
  if (!line.startsWith("data:")) return undefined;
  return line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
}
