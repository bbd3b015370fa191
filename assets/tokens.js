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
  const caption = document.createElement("div");
  caption.textContent = "Segment " + JSON.stringify(data.text) + " (token #" + data.first + ")";
  panel.appendChild(caption);
  const table = document.createElement("table");
  table.className = "rs-details-table";
  const head = table.insertRow();
  ["id", "piece", "bytes"].forEach(function (h) {
    const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
  });
  data.tokens.forEach(function (t) {
    const row = table.insertRow();
    [String(t.id), JSON.stringify(t.piece), t.bytes].forEach(function (v) { row.insertCell().textContent = v; });
  });
  panel.appendChild(table);
});
