// rsdemo's page in Chinese or English (rsdemo/i18n/__init__.py): the language switch, ?lang=, and the HTML the
// server renders in English, swapped text node by text node from the catalog (window.RS_I18N, set just before).
(() => {
  if (window.__rsI18n) return;
  window.__rsI18n = true;
  const CAT = window.RS_I18N || { exact: {}, patterns: [] };
  const PATTERNS = CAT.patterns.map(([src, zh, names]) => [new RegExp("^(?:" + src + ")$", "s"), zh, names]);
  const SKIP = "textarea, input, code, pre, script, style, svg, .rs-tok, .rs-keep, [contenteditable]";
  const ATTRS = ["data-label", "title"];
  const texts = new WeakMap(); // text node -> {en, shown}
  const attrs = new WeakMap(); // element -> {attr: {en, shown}}
  const lang = () => ((document.documentElement.lang || "").toLowerCase().startsWith("zh") ? "zh" : "en");
  let touched = false; // anything swapped yet (an English page never walks the DOM)

  function zhOf(en) {
    const s = en.trim();
    if (!s) return null;
    let out = CAT.exact[s];
    if (out === undefined) {
      for (const [re, zh, names] of PATTERNS) {
        const m = re.exec(s);
        if (!m) continue;
        out = zh.replace(/\{(\w+)\}/g, (_, n) => {
          const v = m[names.indexOf(n) + 1];
          return zhOf(v) ?? v;
        });
        break;
      }
    }
    return out === undefined ? null : en.replace(s, out);
  }

  function swap(rec, current, L) {
    if (!rec || current !== rec.shown) rec = { en: current }; // new English from the server or Gradio
    rec.shown = L === "zh" ? zhOf(rec.en) ?? rec.en : rec.en;
    return rec;
  }

  function visit(root, L) {
    if (!root) return;
    if (root.nodeType === Node.TEXT_NODE) {
      const el = root.parentElement;
      if (!el || el.closest(SKIP)) return;
      const rec = swap(texts.get(root), root.nodeValue, L);
      texts.set(root, rec);
      if (root.nodeValue !== rec.shown) root.nodeValue = rec.shown;
      if (rec.shown !== rec.en) touched = true;
      return;
    }
    if (root.nodeType !== Node.ELEMENT_NODE || root.closest(SKIP)) return;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        n.nodeType === Node.ELEMENT_NODE && n.matches(SKIP) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    for (let n = root; n; n = walker.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) {
        visit(n, L);
        continue;
      }
      for (const a of ATTRS) {
        if (!n.hasAttribute(a)) continue;
        const all = attrs.get(n) || {};
        const rec = swap(all[a], n.getAttribute(a), L);
        all[a] = rec;
        attrs.set(n, all);
        if (n.getAttribute(a) !== rec.shown) n.setAttribute(a, rec.shown);
        if (rec.shown !== rec.en) touched = true;
      }
    }
  }

  let pending = new Set();
  let all = false;
  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const L = lang();
      const roots = all ? [document.body] : [...pending];
      pending = new Set();
      all = false;
      if (L === "en" && !touched) return;
      for (const r of roots) if (r.isConnected) visit(r, L);
    });
  }
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes" && r.attributeName === "lang") all = true;
      else if (r.type === "childList") r.addedNodes.forEach((n) => pending.add(n));
      else pending.add(r.target);
    }
    schedule();
  }).observe(document.documentElement, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["lang", ...ATTRS],
  });

  // Gradio's own locale (its labels, its buttons, our gr.I18n strings): its changeLocale, from its core module
  async function gradioCore() {
    const match = (u) => /\/assets\/core-[\w-]+\.js(\?.*)?$/.test(u);
    const url =
      performance.getEntriesByType("resource").map((e) => e.name).find(match) ||
      [...document.querySelectorAll("link[rel=modulepreload], script[src]")].map((e) => e.href || e.src).find(match);
    return url ? import(url) : null;
  }
  async function setLang(L) {
    const core = await gradioCore();
    if (core && core.changeLocale) core.changeLocale(L === "zh" ? "zh-CN" : "en");
    else document.documentElement.lang = L === "zh" ? "zh-CN" : "en";
  }
  window.rsSetLang = setLang;

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-rs-lang-switch]");
    if (!button) return;
    const next = lang() === "zh" ? "en" : "zh";
    const url = new URL(window.location.href);
    url.searchParams.set("lang", next);
    history.replaceState(history.state, "", url.toString());
    setLang(next);
  });

  const asked = new URLSearchParams(window.location.search).get("lang");
  const wanted = asked
    ? asked.toLowerCase().startsWith("zh") ? "zh" : "en"
    : (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : null;
  if (wanted && wanted !== lang()) setLang(wanted);
  all = true;
  schedule();
})();
