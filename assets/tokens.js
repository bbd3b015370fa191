// Runs once per token-view component (gr.HTML js_on_load): `element` is the component's root.
// Clicking a token (or Enter / Space on the focused one) fills the details panel next to it; arrow keys,
// Home and End move between tokens (one Tab stop per view: a roving tabindex). Written with textContent only.
element.addEventListener("click", function (event) {
  const tok = event.target.closest(".rs-tok[data-d]");
  if (tok) select(tok);
});
element.addEventListener("keydown", function (event) {
  const tok = event.target.closest && event.target.closest(".rs-tok[data-d]");
  if (!tok) return;
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    select(tok);
    return;
  }
  const all = Array.from(tok.closest(".rs-tokens").querySelectorAll(".rs-tok[data-d]"));
  const at = all.indexOf(tok);
  const to = {ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: all.length - 1}[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const next = all[Math.max(0, Math.min(all.length - 1, to))];
  tok.setAttribute("tabindex", "-1");
  next.setAttribute("tabindex", "0");
  next.focus();
});

function setInput(selector, value) {
  const input = document.querySelector(selector);
  if (!input) return;
  input.value = String(value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

function branchFrom(run, index, tokenId) {
  // fill the branch controls (which run, at which token, which token instead) and ask for the branch
  setInput("#rs-branch-from input", run);
  setInput("#rs-branch-at input", index + 1);
  setInput("#rs-branch-token textarea, #rs-branch-token input", tokenId);
  const go = document.querySelector("#rs-branch-go");
  if (go) setTimeout(function () { go.click(); }, 150);
}

function quoted(s) {
  // a string as JSON, with bidi controls and invisible characters written as \uXXXX: a U+202E in a token must not
  // reorder the details panel, and a U+200D must be seen
  return JSON.stringify(s).replace(/[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, function (c) {
    return "\\u" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  });
}

function select(tok) {
  const view = tok.closest(".rs-view");
  const panel = view && view.querySelector(".rs-details");
  if (!panel) return;
  view.querySelectorAll(".rs-sel").forEach(function (el) { el.classList.remove("rs-sel"); el.removeAttribute("aria-pressed"); });
  view.querySelectorAll('.rs-tok[tabindex="0"]').forEach(function (el) { el.setAttribute("tabindex", "-1"); });
  tok.classList.add("rs-sel");
  tok.setAttribute("aria-pressed", "true");
  tok.setAttribute("tabindex", "0");
  const data = JSON.parse(tok.dataset.d);
  panel.textContent = "";
  function table(headers, rows) {
    const t = document.createElement("table");
    const head = t.insertRow();
    headers.forEach(function (h) { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); });
    rows.forEach(function (r) { const row = t.insertRow(); r.forEach(function (v) { row.insertCell().textContent = v; }); });
    return t;
  }
  function pct(p) { return p === null || p === undefined ? "?" : (100 * p).toFixed(2) + "%"; }
  const caption = document.createElement("div");
  if (data.gen) {  // a generated token: its probability and the alternatives
    caption.textContent = "Segment " + quoted(data.text);
    panel.appendChild(caption);
    data.gen.forEach(function (t) {
      const line = document.createElement("div");
      line.className = "rs-gen-line";
      line.textContent = (t.index !== undefined ? "#" + (t.index + 1) + " · " : "") + "token " + t.id + " " +
        quoted(t.piece) + ": p = " + pct(t.prob) +
        (t.raw_prob !== null && t.raw_prob !== t.prob ? " (raw model " + pct(t.raw_prob) + ")" : "");
      panel.appendChild(line);
      if (t.second) {  // transformers' own numbers at this token (a run another engine made)
        const other = document.createElement("div");
        other.className = "rs-gen-line" + (t.second.differs ? " rs-disagree-line" : "");
        other.textContent = "transformers: p = " + pct(t.second.prob) + (t.second.differs
          ? "; it ranks " + quoted(t.second.top) + " first (" + pct(t.second.top_prob) + ")"
          : "; it ranks the same token first");
        panel.appendChild(other);
      }
      const alts = table(["alternative", "id", "p"], t.alternatives.map(function (a) {
        return [quoted(a[0]), String(a[2]), pct(a[1])];
      }));
      panel.appendChild(alts);
      const branchable = view.dataset.run !== undefined && document.querySelector("#rs-branch-go");
      if (branchable) {
        const hint = document.createElement("div");
        hint.className = "rs-legend";
        hint.textContent = "Click an alternative to branch: continue from it instead of this token.";
        panel.appendChild(hint);
        Array.from(alts.rows).slice(1).forEach(function (row, n) {
          if (t.alternatives[n][2] === t.id) {  // the token the run took: nothing to branch to
            row.classList.add("rs-taken");
            row.title = "the token this run took";
            return;
          }
          row.classList.add("rs-branchable");
          row.tabIndex = 0;
          row.addEventListener("click", function () { branchFrom(view.dataset.run, t.index, t.alternatives[n][2]); });
          row.addEventListener("keydown", function (e) {
            if (e.key === "Enter" || e.key === " ") { e.preventDefault(); branchFrom(view.dataset.run, t.index, t.alternatives[n][2]); }
          });
        });
      }
    });
    return;
  }
  if (view.closest("#rs-view") && document.querySelector("#rs-explain-go")) {
    // the Tokenize tab: "Why this split" replays this token (its index goes to Python through the panel's box)
    setInput("#rs-explain-at input", data.first);
    setTimeout(function () { document.querySelector("#rs-explain-go").click(); }, 150);
  }
  // the text and the pieces are .rs-keep: the page's language script translates the words around them only
  const shown = document.createElement("span");
  shown.className = "rs-keep";
  shown.textContent = quoted(data.text);
  caption.append("Segment ", shown, " (token #" + data.first + ")");
  panel.appendChild(caption);
  const pieces = table(["id", "piece", "UTF-8 bytes"], data.tokens.map(function (t) {
    return [String(t.id), quoted(t.piece), t.bytes];
  }));
  Array.from(pieces.rows).slice(1).forEach(function (row) { row.cells[1].className = "rs-keep"; });
  panel.appendChild(pieces);
}
