"""The Generate tab's beam search tree: beam search with the beam method's settings, every hypothesis it kept at
each step drawn as a tree."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..backend import Backend
from ..core.errors import RsdemoError
from ..insight.beam_tree import TREE_BEAMS, TREE_STEPS
from ..render.page import field_note
from ..render.page_runs import TREE_STALE, beam_tree_view
from .endpoints import _beam_tree_endpoint
from .errors import _user_errors
from .lang import tr
from .params import MethodPanel
from .share_export import SharePanel

__all__ = ["TreePanel"]


class TreePanel:
    """The Beam search tree accordion (built in the Generate tab's main column) and its ``draw_tree`` event."""

    def __init__(self) -> None:
        with gr.Accordion(tr("Beam search tree"), open=False, elem_id="rs-tree"):
            gr.Markdown(
                tr("tree.legend", beams=TREE_BEAMS, steps=TREE_STEPS),
                elem_classes=["rs-legend"],
            )
            self.go = gr.Button(tr("Draw the beam tree"), elem_id="rs-tree-go")
            self.note = gr.HTML(elem_id="rs-tree-note", elem_classes=["rs-note"])
            self.view = gr.HTML(elem_id="rs-tree-view")
            self.exports = SharePanel(prefix="rs-tree")
        self.kept = gr.State(None)  # the last tree, for its export

    def wire(self, backend: Backend, panel: MethodPanel, *, settings: list[Any], pool: dict[str, Any]) -> None:
        """The button, then ``/beam_tree``. ``settings``: the model, prompt and chat boxes."""
        self.backend, self.panel = backend, panel
        self.go.click(
            self.draw_tree,
            [*settings, *panel.inputs],
            [self.view, self.note, self.kept],
            api_visibility="private",
            show_progress="minimal",
            **pool,
        )
        _beam_tree_endpoint(backend, pool)

    @_user_errors
    def draw_tree(self, model_key: str, prompt_text: str, use_chat: bool, *values: Any) -> tuple[Any, ...]:
        """Beam search recorded step by step (the beam method's parameters), drawn as a tree."""
        try:
            result = self.backend.beam_tree(
                model=model_key,
                prompt=prompt_text,
                chat=bool(use_chat),
                params=self.panel.collect("beam", values),
                progress=gr.Info,
            )
        except RsdemoError as err:  # the note sits just above, beside the button: the tree's settings are there
            return TREE_STALE, field_note(err), None
        return (*beam_tree_view(result), result)
