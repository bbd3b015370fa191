// Runs once per token-view component (gr.HTML js_on_load): `element` is the component's root.
// Clicking a token fills the details panel next to it; everything is written with textContent.
element.addEventListener("click", function (event) {
  const tok = event.target.closest(".rs-tok[data-d]");
  if (!tok) return;
  const view = tok.closest(".rs-view");
  const panel = view && view.querySelector(".rs-details");
  if (!panel) return;
  view.querySelectorAll(".rs-sel").forEach(function (el) { el.classList.remove("rs-sel"); });
  tok.classList.add("rs-sel");
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
    caption.textContent = "Segment " + JSON.stringify(data.text);
    panel.appendChild(caption);
    data.gen.forEach(function (t) {
      const line = document.createElement("div");
      line.className = "rs-gen-line";
      line.textContent = "token " + t.id + " " + JSON.stringify(t.piece) + ": p = " + pct(t.prob) +
        (t.raw_prob !== null && t.raw_prob !== t.prob ? " (raw model " + pct(t.raw_prob) + ")" : "");
      panel.appendChild(line);
      panel.appendChild(table(["alternative", "id", "p"], t.alternatives.map(function (a) {
        return [JSON.stringify(a[0]), String(a[2]), pct(a[1])];
      })));
    });
    return;
  }
  caption.textContent = "Segment " + JSON.stringify(data.text) + " (token #" + data.first + ")";
  panel.appendChild(caption);
  panel.appendChild(table(["id", "piece", "bytes"], data.tokens.map(function (t) {
    return [String(t.id), JSON.stringify(t.piece), t.bytes];
  })));
});
