"""The Generate tab's method arena: 2 to 4 methods (on one or more engines) on the same prompt, model and seed,
side by side; the table and the views grow as the runs finish."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from ..backend import Backend
from ..core.errors import RsdemoError
from ..render.page import field_note
from ..render.page_runs import GEN_STALE, arena_views
from .endpoints import _arena_endpoint
from .errors import _user_errors
from .lang import tr, tr_choices
from .params import MethodPanel
from .serving import _visitor
from .share_export import SharePanel

__all__ = ["ArenaPanel"]


class ArenaPanel:
    """The Method arena accordion (built in the Generate tab's main column) and its ``run_arena`` event."""

    def __init__(self, backend: Backend, js_tokens: str) -> None:
        with gr.Accordion(tr("Method arena: 2 to 4 methods side by side"), open=False, elem_id="rs-arena"):
            self.methods = gr.Dropdown(
                choices=tr_choices(backend.method_choices()),
                value=["greedy", "top_p", "beam"],
                multiselect=True,
                max_choices=4,
                label=tr("arena.methods"),
                elem_id="rs-arena-methods",
            )
            self.engines = gr.Dropdown(
                choices=[(e.capabilities.label, name) for name, e in backend.engines.items()],
                value=[],
                multiselect=True,
                label=tr("Engines (optional)"),
                info=tr("arena.engines_info"),
                elem_id="rs-arena-engines",
            )
            self.go = gr.Button(tr("Run side by side"), elem_id="rs-arena-go")
            self.note = gr.HTML(elem_id="rs-arena-note", elem_classes=["rs-note"])
            self.table = gr.HTML(elem_id="rs-arena-table")
            self.view = gr.HTML(elem_id="rs-arena-view", js_on_load=js_tokens)
            self.exports = SharePanel(prefix="rs-arena")
        self.kept = gr.State(None)  # the last arena, for its export

    def wire(self, backend: Backend, panel: MethodPanel, *, settings: list[Any], pool: dict[str, Any]) -> None:
        """The button, then ``/arena``. ``settings``: the model, prompt and chat boxes (and the panel's common
        parameters: every method runs with its own defaults)."""
        self.backend, self.panel = backend, panel
        self.go.click(
            self.run_arena,
            [*settings, self.methods, self.engines, *panel.common_inputs],
            [self.table, self.view, self.note, self.kept],
            api_visibility="private",
            show_progress="minimal",
            **pool,
        )
        _arena_endpoint(backend, pool)

    @_user_errors
    def run_arena(
        self,
        request: gr.Request,
        model_key: str,
        prompt_text: str,
        use_chat: bool,
        chosen: list[str],
        on: list[str],
        *values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        """Each chosen method (on each chosen engine) in turn on the same prompt, model and seed; the table and views
        grow as they finish."""
        common = self.panel.common_values(values)
        try:
            for step in self.backend.arena(
                model=model_key,
                prompt=prompt_text,
                methods=chosen or [],
                params=common,
                chat=bool(use_chat),
                visitor=_visitor(request),
                engines=on or None,
            ):
                yield (*arena_views(step), "", step)
        except RsdemoError as err:
            yield "", GEN_STALE, field_note(err), None
