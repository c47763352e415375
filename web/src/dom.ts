// DOM helpers, number formatting and polling shared by the pages.
import type { WhoAmI } from "./api-types.js";

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

/** What a page gets: who the key is, a signal aborted when the page is left, the hash query and a way to rewrite it. */
export interface Ctx {
  who: WhoAmI;
  signal: AbortSignal;
  query: URLSearchParams;
  setQuery(query: URLSearchParams): void;
}

function build<E extends Element>(el: E, attrs: Attrs | null | undefined, children: Child[]): E {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const child of children) {
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else if (child !== null && child !== undefined && child !== false) el.appendChild(document.createTextNode(String(child)));
  }
}

/** replaceChildren that takes what h() takes (null and false are skipped). */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  return build(document.createElement(tag), attrs, children);
}

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, children);
}

/** Sets text only when it changed (no needless DOM writes, no repeated announcements in live regions). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Calls `fn` now and every `ms` after it settles, until `signal` aborts; skips ticks while the tab is hidden. */
export function poll(signal: AbortSignal, ms: number, fn: () => Promise<void>): void {
  const tick = async (): Promise<void> => {
    if (signal.aborted) return;
    if (!document.hidden) await fn().catch(() => undefined); // errors are shown by the api hooks
    if (!signal.aborted) setTimeout(() => void tick(), ms);
  };
  void tick();
}

export const DASH = "–";
const formats = new Map<string, Intl.NumberFormat>();
function nf(key: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  let format = formats.get(key);
  if (!format) formats.set(key, (format = new Intl.NumberFormat(undefined, options)));
  return format;
}

export const fmtInt = (n: number): string => nf("int", { maximumFractionDigits: 0 }).format(n);
export const fmtCompact = (n: number): string => nf("compact", { notation: "compact", maximumFractionDigits: 1 }).format(n);
export const fmtPct = (ratio: number): string => nf("pct", { style: "percent", maximumFractionDigits: 1 }).format(ratio);

/** A rate or a small quantity: fewer decimals as it grows. */
export function fmtNum(n: number): string {
  const a = Math.abs(n);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return nf(`num${digits}`, { maximumFractionDigits: digits }).format(n);
}

/** USD: cents from $1, four decimals under it, three significant digits under a cent. */
export function fmtUsd(n: number | undefined): string {
  if (n === undefined) return DASH;
  const a = Math.abs(n);
  if (a === 0 || a >= 1) return nf("usd2", { style: "currency", currency: "USD" }).format(n);
  if (a >= 0.01) return nf("usd4", { style: "currency", currency: "USD", maximumFractionDigits: 4 }).format(n);
  return nf("usds", { style: "currency", currency: "USD", maximumSignificantDigits: 3 }).format(n);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return DASH;
  const a = Math.abs(ms);
  if (a < 10) return `${fmtNum(ms)} ms`;
  if (a < 1000) return `${fmtInt(ms)} ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(a < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const fmtClock = (epochMs: number): string =>
  new Date(epochMs).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });

export function fmtTime(epochMs: number): string {
  const d = new Date(epochMs);
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
}

export function fmtAgo(epochMs: number): string {
  const sec = Math.max(0, Math.round((Date.now() - epochMs) / 1000));
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86_400) return `${Math.floor(sec / 3600)} h ago`;
  return `${Math.floor(sec / 86_400)} d ago`;
}

/** A trace id, linked to the trace UI when the gateway has one configured. */
export function traceLink(who: WhoAmI, traceId: string): Node {
  const code = h("code", null, traceId);
  if (!who.traceUrl) return code;
  return h("a", { href: who.traceUrl.replaceAll("{traceId}", encodeURIComponent(traceId)), target: "_blank", rel: "noopener" }, code);
}

/** A small label: ok (2xx), warn (truncated, retried) or err. */
export const badge = (text: string, kind: "ok" | "warn" | "err" | "" = ""): HTMLElement => h("span", { class: `badge ${kind}` }, text);

/** A definition list of the facts that are present (undefined values are left out). */
export function facts(rows: Array<[string, Child] | null | false>, inline = false): HTMLElement {
  const dl = h("dl", { class: inline ? "facts inline" : "facts" });
  for (const row of rows) {
    if (!row || row[1] === undefined || row[1] === null) continue;
    dl.append(h("div", null, h("dt", null, row[0]), h("dd", null, row[1])));
  }
  return dl;
}
