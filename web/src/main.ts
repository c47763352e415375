// The operator console, served at /ui/ (web/index.html loads js/main.js): the key, the header, hash routing.
//
// Access: `/ui/#key=<k>` stores the key in sessionStorage and drops it from the URL; else the stored key; else the
// key form. Every API call sends `Authorization: Bearer <key>`; a 401/403 clears the key and shows the form again.
//
// Routes: #/ overview · #/turns?tenant=&model=&route=&finishReason=&error=&conversation= · #/turns/<id>
//         #/conversations?q= · #/conversations/<id>
//
// Test hooks (data-testid, stable):
//   key-form, key-input          the sign-in form and its password input (Enter submits)
//   key-error                    in the form: the 401/403 message that brought it back
//   whoami                       header badge: "admin" or "tenant: <name>"
//   sign-out, theme-toggle       header buttons
//   error-banner                 fixed banner with the last API error (hidden when the next call succeeds)
//   chart-requests   <path data-series="requests|errors">          per second
//   chart-tokens     <path data-series="input|cached|output|thoughts|tool_use">  stacked, per second
//   chart-spend      <path data-series="spend">                    USD per bucket
//   chart-truncation <path data-series="output_limit|thinking">    stacked share of responses
//   chart-ratelimits <path data-series="rateLimited|retries">      per bucket
//   chart-latency    <path data-series="p50|p95">                  ms (gaps where null)
//     every chart is an <svg>; a series' `d` is non-empty once there is at least one bucket/turn
//   turns-table, turn-row[data-turn-id]   rows have tabindex=0; click or Enter opens #/turns/<id>
//   filter-tenant, filter-model, filter-route, filter-finishReason, filter-error   <select>s (value "" = all)
//   attempts, attempt            the turn page's attempt list (<ol>) and its items
//   conversation-search          the conversations page's search box (id prefix)
//   conversations-list, conversation-row[data-conversation-id]
//   chart-conversation <path data-series="prompt|output">  tokens per turn
//   conversation-turn[data-turn] one per turn, in order; export   the Export button (sessions only)
import type { WhoAmI } from "./api-types.js";
import { ApiError, clearKey, getJson, getKey, hooks, setKey } from "./api.js";
import { conversationPage, conversationsPage } from "./conversations.js";
import type { Ctx } from "./dom.js";
import { h, setText } from "./dom.js";
import { overviewPage } from "./overview.js";
import { turnPage, turnsPage } from "./turns.js";

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

const main = byId<HTMLElement>("main");
const header = byId<HTMLElement>("top");
const banner = byId<HTMLElement>("error-banner");
const whoBadge = byId<HTMLElement>("whoami");
const themeButton = byId<HTMLButtonElement>("theme-toggle");
const menuButton = byId<HTMLButtonElement>("menu-toggle");

let who: WhoAmI | null = null;
let page: AbortController | null = null;

// ---- theme: the system's unless toggled (remembered in localStorage)
const THEME_ITEM = "gcg.console.theme";
const isDark = (): boolean =>
  (document.documentElement.dataset.theme ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")) === "dark";
function applyTheme(theme: string | null): void {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  const next = isDark() ? "light" : "dark";
  themeButton.setAttribute("aria-label", `Switch to the ${next} theme`);
  setText(themeButton, isDark() ? "☀ Light" : "☾ Dark");
}
themeButton.addEventListener("click", () => {
  const theme = isDark() ? "light" : "dark";
  try {
    localStorage.setItem(THEME_ITEM, theme);
  } catch {
    // storage refused: the toggle lasts for this page only
  }
  applyTheme(theme);
});
try {
  applyTheme(localStorage.getItem(THEME_ITEM));
} catch {
  applyTheme(null);
}

menuButton.addEventListener("click", () => {
  const open = !header.classList.contains("open");
  header.classList.toggle("open", open);
  menuButton.setAttribute("aria-expanded", String(open));
});

// ---- errors: one banner, cleared by the next successful call; 401/403 ask for a key
hooks.ok = () => {
  banner.hidden = true;
};
hooks.failed = (error: ApiError) => {
  if (error.unauthorized) signOut(error.message);
  else {
    setText(banner, error.message);
    banner.hidden = false;
  }
};

function signOut(message?: string): void {
  clearKey();
  who = null;
  page?.abort();
  page = null;
  document.body.classList.remove("signed-in");
  banner.hidden = true;
  const input = h("input", { id: "key-input", type: "password", "data-testid": "key-input", autocomplete: "off", required: true });
  main.replaceChildren(h("form", { class: "card key-form", "data-testid": "key-form",
    onsubmit: (e) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      setKey(input.value.trim());
      void start();
    } },
  h("h1", null, "Gateway console"),
  h("p", null, "Enter a gateway key: an admin key sees all traffic, a tenant key its own."),
  message ? h("p", { class: "form-error", role: "alert", "data-testid": "key-error" }, message) : null,
  h("label", { for: "key-input" }, "Key"),
  h("div", { class: "row" }, input, h("button", { type: "submit" }, "Open"))));
  document.title = "Sign in · Gemini gateway";
  input.focus();
}
byId("sign-out").addEventListener("click", () => signOut());
byId("skip").addEventListener("click", (e) => {
  e.preventDefault(); // the fragment is the router's
  main.focus();
});

async function start(): Promise<void> {
  if (!getKey()) return signOut();
  main.replaceChildren(h("p", { class: "muted" }, "Connecting…"));
  try {
    who = await getJson<WhoAmI>("api/whoami");
  } catch (error) {
    if (error instanceof ApiError && !error.unauthorized)
      main.replaceChildren(h("p", null, "The console could not start. ", h("button", { type: "button", onclick: () => void start() }, "Retry")));
    return;
  }
  setText(whoBadge, who.role === "admin" ? "admin" : `tenant: ${who.tenant ?? "?"}`);
  document.body.classList.add("signed-in");
  route(false);
}

// ---- routing
function route(focus = true): void {
  if (!who) return;
  page?.abort();
  page = new AbortController();
  header.classList.remove("open");
  menuButton.setAttribute("aria-expanded", "false");
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path = "/", qs = ""] = raw.split("?", 2);
  let parts: string[];
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    parts = ["?"];
  }
  const ctx: Ctx = {
    who,
    signal: page.signal,
    query: new URLSearchParams(qs),
    setQuery: (q) => history.replaceState(null, "", `#${path}${q.toString() ? `?${q.toString()}` : ""}`),
  };
  const [section, id] = parts;
  let view: HTMLElement;
  let title: string;
  if (!section) [view, title] = [overviewPage(ctx), "Overview"];
  else if (section === "turns" && id) [view, title] = [turnPage(ctx, id), `Turn ${id}`];
  else if (section === "turns") [view, title] = [turnsPage(ctx), "Turns"];
  else if (section === "conversations" && id) [view, title] = [conversationPage(ctx, id), `Conversation ${id}`];
  else if (section === "conversations") [view, title] = [conversationsPage(ctx), "Conversations"];
  else [view, title] = [h("section", { class: "page" }, h("h1", { tabindex: -1 }, "Not found"), h("p", null, h("a", { href: "#/" }, "Overview"))), "Not found"];
  for (const link of header.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (link.dataset.section === (section ?? "")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${title} · Gemini gateway`;
  main.replaceChildren(view);
  if (focus) view.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}
addEventListener("hashchange", () => route());

// ---- first load: a key in the fragment (what the demo prints) is stored and removed from the URL
const rawHash = location.hash.replace(/^#/, "");
const [hashPath = "/", hashQuery = ""] = rawHash.startsWith("/") ? rawHash.split("?", 2) : ["/", rawHash];
const hashParams = new URLSearchParams(hashQuery);
const fragmentKey = hashParams.get("key");
if (fragmentKey) {
  setKey(fragmentKey);
  hashParams.delete("key");
  const rest = hashParams.toString();
  history.replaceState(null, "", `${location.pathname}${location.search}#${hashPath}${rest ? `?${rest}` : ""}`);
}
void start();
