// Conversations `#/conversations?q=<id prefix>` and Conversation `#/conversations/<id>` (the history-cost curve,
// then the turns in order with their messages or sizes).
import type { ConversationDetail, ConversationList, ConversationTurn } from "./api-types.js";
import { getJson, getKey, request } from "./api.js";
import { Chart } from "./chart.js";
import type { Ctx } from "./dom.js";
import { DASH, badge, facts, fmtAgo, fmtCompact, fmtInt, fmtTime, fmtUsd, h, poll, replace, setText } from "./dom.js";
import { turnHref } from "./turns.js";

const convHref = (id: string): string => `#/conversations/${encodeURIComponent(id)}`;

export function conversationsPage(ctx: Ctx): HTMLElement {
  const input = h("input", { id: "conv-q", type: "search", placeholder: "e.g. sess_", autocomplete: "off", spellcheck: "false",
    "data-testid": "conversation-search", value: ctx.query.get("q") ?? "" });
  const body = h("tbody");
  const empty = h("p", { class: "empty", hidden: true }, "No conversations.");
  const el = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Conversations")),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      h("div", { class: "field grow" }, h("label", { for: "conv-q" }, "Id starts with"), input)),
    h("div", { class: "table-wrap" }, h("table", { "data-testid": "conversations-list" },
      h("caption", { class: "sr-only" }, "Conversations, most recent first"),
      h("thead", null, h("tr", null, ["Id", "Kind", "Tenant", "Model", "Turns", "Last activity"]
        .map((t, i) => h("th", { scope: "col", class: i === 4 ? "num" : "" }, t)))),
      body)),
    empty);

  let shown = "";
  let seq = 0;
  const refresh = async (): Promise<void> => {
    const mine = ++seq;
    const q = input.value.trim();
    const list = await getJson<ConversationList>(`api/conversations?q=${encodeURIComponent(q)}`, ctx.signal);
    const sig = JSON.stringify(list);
    // Rebuilding would drop the focus of a link in the table: wait until it leaves.
    if (mine !== seq || sig === shown || body.contains(document.activeElement)) return;
    shown = sig;
    body.replaceChildren(...list.conversations.map((c) =>
      h("tr", { "data-testid": "conversation-row", "data-conversation-id": c.id, class: "clickable",
        onclick: (e) => {
          if (!(e.target instanceof HTMLAnchorElement)) location.hash = convHref(c.id);
        } },
      h("th", { scope: "row" }, h("a", { href: convHref(c.id) }, h("code", null, c.id))),
      h("td", null, c.kind.replaceAll("_", " ")), h("td", null, c.tenant), h("td", null, c.model), h("td", { class: "num" }, fmtInt(c.turns)),
      h("td", { title: fmtTime(c.lastAt) }, fmtAgo(c.lastAt)))));
    empty.hidden = list.conversations.length > 0;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const q = new URLSearchParams();
      if (input.value.trim()) q.set("q", input.value.trim());
      ctx.setQuery(q);
      void refresh().catch(() => undefined);
    }, 250);
  });
  poll(ctx.signal, 3000, refresh);
  return el;
}

function message(who: string, m: ConversationTurn["user"]): HTMLElement | null {
  if (!m) return null;
  return h("div", { class: `msg ${who.toLowerCase()}` }, h("span", { class: "msg-who" }, who),
    m.text !== undefined ? h("p", { class: "msg-text" }, m.text) : h("p", { class: "muted" }, `${fmtInt(m.chars)} characters`));
}

function turnItem(t: ConversationTurn): HTMLElement {
  const title = t.turnId ? h("a", { href: turnHref(t.turnId) }, `Turn ${t.turn}`) : `Turn ${t.turn}`;
  return h("li", { class: "card conv-turn", "data-testid": "conversation-turn", "data-turn": t.turn },
    h("div", { class: "conv-turn-head" }, h("h3", null, title), t.at ? h("span", { class: "muted" }, fmtTime(t.at)) : null,
      t.httpStatus && t.httpStatus >= 400 ? badge(String(t.httpStatus), "err") : null,
      t.finishReason ? badge(t.finishReason, t.finishReason === "stop" ? "" : "warn") : null,
      t.truncation ? badge(`truncated: ${t.truncation}`, "warn") : null,
      t.trimmedTurns ? badge(`history trimmed: ${t.trimmedTurns} turns`, "warn") : null,
      t.calls !== undefined && t.calls > 1 ? badge(`${t.calls} calls: sent again after a failure`, "warn") : null),
    h("p", { class: "muted" }, [
      `prompt ${t.promptTokens === undefined ? DASH : fmtInt(t.promptTokens)}`,
      `output ${t.outputTokens === undefined ? DASH : fmtInt(t.outputTokens)}`,
      `thinking ${t.thoughtsTokens === undefined ? DASH : fmtInt(t.thoughtsTokens)}`,
      `cost ${fmtUsd(t.costUsd)}`].join(" · ")),
    message("User", t.user), message("Model", t.model));
}

async function download(path: string, id: string): Promise<void> {
  const key = getKey() ?? "";
  // The session API takes the key as the SDKs send it; the console API as a bearer token: send both.
  const text = await (await request(path, undefined, { "x-goog-api-key": key })).text();
  let json = text;
  try {
    json = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // keep the bytes as they came
  }
  const url = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  const a = h("a", { href: url, download: `conversation-${id.replace(/[^\w.-]+/g, "_")}.json`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function conversationPage(ctx: Ctx, id: string): HTMLElement {
  const back = h("p", null, h("a", { href: "#/conversations" }, "← Conversations"));
  const head = h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Conversation ", h("code", null, id)));
  const info = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const chart = new Chart({ testid: "chart-conversation", title: "Tokens per turn (the history's cost)", xFormat: (n) => `turn ${n}`,
    yFormat: fmtCompact, series: [{ name: "prompt", label: "Prompt", color: 0 }, { name: "output", label: "Output", color: 3 }] });
  const turns = h("ol", { class: "conv-turns" });
  const el = h("section", { class: "page" }, back, head, info, chart.el, turns);

  let shown = "";
  const render = (c: ConversationDetail): void => {
    const sig = JSON.stringify(c);
    if (sig === shown) return;
    const first = !shown;
    shown = sig;
    if (first && c.exportPath) {
      const path = c.exportPath;
      head.append(h("button", { type: "button", "data-testid": "export", onclick: () => void download(path, c.id).catch(() => undefined) }, "Export"));
    }
    replace(info, facts([
      ["Kind", c.kind.replaceAll("_", " ")], ["Tenant", c.tenant], ["Model", c.model], ["Turns", fmtInt(c.turns)],
      ["Trimmed turns", c.trimmedTurns !== undefined ? fmtInt(c.trimmedTurns) : undefined],
      ["Turn cap", c.maxTurns !== undefined ? fmtInt(c.maxTurns) : undefined], ["Last activity", `${fmtTime(c.lastAt)} (${fmtAgo(c.lastAt)})`],
      ["Recent turns", h("a", { href: `#/turns?conversation=${encodeURIComponent(c.id)}` }, "in the turns table")]], true),
      c.contentShown ? null : h("p", { class: "muted" }, "Message texts are shown only with content capture on (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT): here, their sizes."));
    chart.update(c.turnList.map((t) => t.turn), [c.turnList.map((t) => t.promptTokens ?? null), c.turnList.map((t) => t.outputTokens ?? null)]);
    turns.replaceChildren(...c.turnList.map(turnItem));
  };
  poll(ctx.signal, 5000, async () => {
    try {
      render(await getJson<ConversationDetail>(`api/conversations/${encodeURIComponent(id)}`, ctx.signal));
    } catch (error) {
      if (!shown) setText(info, "Could not load this conversation.");
      throw error;
    }
  });
  return el;
}
