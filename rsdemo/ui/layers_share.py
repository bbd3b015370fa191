"""The Layers tab's "Copy link" and "Export", and a ``view=layers`` link reopened.

A link carries the model, the prompt, the chat setting, the probe words, the lens cell's position, and attention's
layer and head (``rsdemo.share``); a page load with one puts them back, opens the tab and runs the logit lens and the
attention view again (the same numbers: no randomness in either). Export writes what was drawn: the lens and
attention replies from the kept numbers (no new forward pass), the views' HTML as a file and a PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ..api.views import attention_reply, lens_reply
from ..backend import Backend
from ..share import parse_share_query
from .model_diff_panel import PAGE_LANG_JS
from .share_export import _joined, _link_out, _nothing, _share, export_files

__all__ = ["wire_layers_share"]

_PRIVATE = {"api_visibility": "private"}


def _number(value: Any) -> int | None:
    """A whole number the page holds, or ``None`` (not a number, or negative: the default, "the last")."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 and number == value else None


def _link(base: str, model: str, prompt: str, chat: bool, probes: str, pos: Any, layer: Any, head: Any) -> tuple:
    fields = {
        "view": "layers",
        "model": model,
        "chat": chat,
        "probes": probes or None,
        "position": _number(pos),
        "layer": _number(layer) or None,
        "head": _number(head),
    }
    return _link_out(*_share(base, {**fields, "prompt": prompt}))


def _export(model: str, prompt: str, lens: Any, attention: Any, layer: Any, head: Any, pos: Any, *views: str) -> tuple:
    """The replies from the kept results (the lens, and attention at the layer, head and token drawn)."""
    if lens is None and attention is None:
        return _nothing("Nothing to export yet: run the logit lens or the attention view first.")
    reply: dict[str, Any] = {}
    if lens is not None:
        reply["logit_lens"] = lens_reply(lens, ())
    if attention is not None:
        number = _number(layer)
        number = number if number is not None and 1 <= number <= len(attention.layers) else 1
        one = _number(head)
        at = _number(pos)
        at = at if at is not None and at < len(attention.ids) else len(attention.ids) - 1
        picked = one if one is not None and one < attention.heads else None
        reply["attention"] = attention_reply(attention, layer=number, head=picked, position=at)
    lines = (f"{model} · {' + '.join(reply)}", f"Prompt: {prompt}")
    return export_files(name="layers", title="Inside the layers", lines=lines, body=_joined(*views), reply=reply)


def wire_layers_share(demo: gr.Blocks, backend: Backend, *, tabs: gr.Tabs, layers: Any) -> None:
    """The tab's link and export buttons, and what a page load with a ``view=layers`` link does."""
    ly = layers
    ly.exports.wire(
        link=_link,
        link_inputs=[ly.model, ly.prompt, ly.chat, ly.probes, ly.cell_pos, ly.layer, ly.head],
        export=_export,
        export_inputs=[
            ly.model, ly.prompt, ly.lens_state, ly.attn_state, ly.layer, ly.head, ly.attn_pos,
            ly.lens_view, ly.cell_view, ly.probe_view, ly.heads_view, ly.head_view, ly.to_view,
        ],
    )  # fmt: skip
    opened = gr.State(False)
    settings = [ly.model, ly.prompt, ly.chat, ly.probes, ly.cell_pos, ly.layer, ly.head]

    def restore(request: gr.Request) -> list[Any]:
        state = parse_share_query(dict(request.query_params) if request else {}, engines=backend.engines)
        if state.view != "layers":
            return [False, gr.update()] + [gr.update() for _ in settings]
        values = [state.model, state.prompt, state.chat, state.probes, state.position, state.layer, state.head]
        return [True, gr.update(selected="layers"), *(gr.update() if v is None else gr.update(value=v) for v in values)]

    event = demo.load(restore, None, [opened, tabs, *settings], queue=False, **_PRIVATE)
    lens_in = [ly.lang, ly.model, ly.prompt, ly.chat, ly.colour, ly.probes, ly.cell_pos, ly.cell_layer]
    lens_out = [ly.lens_view, ly.cell_view, ly.probe_view, ly.lens_state, ly.lens_note]
    attn_in = [ly.lang, ly.model, ly.prompt, ly.chat, ly.layer, ly.head, ly.attn_pos]
    attn_out = [ly.heads_view, ly.head_view, ly.to_view, ly.attn_state, ly.attn_note]
    event.then(_when(ly.run_lens, len(lens_out)), [opened, *lens_in], lens_out, js=_LANG_AFTER_FLAG, **_PRIVATE).then(
        _when(ly.run_attention, len(attn_out)), [opened, *attn_in], attn_out, js=_LANG_AFTER_FLAG, **_PRIVATE
    )


# the page's language into the second input (the first is the "opened by a link" flag)
_LANG_AFTER_FLAG = f"(flag, ...rest) => [flag, ...({PAGE_LANG_JS})(...rest)]"


def _when(fn: Callable[..., Any], n_out: int) -> Callable[..., Any]:
    """``fn`` run only when the page was opened by a Layers link; otherwise nothing changes."""

    def run(opened: bool, *args: Any) -> Any:
        return fn(*args) if opened else tuple(gr.update() for _ in range(n_out))

    return run
