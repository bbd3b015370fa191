"""The Languages tab: what a language costs. The same passage in 32 languages through the chosen tokenizers, as a
heat map of tokens relative to English with the numbers under it; the visitor's own text can be one more row."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..backend import Backend
from ..core.errors import RsdemoError
from ..render.language_cost import render_language_cost
from ..render.page import STALE, field_note
from ..tokenization.language_cost import measure
from .endpoints import _language_cost_endpoint
from .errors import _field_of, _user_errors
from .lang import tr

__all__ = ["DEFAULT_LANGUAGE_TOKENIZERS", "LanguagesTab"]

DEFAULT_LANGUAGE_TOKENIZERS = ("gpt2", "cl100k_base", "o200k_base", "llama3", "qwen", "mistral-v1")


class LanguagesTab:
    """The tab's components (built inside its ``gr.Tab``) and its callback; ``wire`` connects the button, the
    tab's selection and the ``/language_cost`` endpoint."""

    def __init__(self, backend: Backend, *, choices: list[tuple[str, str]]) -> None:
        self.backend = backend
        gr.Markdown(tr("lang.intro"))
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=1, elem_classes=["rs-main"]):
                self.text = gr.Textbox(
                    value="",
                    label=tr("lang.own_text"),
                    placeholder=tr("lang.own_placeholder"),
                    lines=2,
                    max_lines=8,
                    elem_id="rs-lc-text",
                    elem_classes=["rs-first"],
                )
                self.text_note = gr.HTML(elem_id="rs-lc-text-note", elem_classes=["rs-note", "rs-first"])
            with gr.Column(scale=1, min_width=260, elem_classes=["rs-side"]):
                self.keys = gr.Dropdown(
                    choices=choices,
                    value=list(DEFAULT_LANGUAGE_TOKENIZERS),
                    multiselect=True,
                    max_choices=backend.settings.max_tokenizers,
                    label=tr("lang.tokenizers"),
                    elem_id="rs-lc-keys",
                )
                self.keys_note = gr.HTML(elem_id="rs-lc-keys-note", elem_classes=["rs-note"])
                self.btn = gr.Button(tr("lang.run"), variant="primary", elem_id="rs-lc-btn")
        self.view = gr.HTML(elem_id="rs-lc-view")

    def wire(self, light: dict[str, Any], *, tab: gr.Tab) -> None:
        """The button and the tab's first opening run the view; ``/language_cost`` is registered here."""
        event = dict(
            fn=self.language_view,
            inputs=[self.text, self.keys],
            outputs=[self.view, self.text_note, self.keys_note],
            api_visibility="private",
            **light,
        )
        self.btn.click(**event)
        tab.select(**event)
        _language_cost_endpoint(self.backend, light)

    @_user_errors
    def language_view(self, text: str, tokenizers: list[str]) -> tuple[str, str, str]:
        """The heat map and the numbers; a bad input is told beside its field and clears the old view."""
        try:
            table = measure(service=self.backend.tokenization, tokenizers=tokenizers or [], own_text=text or "")
        except RsdemoError as err:
            about_text = _field_of(err) == "text"
            return STALE, field_note(err) if about_text else "", "" if about_text else field_note(err)
        return render_language_cost(table), "", ""
