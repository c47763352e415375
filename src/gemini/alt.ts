// Google's `alt` system parameter, in every spelling its clients send: `alt=sse`, `alt=json`, `$alt=json`,
// `$alt=json;enum-encoding=int` (sent URL-encoded: `%24alt=json%3Benum-encoding%3Dint`). It picks the stream framing
// (`sse`, else the JSON array) and whether enums come as numbers.

export interface AltParameter {
  /** The media form asked for: `sse`, `json`, `media`...; undefined when absent. `sse` wins when one spelling asks
   *  for it and another for `json` (`alt=sse&$alt=json;enum-encoding=int`: SSE events with integer enums). */
  form?: string;
  /** `enum-encoding=int`: enums are written as their numbers. */
  intEnums: boolean;
}

export function parseAlt(query: URLSearchParams): AltParameter {
  let form: string | undefined;
  let intEnums = false;
  for (const name of ["alt", "$alt"]) {
    for (const value of query.getAll(name)) {
      const [first = "", ...options] = value.split(";").map((piece) => piece.trim());
      if (first !== "" && form !== "sse") form = first.toLowerCase();
      if (options.some((option) => option.toLowerCase() === "enum-encoding=int")) intEnums = true;
    }
  }
  return form === undefined ? { intEnums } : { form, intEnums };
}
