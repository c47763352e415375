// List paging as Google does it: `pageSize` (0 or absent = the default, capped at a maximum) and an opaque
// `pageToken` from the previous page's `nextPageToken`. The token encodes the offset.
import { invalidArgument } from "../gemini/errors.js";

export interface PageLimits {
  defaultSize: number;
  maxSize: number;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/** One page of `items` as the query asks; a bad pageSize or pageToken is Google's 400. */
export function pageOf<T>(items: readonly T[], query: URLSearchParams, limits: PageLimits): Page<T> {
  const sizeParam = query.get("pageSize") ?? query.get("page_size");
  const pageSize = sizeParam === null ? 0 : Number(sizeParam);
  if (!Number.isInteger(pageSize) || pageSize < 0) throw invalidArgument(`Invalid value at 'page_size' (TYPE_INT32), "${sizeParam}"`);
  const size = pageSize === 0 ? limits.defaultSize : Math.min(pageSize, limits.maxSize);
  const token = query.get("pageToken") ?? query.get("page_token");
  const offset = token ? Number(Buffer.from(token, "base64url").toString("utf8")) : 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > items.length) throw invalidArgument("Invalid page token.");
  const page: Page<T> = { items: items.slice(offset, offset + size) };
  if (offset + size < items.length) page.nextPageToken = Buffer.from(String(offset + size)).toString("base64url");
  return page;
}

/** A list answer: `{<field>: [...], nextPageToken?}`, or `{}` for an empty list (proto JSON omits empty lists). */
export function listAnswer<T>(field: string, page: Page<T>): Record<string, unknown> {
  const answer: Record<string, unknown> = {};
  if (page.items.length > 0) answer[field] = page.items;
  if (page.nextPageToken !== undefined) answer.nextPageToken = page.nextPageToken;
  return answer;
}
