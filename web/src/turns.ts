// Turns `#/turns?tenant=&model=&route=&finishReason=&error=` (live table, filters in the hash query) and
// Turn `#/turns/<id>` (everything in TurnDetail).
import type { AttemptView, TurnDetail, TurnList, TurnSummary } from "./api-types.js";
import { getJson } from "./api.js";
import type { Child, Ctx } from "./dom.js";
import { DASH, append, badge, facts, fmtInt, fmtMs, fmtTime, fmtUsd, h, poll, replace, setText, traceLink } from "./dom.js";

const FILTERS = [
  ["tenant", "Tenant", "tenants"],
  ["model", "Model", "models"],
  ["route", "Route", "routes"],
  ["finishReason", "Finish reason", "finishReasons"],
  ["error", "Error", "errors"],
] as const;

export const turnHref = (id: string): string => `#/turns/${encodeURIComponent(id)}`;

function status(t: TurnSummary): HTMLElement {
  if (t.refusedBy) return badge(`${t.httpStatus} refused: ${t.refusedBy}`, "err");
  if (t.httpStatus >= 400 || t.errorType) return badge(t.errorType ? `${t.httpStatus} ${t.errorType}` : String(t.httpStatus), "err");
  return badge(String(t.httpStatus), "ok");
}

function finish(t: { finishReason?: string; truncation?: string }): Child[] {
  const cut = t.truncation ? badge(t.truncation, "warn") : null;
  cut?.setAttribute("title", "truncation cause");
  return [t.finishReason ? badge(t.finishReason, t.finishReason === "stop" ? "" : "warn") : null, cut];
}

function rowCells(t: TurnSummary): HTMLElement[] {
  const k = t.tokens;
  return [
    h("td", { title: new Date(t.at).toISOString() }, fmtTime(t.at)),
    h("td", null, t.tenant),
    h("td", null, t.model),
    h("td", null, t.route, t.stream && !/stream/i.test(t.route) ? h("span", { class: "muted" }, " · stream") : null),
    h("td", null, status(t)),
    h("td", null, t.finishReason || t.truncation ? finish(t) : DASH),
    h("td", { class: "num", title: `input ${k.input}, cached ${k.cached}, output ${k.output}, thoughts ${k.thoughts}, tool use ${k.tool_use}` },
      `${fmtInt(k.input + k.cached)} / ${fmtInt(k.output)} / ${fmtInt(k.thoughts)}`),
    h("td", { class: "num" }, fmtUsd(t.costUsd)),
    h("td", { class: "num" }, fmtMs(t.latencyMs)),
    h("td", { class: "num" }, t.retries ? `${t.attempts} / ${t.retries}` : String(t.attempts)),
  ];
}

function fillSelect(select: HTMLSelectElement, values: string[], current = select.value): void {
  const all = current && !values.includes(current) ? [current, ...values] : values;
  const key = all.join("\n");
  if (select.dataset.options === key) return;
  select.dataset.options = key;
  select.replaceChildren(h("option", { value: "" }, "All"), ...all.map((v) => h("option", { value: v }, v)));
  select.value = current;
}

export function turnsPage(ctx: Ctx): HTMLElement {
  const selects = FILTERS.map(([param, label, facet]) => {
    const select = h("select", { id: `filter-${param}`, "data-testid": `filter-${param}`, onchange: () => changed() });
    const initial = ctx.query.get(param) ?? "";
    fillSelect(select, initial ? [initial] : [], initial);
    return { param, facet, select, field: h("div", { class: "field" }, h("label", { for: `filter-${param}` }, label), select) };
  });
  const conversation = ctx.query.get("conversation");
  const body = h("tbody");
  const empty = h("p", { class: "empty", hidden: true }, "No turns match.");
  const note = h("p", { class: "muted", "aria-live": "polite" });
  const el = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Turns"), note),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, selects.map((s) => s.field),
      conversation ? h("p", null, "Conversation ", h("a", { href: `#/conversations/${encodeURIComponent(conversation)}` }, conversation)) : null),
    h("div", { class: "table-wrap" }, h("table", { class: "turns", "data-testid": "turns-table" },
      h("caption", { class: "sr-only" }, "Recent turns, newest first; Enter opens a turn"),
      h("thead", null, h("tr", null, ["Time", "Tenant", "Model", "Route", "Status", "Finish", "Tokens in / out / think", "Cost", "Latency", "Tries / retries"]
        .map((t, i) => h("th", { scope: "col", class: i >= 6 ? "num" : "" }, t)))),
      body)),
    empty);

  let seq = 0;
  const params = (): URLSearchParams => {
    const q = new URLSearchParams();
    for (const { param, select } of selects) if (select.value) q.set(param, select.value);
    if (conversation) q.set("conversation", conversation);
    return q;
  };
  const refresh = async (): Promise<void> => {
    const mine = ++seq;
    const q = params();
    q.set("limit", "100");
    const list = await getJson<TurnList>(`api/turns?${q.toString()}`, ctx.signal);
    if (mine !== seq) return; // a newer request (filter change) is on its way
    for (const { facet, select } of selects) fillSelect(select, list.facets[facet]);
    render(list);
  };
  const changed = (): void => {
    ctx.setQuery(params());
    void refresh().catch(() => undefined);
  };

  // Keyed update: rows that stay keep their element (and focus); new ones are inserted where they belong.
  const rows = new Map<string, HTMLTableRowElement>();
  const render = (list: TurnList): void => {
    const ids = new Set(list.turns.map((t) => t.id));
    for (const [id, row] of rows) {
      if (ids.has(id)) continue;
      row.remove();
      rows.delete(id);
    }
    for (const [i, t] of list.turns.entries()) {
      let row = rows.get(t.id);
      const sig = JSON.stringify(t);
      if (!row) {
        const open = (): void => void (location.hash = turnHref(t.id));
        row = h("tr", { tabindex: 0, "data-testid": "turn-row", "data-turn-id": t.id, onclick: open,
          onkeydown: (e) => {
            if ((e as KeyboardEvent).key === "Enter") open();
          } });
        rows.set(t.id, row);
      }
      if (row.dataset.sig !== sig) {
        row.dataset.sig = sig;
        row.replaceChildren(...rowCells(t));
      }
      if (body.children[i] !== row) body.insertBefore(row, body.children[i] ?? null);
    }
    empty.hidden = list.turns.length > 0;
    setText(note, `${fmtInt(list.turns.length)} turns shown, newest first · the gateway keeps the last ${fmtInt(list.capacity)}`);
  };

  poll(ctx.signal, 3000, refresh);
  return el;
}

function attempt(a: AttemptView, i: number, t: TurnDetail): HTMLElement {
  const span = Math.max(t.latencyMs, 1);
  const bar = h("span", { class: a.httpStatus && a.httpStatus < 400 ? "ok" : "err" });
  bar.style.left = `${Math.min(100, Math.max(0, ((a.startedAt - t.at) / span) * 100))}%`;
  bar.style.width = `${Math.max(0.5, Math.min(100, (a.durationMs / span) * 100))}%`;
  return h("li", { "data-testid": "attempt", class: "attempt" },
    h("div", null, h("strong", null, `Attempt ${i + 1}`), " ", badge(a.outcome, a.outcome === "ok" || a.outcome === "success" ? "ok" : "warn"),
      a.httpStatus ? ` HTTP ${a.httpStatus}` : "", ` · ${fmtMs(a.durationMs)} · started +${fmtMs(a.startedAt - t.at)}`,
      a.quota ? h("span", null, " · quota ", h("code", null, a.quota)) : null),
    h("div", { class: "timeline", "aria-hidden": "true" }, bar),
    a.retry ? h("p", { class: "retry" }, `↻ retried after ${fmtMs(a.retry.delayMs)} · reason: ${a.retry.reason} · delay from: ${a.retry.source}`) : null);
}

export function turnPage(ctx: Ctx, id: string): HTMLElement {
  const back = h("p", null, h("a", { href: "#/turns" }, "← Turns"));
  const title = h("h1", { tabindex: -1 }, "Turn ", h("code", null, id)); // kept across the load (it may have the focus)
  const head = h("div", { class: "page-head" }, title);
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", { class: "page" }, back, head, body);
  getJson<TurnDetail>(`api/turns/${encodeURIComponent(id)}`, ctx.signal).then((t) => {
    const k = t.tokens;
    const conv = t.conversationId
      ? [h("a", { href: `#/conversations/${encodeURIComponent(t.conversationId)}` }, t.conversationId), t.sessionTurn ? ` · turn ${t.sessionTurn}` : ""]
      : undefined;
    append(head, [status(t), finish(t)]);
    replace(body,
      h("div", { class: "detail" },
        h("section", { class: "card" }, h("h2", null, "Call"), facts([
          ["Time", new Date(t.at).toLocaleString()], ["Tenant", t.tenant], ["Model", t.model], ["Model version", t.modelVersion],
          ["Route", t.route], ["Operation", t.operation], ["API version", t.apiVersion], ["Streaming", t.stream ? "yes" : "no"],
          ["Response id", t.responseId && h("code", null, t.responseId)], ["Trace", t.traceId && traceLink(ctx.who, t.traceId)],
          ["Conversation", conv], ["History trimmed", t.trimmedTurns !== undefined ? `${t.trimmedTurns} turns` : undefined]])),
        h("section", { class: "card" }, h("h2", null, "Outcome"), facts([
          ["HTTP status", String(t.httpStatus)], ["Error type", t.errorType], ["Refused by", t.refusedBy],
          ["Finish reason", t.finishReason], ["Truncation cause", t.truncation], ["Block reason", t.blockReason],
          ["Rate-limited quota", t.rateLimitedQuota], ["Retry budget", t.retryBudgetExhausted ? "exhausted" : undefined],
          ["Client", t.clientAborted ? "aborted the call" : undefined], ["Cost", fmtUsd(t.costUsd)]])),
        h("section", { class: "card" }, h("h2", null, "Timing"), facts([
          ["Latency", fmtMs(t.latencyMs)], ["First chunk", t.firstChunkMs !== undefined ? fmtMs(t.firstChunkMs) : undefined],
          ["Gateway overhead", t.gatewayOverheadMs !== undefined ? fmtMs(t.gatewayOverheadMs) : undefined],
          ["Attempts", String(t.attempts)], ["Retries", String(t.retries)]])),
        h("section", { class: "card" }, h("h2", null, "Tokens"), h("table", { class: "compact" },
          h("tbody", null, (["input", "cached", "output", "thoughts", "tool_use", "total"] as const).map((kind) =>
            h("tr", null, h("th", { scope: "row" }, kind.replace("_", " ")), h("td", { class: "num" }, fmtInt(k[kind])))))))),
      h("section", { class: "card" }, h("h2", null, "Attempts"),
        h("ol", { class: "attempts", "data-testid": "attempts" }, t.attemptList.map((a, i) => attempt(a, i, t)))),
      t.generationConfig ? h("section", { class: "card" }, h("h2", null, "Generation config"),
        h("pre", null, JSON.stringify(t.generationConfig, null, 2))) : null);
  }, (error: unknown) => setText(body, `Could not load this turn${error instanceof Error ? `: ${error.message}` : "."}`));
  return el;
}
