// Runs once per Layers-tab view (gr.HTML js_on_load): `element` is the component's root.
// A click on a logit-lens cell writes its position and row into the boxes beside the grid and presses
// "Show the cell"; a click on a head of the attention overview focuses that head. Written with no innerHTML.
function rsLayersSet(selector, value) {
  const input = document.querySelector(selector);
  if (!input) return;
  input.value = String(value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new Event("change", { bubbles: true }));
}
element.addEventListener("click", function (event) {
  const cell = event.target.closest(".rs-lens-cell[data-pos]");
  if (cell) {
    element.querySelectorAll(".rs-lens-cell.rs-picked").forEach(function (c) { c.classList.remove("rs-picked"); });
    cell.classList.add("rs-picked");
    rsLayersSet("#rs-ly-cell-pos input", cell.dataset.pos);
    rsLayersSet("#rs-ly-cell-layer input", cell.dataset.layer);
    setTimeout(function () {
      const go = document.querySelector("#rs-ly-cell-go");
      if (go) go.click();
    }, 150);
    return;
  }
  const head = event.target.closest(".rs-attn-head[data-head]");
  if (head) rsLayersSet("#rs-ly-head-n input", head.dataset.head);
});
element.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" && event.key !== " ") return;
  const target = event.target.closest && event.target.closest(".rs-lens-cell[data-pos], .rs-attn-head[data-head]");
  if (!target) return;
  event.preventDefault();
  target.click();
});
