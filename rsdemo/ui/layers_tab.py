"""The Layers tab: the logit lens (what each layer would predict), attention (where each head looked) and two
models on one text. One prompt and model at the top; each view runs one forward pass, keeps its numbers in the
session, and re-reads them when the visitor moves between positions, rows, layers and heads (no model call).

A click in the lens grid (``assets/layers.js``) writes the cell's position and row into the boxes beside it and
presses "Show the cell"; a click on a head of the attention overview focuses that head.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..arguments import whole
from ..backend import Backend
from ..catalog import DEFAULT_MODEL
from ..core.errors import RsdemoError
from ..insight import views
from ..insight.attention import MAX_ATTENTION_TOKENS, AttentionResult
from ..insight.lens import LensResult
from ..render.attention import render_attended_to, render_head, render_heads
from ..render.lens import render_lens_cell, render_lens_grid, render_probe_chart
from ..render.page import STALE, field_note
from .endpoints import INSIDE_PROMPT
from .errors import _user_errors
from .hub import _model_info
from .lang import tr
from .layers_endpoints import layers_endpoints
from .model_diff_panel import PAGE_LANG_JS, ModelDiffPanel
from .serving import _generation_pool
from .share_export import SharePanel

__all__ = ["LayersTab"]


def _index(value: Any, *, name: str, count: int, also: str) -> int:
    """A position or row the visitor typed: from 0, or negative from the end (-1: the last)."""
    return whole(value, name=name, minimum=-count, maximum=count - 1, also=also) % count


class LayersTab:
    """The tab's components (built inside its ``gr.Tab``), callbacks and events, wired as it is built."""

    def __init__(self, backend: Backend, js_layers: str) -> None:
        self.backend = backend
        self.lens_run = backend.insight.on_gpu(views.lens_pass)  # ZeroGPU: the forward pass asks for a GPU
        self.attention_run = backend.insight.on_gpu(views.attention_pass)
        gr.Markdown(tr("ly.intro"))
        limits = {"n": f"{backend.settings.max_scored_tokens:,}", "m": MAX_ATTENTION_TOKENS}
        gr.Markdown(tr("ly.max_tokens", **limits), elem_classes=["rs-note"])
        self.lang = gr.Textbox(value="en", visible=False, elem_id="rs-ly-lang")  # the page's, as PAGE_LANG_JS reads it
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self.prompt = gr.Textbox(
                    value=INSIDE_PROMPT, label=tr("ly.prompt"), lines=2, max_lines=8, elem_id="rs-ly-prompt"
                )
            with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
                hub_off = backend.hub_problem(probe=False)
                self.model = gr.Dropdown(
                    choices=backend.model_choices_here(hub_problem=hub_off),
                    value=DEFAULT_MODEL,
                    label=tr("Model"),
                    info=tr(_model_info(hub_off, scored=True)),
                    allow_custom_value=True,
                    elem_id="rs-ly-model",
                )
                self.chat = gr.Checkbox(value=False, label=tr("in.chat"), elem_id="rs-ly-chat")
        self.exports = SharePanel(prefix="rs-ly")  # wired by rsdemo.ui.layers_share
        self._lens(js_layers)
        self._attention(js_layers)
        self.diff = ModelDiffPanel(backend, self.lang)
        self._wire(_generation_pool(backend.settings))

    def _lens(self, js_layers: str) -> None:
        """The run button and the grid's settings, the grid across the page, then a cell's top 10 and the probes."""
        gr.Markdown(tr("ly.lens"))
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self.lens_go = gr.Button(tr("ly.lens_go"), variant="primary", elem_id="rs-ly-lens-go")
                self.lens_note = gr.HTML(elem_id="rs-ly-lens-note", elem_classes=["rs-note"])
                self.colour = gr.Radio(
                    choices=[(tr("ly.colour_prob"), "prob"), (tr("ly.colour_rank"), "rank")],
                    value="prob",
                    label=tr("ly.colour"),
                    elem_id="rs-ly-colour",
                )
            with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
                self.probes = gr.Textbox(
                    value="Paris\nLondon",
                    label=tr("ly.probes"),
                    info=tr("ly.probes_info"),
                    lines=2,
                    elem_id="rs-ly-probes",
                )
        self.lens_view = gr.HTML(elem_id="rs-ly-lens", js_on_load=js_layers)
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=1, min_width=300):
                with gr.Row():
                    self.cell_pos = gr.Number(
                        value=-1, label=tr("ly.cell_pos"), info=tr("ly.cell_pos_info"), elem_id="rs-ly-cell-pos"
                    )
                    self.cell_layer = gr.Number(
                        value=-1, label=tr("ly.cell_layer"), info=tr("ly.cell_layer_info"), elem_id="rs-ly-cell-layer"
                    )
                self.cell_go = gr.Button(tr("ly.cell_go"), elem_id="rs-ly-cell-go")
                self.cell_view = gr.HTML(elem_id="rs-ly-cell")
            with gr.Column(scale=1, min_width=300):
                self.probe_view = gr.HTML(elem_id="rs-ly-probe-chart")
        self.lens_state = gr.State(None)

    def _attention(self, js_layers: str) -> None:
        """The run button and the layer, head and token boxes; every head of the layer across the page; then the
        focused head's matrix and what the token attended to."""
        gr.Markdown(tr("ly.attention"))
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=1, min_width=240):
                self.attn_go = gr.Button(tr("ly.attn_go"), variant="primary", elem_id="rs-ly-attn-go")
                self.attn_note = gr.HTML(elem_id="rs-ly-attn-note", elem_classes=["rs-note"])
            with gr.Column(scale=2, min_width=300):
                with gr.Row():
                    self.layer = gr.Number(
                        value=1, label=tr("ly.layer"), info=tr("ly.layer_info"), elem_id="rs-ly-layer"
                    )
                    self.head = gr.Number(
                        value=-1, label=tr("ly.head"), info=tr("ly.head_info"), elem_id="rs-ly-head-n"
                    )
                    self.attn_pos = gr.Number(
                        value=-1, label=tr("ly.attn_pos"), info=tr("ly.attn_pos_info"), elem_id="rs-ly-attn-pos"
                    )
        self.heads_view = gr.HTML(elem_id="rs-ly-heads", js_on_load=js_layers)
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=1, min_width=300):
                self.head_view = gr.HTML(elem_id="rs-ly-head")
            with gr.Column(scale=1, min_width=300):
                self.to_view = gr.HTML(elem_id="rs-ly-attended")
        self.attn_state = gr.State(None)

    def _wire(self, pool: dict[str, Any]) -> None:
        page = {"api_visibility": "private", "show_progress": "minimal", "js": PAGE_LANG_JS, **pool}
        light = {"api_visibility": "private", "queue": False, "js": PAGE_LANG_JS}
        asked = [self.model, self.prompt, self.chat]
        self.lens_go.click(
            self.run_lens,
            [self.lang, *asked, self.colour, self.probes, self.cell_pos, self.cell_layer],
            [self.lens_view, self.cell_view, self.probe_view, self.lens_state, self.lens_note],
            **page,
        )
        self.colour.change(self.regrid, [self.lang, self.lens_state, self.colour], [self.lens_view], **light)
        cell = [self.lang, self.lens_state, self.cell_pos, self.cell_layer]
        self.cell_go.click(self.show_cell, cell, [self.cell_view, self.lens_note], **light)
        self.probes.submit(
            self.follow,
            [self.lang, self.lens_state, self.probes, self.cell_pos],
            [self.probe_view, self.lens_note],
            **page,
        )
        self.attn_go.click(
            self.run_attention,
            [self.lang, *asked, self.layer, self.head, self.attn_pos],
            [self.heads_view, self.head_view, self.to_view, self.attn_state, self.attn_note],
            **page,
        )
        for control in (self.layer, self.head, self.attn_pos):
            control.change(
                self.reattend,
                [self.lang, self.attn_state, self.layer, self.head, self.attn_pos],
                [self.heads_view, self.head_view, self.to_view, self.attn_note],
                trigger_mode="always_last",
                **light,
            )
        layers_endpoints(
            self.backend, pool, lens_run=self.lens_run, attention_run=self.attention_run, diff_run=self.diff.run
        )
        self.diff.wire(page)

    # the logit lens
    @_user_errors
    def run_lens(
        self, lang: str, model: str, prompt: str, chat: bool, colour: str, probes: str, pos: Any, layer: Any
    ) -> tuple:
        """One forward pass with every layer's hidden states; the grid, the cell asked for and the probes."""
        try:
            result = views.kept_lens(
                service=self.backend, model=model, prompt=prompt, chat=bool(chat), progress=gr.Info, run=self.lens_run
            )
        except RsdemoError as err:
            return STALE, "", "", None, field_note(err)
        grid = render_lens_grid(result, colour=colour if colour == "rank" else "prob", lang=lang)
        try:
            return grid, self._cell(lang, result, pos, layer), self._probes(lang, result, probes, pos), result, ""
        except RsdemoError as err:  # the grid stands; the cell or probe boxes are wrong
            return grid, "", "", result, field_note(err)

    @_user_errors
    def regrid(self, lang: str, result: LensResult | None, colour: str) -> str:
        if result is None:
            return STALE
        return render_lens_grid(result, colour=colour if colour == "rank" else "prob", lang=lang)

    @_user_errors
    def show_cell(self, lang: str, result: LensResult | None, pos: Any, layer: Any) -> tuple[str, str]:
        if result is None:
            return "", ""
        try:
            return self._cell(lang, result, pos, layer), ""
        except RsdemoError as err:
            return "", field_note(err)

    @_user_errors
    def follow(self, lang: str, result: LensResult | None, probes: str, pos: Any) -> tuple[str, str]:
        if result is None:
            return "", ""
        try:
            return self._probes(lang, result, probes, pos), ""
        except RsdemoError as err:
            return "", field_note(err)

    def _cell(self, lang: str, result: LensResult, pos: Any, layer: Any) -> str:
        at = _index(pos, name="Cell: position", count=len(result.ids), also=" (-1: the last token)")
        row = _index(layer, name="Cell: row", count=len(result.layers), also=" (-1: the last layer)")
        return render_lens_cell(result, position=at, layer=row, lang=lang)

    def _probes(self, lang: str, result: LensResult, probes: str, pos: Any) -> str:
        at = _index(pos, name="Cell: position", count=len(result.ids), also=" (-1: the last token)")
        found = views.lens_probe(service=self.backend, result=result, probes=probes or "", position=at)
        return render_probe_chart(found, layers=result.layers, lang=lang)

    # attention
    @_user_errors
    def run_attention(self, lang: str, model: str, prompt: str, chat: bool, layer: Any, head: Any, pos: Any) -> tuple:
        """One forward pass; every layer's and head's weights kept, the layer and head asked for drawn."""
        try:
            result = views.attention(
                service=self.backend,
                model=model,
                prompt=prompt,
                chat=bool(chat),
                progress=gr.Info,
                run=self.attention_run,
            )
        except RsdemoError as err:
            return STALE, "", "", None, field_note(err)
        *shown, note = self.reattend(lang, result, layer, head, pos)
        return (*shown, result, note)

    @_user_errors
    def reattend(
        self, lang: str, result: AttentionResult | None, layer: Any, head: Any, pos: Any
    ) -> tuple[str, str, str, str]:
        if result is None:
            return "", "", "", ""
        try:
            return (*self._attention_views(lang, result, layer, head, pos), "")
        except RsdemoError as err:
            return STALE, "", "", field_note(err)

    def _attention_views(
        self, lang: str, result: AttentionResult, layer: Any, head: Any, pos: Any
    ) -> tuple[str, str, str]:
        count = len(result.layers)
        number = whole(layer, name="Layer", minimum=1, maximum=count, also=f" (this model has {count} layers)")
        picked = whole(head, name="Head", minimum=-1, maximum=result.heads - 1, also=" (-1: the mean of all heads)")
        at = _index(pos, name="Token (position)", count=len(result.ids), also=" (-1: the last token)")
        one = None if picked < 0 else picked
        px = max(12, min(36, 480 // len(result.ids)))  # a short prompt's matrix drawn large enough to read
        return (  # the note that weights are not explanations: once, above the heads
            render_heads(result, layer=number, lang=lang),
            render_head(result, layer=number, head=0 if one is None else one, px=px, lang=lang, note=False),
            render_attended_to(result, position=at, layer=number, head=one, lang=lang, note=False),
        )
