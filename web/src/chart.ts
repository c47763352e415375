// A small SVG time-series chart: lines (gaps at null) or stacked areas, a y axis with three gridlines, a few x
// labels and a hover tooltip. The SVG has a fixed CSS height; update() rewrites the paths' `d` and the axis labels
// in place and the chart redraws itself at its new width on resize.
import { DASH, h, s, setText } from "./dom.js";

export interface SeriesDef {
  /** Written as `data-series` on the series' <path>. */
  name: string;
  label: string;
  /** Palette slot: --c0 ... --c5 in style.css. */
  color: number;
}

export interface ChartSpec {
  testid: string;
  title: string;
  series: SeriesDef[];
  /** Stacked areas (each series on top of the previous ones); else lines. */
  stacked?: boolean;
  yFormat: (value: number) => string;
  xFormat: (x: number) => string;
}

const M = { left: 52, right: 10, top: 8, bottom: 20 };

/** 1, 2, 2.5 or 5 times a power of ten, at least `max`. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= max * 0.999999) return m * pow;
  return 10 * pow;
}

const f = (n: number): string => n.toFixed(1);

export class Chart {
  readonly el: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly title: HTMLElement;
  private readonly axes = s("g", { class: "axes" });
  private readonly paths: SVGPathElement[];
  private readonly cursor = s("line", { class: "cursor", visibility: "hidden" });
  private readonly tip = h("div", { class: "tip", hidden: true });
  private x: number[] = [];
  private data: Array<Array<number | null>> = [];
  private hover: number | null = null;

  constructor(private readonly spec: ChartSpec) {
    this.title = h("span", { class: "chart-title" }, spec.title);
    this.paths = spec.series.map((def) =>
      s("path", { "data-series": def.name, class: `${spec.stacked ? "area" : "line"} c${def.color}`, d: "" }),
    );
    this.svg = s("svg", { "data-testid": spec.testid, class: "chart", role: "img", "aria-label": spec.title },
      this.axes, ...this.paths, this.cursor);
    const legend = h("ul", { class: "legend" },
      spec.series.map((def) => h("li", null, h("span", { class: `swatch c${def.color}` }), def.label)));
    this.el = h("figure", { class: "chart-box" }, h("figcaption", null, this.title, legend),
      h("div", { class: "chart-wrap" }, this.svg, this.tip));
    this.svg.addEventListener("pointermove", (e) => this.pointer(e));
    this.svg.addEventListener("pointerleave", () => this.showTip(null));
    new ResizeObserver(() => this.draw()).observe(this.svg);
  }

  setTitle(title: string): void {
    setText(this.title, title);
    this.svg.setAttribute("aria-label", title);
  }

  /** `data[k]` is series k's values, one per x. */
  update(x: number[], data: Array<Array<number | null>>): void {
    this.x = x;
    this.data = data;
    this.draw();
    this.showTip(this.hover !== null && this.hover < x.length ? this.hover : null);
  }

  private geometry(): { w: number; ht: number; X: (i: number) => number } {
    const w = this.svg.clientWidth || 600;
    const ht = this.svg.clientHeight || 160;
    const n = this.x.length;
    const pw = w - M.left - M.right;
    return { w, ht, X: (i) => M.left + (n <= 1 ? pw / 2 : (i * pw) / (n - 1)) };
  }

  private draw(): void {
    const { w, ht, X } = this.geometry();
    this.svg.setAttribute("viewBox", `0 0 ${w} ${ht}`);
    const n = this.x.length;
    const ph = ht - M.top - M.bottom;
    // Stacked: each series' top is the running sum; lines: the values themselves.
    const tops: Array<Array<number | null>> = [];
    for (const [k, values] of this.data.entries()) {
      const below = tops[k - 1];
      tops.push(this.spec.stacked ? values.map((v, i) => (v ?? 0) + (below?.[i] ?? 0)) : values);
    }
    const max = niceMax(Math.max(0, ...tops.flat().map((v) => v ?? 0)));
    const Y = (v: number): number => M.top + ph - (v / max) * ph;

    const axes: SVGElement[] = [];
    for (const v of [0, max / 2, max]) {
      axes.push(s("line", { class: "grid", x1: M.left, x2: w - M.right, y1: f(Y(v)), y2: f(Y(v)) }));
      axes.push(s("text", { x: M.left - 6, y: f(Y(v) + 4), "text-anchor": "end" }, this.spec.yFormat(v)));
    }
    const ticks = Math.min(n, Math.max(2, Math.floor((w - M.left - M.right) / 110)));
    for (let t = 0; t < ticks; t++) {
      const i = ticks === 1 ? 0 : Math.round((t * (n - 1)) / (ticks - 1));
      const anchor = ticks > 1 && t === 0 ? "start" : ticks > 1 && t === ticks - 1 ? "end" : "middle";
      axes.push(s("text", { x: f(X(i)), y: ht - 5, "text-anchor": anchor }, this.spec.xFormat(this.x[i] ?? 0)));
    }
    if (n === 0) axes.push(s("text", { x: f(M.left + (w - M.left - M.right) / 2), y: f(M.top + ph / 2), "text-anchor": "middle" }, "No data yet"));
    this.axes.replaceChildren(...axes);

    for (const [k, path] of this.paths.entries()) {
      const top = tops[k] ?? [];
      let d = "";
      if (n > 0 && this.spec.stacked) {
        const below = tops[k - 1];
        d = top.map((v, i) => `${i ? "L" : "M"}${f(X(i))},${f(Y(v ?? 0))}`).join("");
        for (let i = n - 1; i >= 0; i--) d += `L${f(X(i))},${f(Y(below?.[i] ?? 0))}`;
        d += "Z";
      } else if (n > 0) {
        let pen = false;
        for (const [i, v] of top.entries()) {
          if (v === null || v === undefined) pen = false;
          else {
            d += `${pen ? "L" : "M"}${f(X(i))},${f(Y(v))}`;
            // A lone point (between gaps, or the only one) is drawn as a dot by the round line cap.
            if (!pen && (top[i + 1] === null || top[i + 1] === undefined)) d += "h0";
            pen = true;
          }
        }
      }
      path.setAttribute("d", d);
    }
  }

  private pointer(e: PointerEvent): void {
    const n = this.x.length;
    if (n === 0) return;
    const { w } = this.geometry();
    const px = e.clientX - this.svg.getBoundingClientRect().left;
    const i = n === 1 ? 0 : Math.round(((px - M.left) / (w - M.left - M.right)) * (n - 1));
    this.showTip(Math.min(n - 1, Math.max(0, i)));
  }

  private showTip(i: number | null): void {
    this.hover = i;
    if (i === null || this.x.length === 0) {
      this.tip.hidden = true;
      this.cursor.setAttribute("visibility", "hidden");
      return;
    }
    const { w, ht, X } = this.geometry();
    const x = X(i);
    for (const [a, v] of [["x1", x], ["x2", x], ["y1", M.top], ["y2", ht - M.bottom]] as const) this.cursor.setAttribute(a, f(v));
    this.cursor.setAttribute("visibility", "visible");
    this.tip.replaceChildren(h("strong", null, this.spec.xFormat(this.x[i] ?? 0)),
      ...this.spec.series.map((def, k) => {
        const v = this.data[k]?.[i];
        return h("div", null, h("span", { class: `swatch c${def.color}` }), `${def.label}: `,
          v === null || v === undefined ? DASH : this.spec.yFormat(v));
      }));
    this.tip.hidden = false;
    this.tip.style.left = x > w / 2 ? "" : `${x + 12}px`;
    this.tip.style.right = x > w / 2 ? `${w - x + 12}px` : "";
  }
}
