"""The whole page: the title, the Hub line and seven tabs, composed; then the page's own events, the light API
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
from .generate_tab import GenerateTab, _engine_dropdown
from .hub import _hub_state
from .inside_tab import InsideTab
from .lang import LANG_SWITCH, tr, tr_texts
from .languages_tab import LanguagesTab
from .launch import asset_text
from .layers_share import wire_layers_share
from .layers_tab import LayersTab
from .serving import _light_pool
from .share_export import wire_reopen, wire_shares
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
    """The whole app: Tokenize, Compare, Languages, Generate, Inside, Layers and About tabs; the endpoints named."""
    choices = backend.tokenizer_choices()
    js_tokens = asset_text("tokens.js")
    hub_off = backend.hub_problem(probe=False)  # the configuration; the page's load also probes the Hub
    with gr.Blocks(title="rsdemo — inside language models") as demo:
        gr.HTML(LANG_SWITCH, elem_id="rs-lang")
        gr.Markdown(tr("page.title"))
        hub_note = gr.HTML(hub_header(hub_off), elem_id="rs-hub-note")
        with gr.Tabs() as tabs:
            with gr.Tab(tr("Tokenize"), id="tokenize"):
                tok = TokenizeTab(backend, choices=choices, js_tokens=js_tokens, hub_off=hub_off)
            with gr.Tab(tr("Compare"), id="compare"):
                cmp = CompareTab(backend, choices=choices, js_tokens=js_tokens)
            with gr.Tab(tr("lang.tab"), id="languages") as languages_tab:
                languages = LanguagesTab(backend, choices=choices)
            with gr.Tab(tr("Generate"), id="generate"):
                gen = GenerateTab(backend, js_tokens)
            with gr.Tab(tr("Inside"), id="inside"):
                inside = InsideTab(backend, js_tokens)
            with gr.Tab(tr("tab.layers"), id="layers"):
                layers = LayersTab(backend, asset_text("layers.js"))
            with gr.Tab(tr("About"), id="about"):
                gr.Markdown(tr_texts("about.body", en=_about_markdown(), zh=_about_markdown(lang="zh")))

        light = _light_pool(backend.settings)
        tok.wire(light)
        cmp_args = cmp.event(light)
        cmp.btn.click(**cmp_args)
        _api_endpoints(backend, light)
        languages.wire(light, tab=languages_tab)
        for control in cmp.controls:
            control.change(**cmp_args, trigger_mode="always_last")
        tok.wire_share()
        demo.load(from_url, None, [*tok.inputs, *cmp.inputs, tabs], api_visibility="private").then(**tok.event).then(
            **cmp_args
        )
        # an engine set aside since the page was built (a crash on this CPU) says so in the dropdown
        demo.load(
            lambda: gr.update(choices=_engine_dropdown(backend)),
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
        # every view's "Copy link" and "Export"; a view= link's settings put back and its run run again
        wire_shares(backend, tok=tok, cmp=cmp, gen=gen, inside=inside)
        wire_reopen(demo, backend, tabs=tabs, gen=gen, inside=inside)
        wire_layers_share(demo, backend, tabs=tabs, layers=layers)
    return demo
