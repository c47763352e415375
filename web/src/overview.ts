// Overview `#/`: tiles over the last 5 minutes, charts of the last hour, spend and error tables; polled every 3 s,
// every element built once and updated in place.
import type { Overview } from "./api-types.js";
import { getJson } from "./api.js";
import { Chart } from "./chart.js";
import type { Child, Ctx } from "./dom.js";
import { DASH, fmtClock, fmtCompact, fmtInt, fmtMs, fmtNum, fmtPct, fmtTime, fmtUsd, h, poll, setText } from "./dom.js";

/** TOKEN_KINDS of api-types.ts (a value: copied, the page imports types only). */
const TOKEN_KINDS = ["input", "cached", "output", "thoughts", "tool_use"] as const;
const KIND_LABELS = { input: "Input", cached: "Cached", output: "Output", thoughts: "Thinking", tool_use: "Tool use" };

function tile(label: string): { el: HTMLElement; set(value: string, sub?: string): void } {
  const value = h("span", { class: "tile-value" }, DASH);
  const sub = h("span", { class: "tile-sub" });
  return {
    el: h("div", { class: "tile" }, h("span", { class: "tile-label" }, label), value, sub),
    set(v, note = "") {
      setText(value, v);
      setText(sub, note);
    },
  };
}

function table(caption: string, headers: string[]): { el: HTMLElement; set(rows: Child[][], empty: string): void } {
  const body = h("tbody");
  const el = h("div", { class: "table-wrap" }, h("table", null, h("caption", null, caption),
    h("thead", null, h("tr", null, headers.map((t, i) => h("th", { scope: "col", class: i ? "num" : "" }, t)))), body));
  return {
    el,
    set(rows, empty) {
      const trs = rows.map(([head, ...cells]) => h("tr", null, h("th", { scope: "row" }, head), cells.map((c) => h("td", { class: "num" }, c))));
      body.replaceChildren(...(trs.length ? trs : [h("tr", null, h("td", { colspan: headers.length, class: "empty" }, empty))]));
    },
  };
}

export function overviewPage(ctx: Ctx): HTMLElement {
  const time = { xFormat: fmtClock };
  const charts = {
    requests: new Chart({ ...time, testid: "chart-requests", title: "Requests & errors per second", yFormat: fmtNum,
      series: [{ name: "requests", label: "Requests", color: 0 }, { name: "errors", label: "Errors", color: 1 }] }),
    tokens: new Chart({ ...time, testid: "chart-tokens", title: "Tokens per second by kind", stacked: true, yFormat: fmtCompact,
      series: TOKEN_KINDS.map((k, i) => ({ name: k, label: KIND_LABELS[k], color: [0, 2, 3, 4, 5][i] ?? 0 })) }),
    spend: new Chart({ ...time, testid: "chart-spend", title: "Spend per bucket", stacked: true, yFormat: fmtUsd,
      series: [{ name: "spend", label: "USD", color: 2 }] }),
    truncation: new Chart({ ...time, testid: "chart-truncation", title: "Truncation rate by cause", stacked: true, yFormat: fmtPct,
      series: [{ name: "output_limit", label: "Output limit", color: 4 }, { name: "thinking", label: "Thinking", color: 3 }] }),
    ratelimits: new Chart({ ...time, testid: "chart-ratelimits", title: "429s & retries per bucket", yFormat: fmtNum,
      series: [{ name: "rateLimited", label: "429s", color: 1 }, { name: "retries", label: "Retries", color: 4 }] }),
    latency: new Chart({ ...time, testid: "chart-latency", title: "Latency", yFormat: fmtMs,
      series: [{ name: "p50", label: "p50", color: 0 }, { name: "p95", label: "p95", color: 3 }] }),
  };
  const tiles = {
    rps: tile("Requests/s"), tps: tile("Tokens/s"), spend: tile("Spend today"), trunc: tile("Truncation rate"),
    limited: tile("429s"), retries: tile("Retries"), errors: tile("Errors"), p50: tile("Latency p50"), p95: tile("Latency p95"),
  };
  const byModel = table("Spend by model", ["Model", "Today", "Last hour"]);
  const byTenant = table("Spend by tenant", ["Tenant", "Today", "Last hour"]);
  const errors = table("Errors by type (last hour)", ["Type", "Count"]);
  const updated = h("span", { class: "muted", "data-testid": "overview-source" }, "Loading…");

  const el = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Overview"), updated),
    h("div", { class: "tiles" }, Object.values(tiles).map((t) => t.el)),
    h("div", { class: "charts" }, Object.values(charts).map((c) => c.el)),
    h("div", { class: "tables" }, byModel.el, byTenant.el, errors.el));

  const render = (o: Overview): void => {
    const r = o.recent;
    const sec = o.bucketSeconds;
    const perSec = (values: number[]): number[] => values.map((v) => v / sec);
    const tps = TOKEN_KINDS.reduce((sum, k) => sum + r.tokensPerSecond[k], 0);
    const lastHour = o.spend.byModel.reduce((sum, m) => sum + m.lastHourUsd, 0);
    tiles.rps.set(fmtNum(r.requestsPerSecond), "last 5 min");
    tiles.tps.set(fmtNum(tps), `in ${fmtNum(r.tokensPerSecond.input + r.tokensPerSecond.cached)} · out ${fmtNum(r.tokensPerSecond.output)}`);
    tiles.spend.set(fmtUsd(o.spend.todayUsd), `last hour ${fmtUsd(lastHour)}`);
    tiles.trunc.set(fmtPct(r.truncationRate), "last 5 min");
    tiles.limited.set(fmtInt(r.rateLimited), "last 5 min");
    tiles.retries.set(fmtInt(r.retries), "last 5 min");
    tiles.errors.set(fmtInt(r.errors), "last 5 min");
    tiles.p50.set(fmtMs(r.latencyP50Ms), "last 5 min");
    tiles.p95.set(fmtMs(r.latencyP95Ms), "last 5 min");

    const s = o.series;
    const bucket = sec % 60 === 0 ? `${sec / 60} min` : `${sec} s`;
    charts.requests.update(o.t, [perSec(s.requests), perSec(s.errors)]);
    charts.tokens.update(o.t, TOKEN_KINDS.map((k) => perSec(s.tokens[k])));
    charts.spend.setTitle(`Spend per ${bucket}`);
    charts.spend.update(o.t, [s.costUsd]);
    const rate = (values: number[]): number[] => values.map((v, i) => (s.responses[i] ? v / (s.responses[i] ?? 1) : 0));
    charts.truncation.update(o.t, [rate(s.truncations.output_limit), rate(s.truncations.thinking)]);
    charts.ratelimits.setTitle(`429s & retries per ${bucket}`);
    charts.ratelimits.update(o.t, [s.rateLimited, s.retries]);
    charts.latency.update(o.t, [s.latencyP50Ms, s.latencyP95Ms]);

    byModel.set(o.spend.byModel.map((m) => [m.model, fmtUsd(m.todayUsd), fmtUsd(m.lastHourUsd)]), "No spend today");
    byTenant.set(o.spend.byTenant.map((t) => [t.tenant, fmtUsd(t.todayUsd), fmtUsd(t.lastHourUsd)]), "No spend today");
    errors.set(o.errorsByType.map((e) => [e.type, fmtInt(e.count)]), "No errors in the last hour");
    const source = o.source === "prometheus" ? "the fleet (Prometheus)" : o.sourceError ? `this replica (Prometheus: ${o.sourceError})` : "this replica";
    setText(updated, `Last hour of ${source}, ${bucket} buckets · updated ${fmtTime(o.now)}`);
  };

  poll(ctx.signal, 3000, async () => render(await getJson<Overview>("api/overview", ctx.signal)));
  return el;
}
