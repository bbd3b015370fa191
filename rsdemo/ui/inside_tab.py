"""The Inside tab: the model's own numbers on a prompt. The next-token distribution through each stage of a
decoding method, and how surprising each prompt token is given what precedes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from ..arguments import whole
from ..backend import Backend
from ..catalog import DEFAULT_MODEL
from ..core.errors import RsdemoError
from ..decoding import INSIDE_PARAMS
from ..generation import token_segments
from ..render import render_generation, render_stages, render_surprisal_stats
from ..render.page_runs import GEN_STALE, STAGES_STALE
from .endpoints import INSIDE_PROMPT, _inside_endpoints
from .errors import _generation_notes, _user_errors
from .hub import _model_info
from .lang import tr, tr_choices
from .params import MethodPanel
from .serving import _generation_pool
from .share_export import SharePanel

__all__ = ["InsideTab"]


class InsideTab:
    """Prompt surprisal and the next-token distribution through each stage of a decoding method: the tab's
    components (built inside its ``gr.Tab``), its callbacks and its events, wired as it is built."""

    def __init__(self, backend: Backend, js_tokens: str) -> None:
        self.backend = backend
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self.prompt = gr.Textbox(
                    value=INSIDE_PROMPT,
                    label=tr("Prompt"),
                    lines=3,
                    max_lines=10,
                    elem_id="rs-in-prompt",
                    elem_classes=["rs-first"],
                )
                self.prompt_note = gr.HTML(elem_id="rs-in-prompt-note", elem_classes=["rs-note", "rs-first"])
                self.go = gr.Button(
                    tr("Look inside"), variant="primary", elem_id="rs-in-go", elem_classes=["rs-after-side"]
                )
                gr.Markdown(tr("in.stages"))
                self.stages_view = gr.HTML(elem_id="rs-in-stages")
                gr.Markdown(tr("in.surprisal"))
                self.stats = gr.HTML(elem_id="rs-in-stats")
                self.view = gr.HTML(elem_id="rs-in-surprisal", js_on_load=js_tokens)
                self.exports = SharePanel(prefix="rs-in")
            with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
                self._settings()
        self._wire(_generation_pool(backend.settings))

    def _settings(self) -> None:
        backend = self.backend
        hub_off = backend.hub_problem(probe=False)
        self.model = gr.Dropdown(
            choices=backend.model_choices_here(hub_problem=hub_off),
            value=DEFAULT_MODEL,
            label=tr("Model"),
            info=tr(_model_info(hub_off, scored=True)),
            allow_custom_value=True,
            elem_id="rs-in-model",
        )
        self.model_note = gr.HTML(elem_id="rs-in-model-note", elem_classes=["rs-note"])
        self.chat = gr.Checkbox(value=False, label=tr("in.chat"), elem_id="rs-in-chat")
        self.method = gr.Dropdown(
            choices=tr_choices(backend.method_choices()),
            value="top_p",
            label=tr("Decoding method"),
            elem_id="rs-in-method",
        )
        # the repetition penalty, the seed (XTC's draw) and, in "More samplers", DRY, XTC, Mirostat ... and the order
        self.panel = MethodPanel(prefix="rs-in-p-", selected="top_p", common=INSIDE_PARAMS)
        self.position = gr.Number(
            value=0,
            label=tr("After token # (0: the whole prompt)"),  # checked by rsdemo, not Gradio
            info=tr("in.position_info"),
            elem_id="rs-in-position",
        )
        self.probes = gr.Textbox(
            label=tr("Probe words or tokens (one per line)"),
            value="Paris\nLondon",
            lines=2,
            info=tr("in.probes_info"),
            elem_id="rs-in-probes",
        )
        self.settings_note = gr.HTML(elem_id="rs-in-settings-note", elem_classes=["rs-note"])

    def _wire(self, pool: dict[str, Any]) -> None:
        """Every event of the tab and its endpoints, in the order Gradio numbers them."""
        panel = self.panel
        inputs = [self.model, self.prompt, self.chat, self.method, self.probes, self.position, *panel.inputs]
        notes = [self.prompt_note, self.model_note, self.settings_note]
        look_outputs = [self.stages_view, self.stats, self.view, *notes]
        page = {"api_visibility": "private", "show_progress": "minimal", **pool}
        self.go.click(self.look, inputs, look_outputs, **page)
        self.prompt.submit(self.look, inputs, look_outputs, trigger_mode="once", **page)
        self.method.change(self.show_method, [self.method], panel.groups, api_visibility="private", queue=False)
        for control in (self.method, self.probes, self.position, *panel.inputs):
            control.change(self.restage, inputs, [self.stages_view, *notes], trigger_mode="always_last", **page)
        _inside_endpoints(self.backend, pool)

    def stages_html(
        self,
        model_key: str,
        text: str,
        use_chat: bool,
        method_key: str,
        probe_text: str,
        values: Sequence[Any],
        progress: Callable[[str], None] | None = None,
    ) -> str:
        """The next-token stages (``values``: the position, then the panel's inputs)."""
        where, *values = values
        result = self.backend.next_token(
            model=model_key,
            prompt=text,
            chat=bool(use_chat),
            method=method_key,
            params=self.panel.collect(method_key, values),
            probes=probe_text or "",
            position=whole(where, name="After token #", minimum=0, also=" (0: after the whole prompt)"),
            progress=progress,
        )
        return render_stages(result.view, pieces=result.pieces, probes=result.probes)

    @_user_errors
    def look(self, model_key: str, text: str, use_chat: bool, method_key: str, probe_text: str, *values: Any) -> tuple:
        """Score the prompt (one forward pass), then show the next-token stages and the prompt's surprisal."""
        try:
            staged = self.stages_html(model_key, text, use_chat, method_key, probe_text, values, progress=gr.Info)
            scored = self.backend.surprisal(model=model_key, prompt=text, chat=bool(use_chat))
        except RsdemoError as err:
            return ("", "", GEN_STALE, *_generation_notes(err, run_beside_settings=True))
        tokens = scored.tokens
        return (
            staged,
            render_surprisal_stats(scored.surprisal, texts=[t.text for t in tokens]),
            render_generation(token_segments(tokens), tokens, distribution="raw"),
            "",
            "",
            "",
        )

    @_user_errors
    def restage(
        self, model_key: str, text: str, use_chat: bool, method_key: str, probe_text: str, *values: Any
    ) -> tuple:
        """A method, parameter or probe changed: the stages again from the kept forward pass."""
        try:
            return (self.stages_html(model_key, text, use_chat, method_key, probe_text, values), "", "", "")
        except RsdemoError as err:
            return (STAGES_STALE, *_generation_notes(err, run_beside_settings=True))

    def show_method(self, key: str) -> list[Any]:
        return self.panel.shown(key)
