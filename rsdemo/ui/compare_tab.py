"""The Compare tab: one text through several tokenizers, a table of their stats and their token views, streamed
one tokenizer at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from ..backend import Backend
from ..core.errors import RsdemoError
from ..render.page import COMPARE_COLUMNS, STALE, compare_outputs, field_note
from .errors import _field_of, _user_errors
from .lang import tr
from .share_export import SharePanel
from .tokenize_tab import SAMPLE_TEXT

__all__ = ["DEFAULT_COMPARE", "CompareTab"]

DEFAULT_COMPARE = ("gpt2", "cl100k_base", "llama3", "mistral-v1", "bert-base-uncased")


class CompareTab:
    """The tab's components (built inside its ``gr.Tab``) and its callback; ``event`` is what its button, its
    settings and the page load run."""

    def __init__(self, backend: Backend, *, choices: list[tuple[str, str]], js_tokens: str) -> None:
        self.backend = backend
        settings = backend.settings
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self.text = gr.Textbox(
                    value=SAMPLE_TEXT,
                    label=tr("Text"),
                    lines=5,
                    max_lines=12,
                    elem_id="rs-cmp-text",
                    elem_classes=["rs-first"],
                )
                self.text_note = gr.HTML(elem_id="rs-cmp-text-note", elem_classes=["rs-note", "rs-first"])
            with gr.Column(scale=1, min_width=260, elem_classes=["rs-side"]):
                self.keys = gr.Dropdown(
                    choices=choices,
                    value=list(DEFAULT_COMPARE),
                    multiselect=True,
                    max_choices=settings.max_compare,
                    label=tr("cmp.tokenizers", lo=settings.min_compare, hi=settings.max_compare),
                    elem_id="rs-cmp-keys",
                )
                self.keys_note = gr.HTML(elem_id="rs-cmp-keys-note", elem_classes=["rs-note"])
                self.special = gr.Checkbox(label=tr("Add special tokens"), value=False, elem_id="rs-cmp-special")
                self.ws = gr.Checkbox(label=tr("Show whitespace"), value=False, elem_id="rs-cmp-ws")
                self.btn = gr.Button(tr("Compare"), variant="primary", elem_id="rs-cmp-btn")
        self.table = gr.Dataframe(
            headers=list(COMPARE_COLUMNS),
            interactive=False,
            elem_id="rs-cmp-table",
            elem_classes=["rs-desktop-only"],  # a phone gets the same rows as cards (compare_outputs)
        )
        self.view = gr.HTML(elem_id="rs-cmp-view", js_on_load=js_tokens)
        self.exports = SharePanel(prefix="rs-cmp")

    @property
    def inputs(self) -> list[gr.components.Component]:
        """The text and the settings, in the order ``compare_view`` takes them."""
        return [self.text, self.keys, self.special, self.ws]

    @property
    def controls(self) -> tuple[gr.components.Component, ...]:
        """The settings whose change compares again (the text does not: the button does)."""
        return (self.keys, self.special, self.ws)

    def event(self, light: dict[str, Any]) -> dict[str, Any]:
        """The compare event's arguments, for the button, the settings' changes and the page load."""
        return dict(
            fn=self.compare_view,
            inputs=self.inputs,
            outputs=[self.table, self.view, self.text_note, self.keys_note],
            api_visibility="private",
            **light,
        )

    @_user_errors
    def compare_view(
        self, text: str, tokenizers: list[str], add_special_tokens: bool, show_whitespace: bool
    ) -> Iterator[tuple[Any, ...]]:
        """Streams one tokenizer at a time, so a visitor who leaves stops the work between tokenizers."""
        try:
            steps = self.backend.compare_steps(
                text=text, tokenizers=tokenizers or [], add_special_tokens=bool(add_special_tokens)
            )
            for result in steps:
                yield (*compare_outputs(result, bool(show_whitespace)), "", "")
        except RsdemoError as err:
            field = _field_of(err)
            empty = gr.update(value=[])
            yield (empty, STALE, field_note(err) if field == "text" else "", field_note(err) if field != "text" else "")
