"""The whole page: the title, the Hub line and five tabs, composed; then the page's own events, the light API
endpoints and what a page load does (a share link's state, the engine list, the Hub's state)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..backend import Backend
from ..render.page import hub_header
from ..share import parse_share_query
from .about_tab import _about_markdown
from .compare_tab import CompareTab
from .endpoints import _api_endpoints
from .generate_tab import GenerateTab, _engine_choices
from .hub import _hub_state
from .inside_tab import InsideTab
from .launch import asset_text
from .serving import _light_pool
from .tokenize_tab import TokenizeTab

__all__ = ["build_demo"]


def from_url(request: gr.Request) -> tuple[Any, ...]:
    """A share link's state into the page: both tabs' inputs, and the tab it opens (``rsdemo.share``)."""
    state = parse_share_query(dict(request.query_params) if request is not None else {})

    def put(value: Any) -> Any:
        return gr.update() if value is None else gr.update(value=value)

    return (
        put(state.text),
        put(state.tokenizer),
        put(state.special),
        put(state.whitespace),
        put(state.show),
        put(state.text),
        put(list(state.compare) or None),
        put(state.special if state.compare else None),
        put(state.whitespace if state.compare else None),
        gr.update(selected=state.tab) if state.compare else gr.update(),
    )


def build_demo(*, backend: Backend) -> gr.Blocks:
    """The whole app: Tokenize, Compare, Generate, Inside and About tabs; the API endpoints named and typed."""
    choices = backend.tokenizer_choices()
    js_tokens = asset_text("tokens.js")
    hub_off = backend.hub_problem(probe=False)  # the configuration; the page's load also probes the Hub
    with gr.Blocks(title="rsdemo — inside language models") as demo:
        gr.Markdown("# rsdemo — look inside language models\nSee exactly how text becomes tokens, and tokens text.")
        hub_note = gr.HTML(hub_header(hub_off), elem_id="rs-hub-note")
        with gr.Tabs() as tabs:
            with gr.Tab("Tokenize", id="tokenize"):
                tok = TokenizeTab(backend, choices=choices, js_tokens=js_tokens, hub_off=hub_off)
            with gr.Tab("Compare", id="compare"):
                cmp = CompareTab(backend, choices=choices, js_tokens=js_tokens)
            with gr.Tab("Generate", id="generate"):
                gen = GenerateTab(backend, js_tokens)
            with gr.Tab("Inside", id="inside"):
                inside = InsideTab(backend, js_tokens)
            with gr.Tab("About", id="about"):
                gr.Markdown(_about_markdown())

        light = _light_pool(backend.settings)
        tok.wire(light)
        cmp_args = cmp.event(light)
        cmp.btn.click(**cmp_args)
        _api_endpoints(backend, light)
        for control in cmp.controls:
            control.change(**cmp_args, trigger_mode="always_last")
        tok.wire_share()
        demo.load(from_url, None, [*tok.inputs, *cmp.inputs, tabs], api_visibility="private").then(**tok.event).then(
            **cmp_args
        )
        # an engine set aside since the page was built (a crash on this CPU) says so in the dropdown
        demo.load(
            lambda: gr.update(choices=_engine_choices(backend)),
            None,
            [gen.engine],
            api_visibility="private",
            queue=False,
        )
        demo.load(
            _hub_state(backend),
            None,
            [hub_note, tok.tokenizer, gen.model, inside.model],
            api_visibility="private",
            queue=False,
        )
    return demo
