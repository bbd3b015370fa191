"""The Layers tab's "Two models on one text": each side's model and engine, the text, and the view of where each
model is surprised (``rsdemo.insight.model_diff_pass``, drawn by ``rsdemo.render.model_diff``).

``PAGE_LANG_JS`` is the events' browser-side preprocessor for the whole tab: it puts the page's language (``en`` or
``zh``, as ``rsdemo/i18n/page.js`` set it) in the first input, so the views are drawn in the page's language.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..backend import Backend
from ..catalog import DEFAULT_MODEL, MODELS
from ..core.errors import RsdemoError
from ..insight.model_diff_pass import ENGINES, model_diff, model_diff_pass
from ..loading.assembled import model_installed
from ..render.model_diff import render_model_diff
from ..render.page import STALE, field_note
from .errors import _user_errors
from .lang import tr

__all__ = ["DIFF_TEXT", "PAGE_LANG_JS", "ModelDiffPanel"]

DIFF_TEXT = "The capital of France is Paris. The Eiffel Tower was built in 1889 for the World's Fair."
PAGE_LANG_JS = (
    "(...args) => [(document.documentElement.lang || '').toLowerCase().startsWith('zh') ? 'zh' : 'en', "
    "...args.slice(1)]"
)


def _second_side(engines: list[str]) -> tuple[str, str]:
    """Model B's default: the opt-in Gemma where it is installed, else the embedded model on llama.cpp (the same
    model in other arithmetic), else the embedded model again."""
    gemma = MODELS.get("gemma3-270m", None)
    if gemma is not None and model_installed(gemma):
        return gemma.key, "transformers"
    return DEFAULT_MODEL, "llama.cpp" if "llama.cpp" in engines else "transformers"


class ModelDiffPanel:
    """The panel's components (built where it is made), its callback; ``wire`` connects the button."""

    def __init__(self, backend: Backend, lang: gr.Textbox) -> None:
        self.backend, self.lang = backend, lang
        self.run = backend.insight.on_gpu(model_diff_pass)  # ZeroGPU: the two forward passes ask for a GPU
        gr.Markdown(tr("ly.diff"))
        models = backend.model_choices_here(hub_problem=backend.hub_problem(probe=False))
        engines = [(backend.engines[e].capabilities.label, e) for e in ENGINES if e in backend.engines]
        other, other_engine = _second_side([e for _, e in engines])
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self.text = gr.Textbox(value=DIFF_TEXT, label=tr("ly.diff_text"), lines=3, elem_id="rs-ly-diff-text")
                self.go = gr.Button(tr("ly.diff_go"), variant="primary", elem_id="rs-ly-diff-go")
                self.note = gr.HTML(elem_id="rs-ly-diff-note", elem_classes=["rs-note"])
            with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
                with gr.Row():
                    self.model_a = gr.Dropdown(
                        choices=models, value=DEFAULT_MODEL, label=tr("ly.model_a"), allow_custom_value=True,
                        elem_id="rs-ly-model-a",
                    )  # fmt: skip
                    self.engine_a = gr.Dropdown(
                        choices=engines, value="transformers", label=tr("ly.engine_a"), elem_id="rs-ly-engine-a"
                    )
                with gr.Row():
                    self.model_b = gr.Dropdown(
                        choices=models, value=other, label=tr("ly.model_b"), allow_custom_value=True,
                        elem_id="rs-ly-model-b",
                    )  # fmt: skip
                    self.engine_b = gr.Dropdown(
                        choices=engines, value=other_engine, label=tr("ly.engine_b"), elem_id="rs-ly-engine-b"
                    )
        self.view = gr.HTML(elem_id="rs-ly-diff")

    def wire(self, page: dict[str, Any]) -> None:
        """The button runs both models (``page``: the tab's event options, with ``PAGE_LANG_JS``)."""
        inputs = [self.lang, self.model_a, self.engine_a, self.model_b, self.engine_b, self.text]
        self.go.click(self.run_diff, inputs, [self.view, self.note], **page)

    @_user_errors
    def run_diff(self, lang: str, model_a: str, engine_a: str, model_b: str, engine_b: str, text: str) -> tuple:
        """Each side's teacher-forced log-probabilities over the text, aligned by characters."""
        try:
            result = model_diff(
                service=self.backend,
                model_a=model_a,
                model_b=model_b,
                text=text,
                engine_a=engine_a,
                engine_b=engine_b,
                progress=gr.Info,
                run=self.run,
            )
        except RsdemoError as err:
            return STALE, field_note(err)
        return render_model_diff(result, lang=lang), ""
