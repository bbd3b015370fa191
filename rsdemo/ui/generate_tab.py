"""The Generate tab: a prompt through a model with a decoding method, streamed token by token, each token
coloured by its probability; then branches, the beam search tree and the method arena (``generate_branch``,
``generate_tree``, ``generate_arena``)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import gradio as gr

from ..backend import Backend
from ..catalog import DEFAULT_MODEL
from ..core.errors import RsdemoError
from ..decoding import COMMON_PARAMS, METHODS
from ..generation import GenerationResult
from ..i18n import text, translate
from ..insight.second_opinion import SecondOpinion
from ..render.page import field_note
from ..render.page_runs import (
    GEN_STALE,
    SEEDED,
    drawn_seed,
    generation_stats,
    preparing,
    render_run,
    run_notes,
    run_title,
    second_summary,
    stats_cards,
    waiting,
)
from .endpoints import DEFAULT_PROMPT, _generation_endpoints
from .errors import _generation_field, _generation_notes, _user_errors
from .generate_arena import ArenaPanel
from .generate_branch import BranchPanel
from .generate_tree import TreePanel
from .hub import _model_info
from .lang import tr, tr_choices, tr_texts
from .params import MethodPanel
from .serving import _generation_pool, _paced, _tell, _visitor
from .share_export import SharePanel

__all__ = ["GenerateTab", "_engine_choices", "_engine_dropdown"]


def _engine_rows(backend: Backend) -> list[tuple[str, str, str]]:
    """Each engine (fastest first): its label, why it is set aside on this machine ("" if it is not), its name; a
    label with a reason but no ``why`` is an engine that is not installed."""
    rows = []
    for name, engine in backend.engines.items():
        missing = engine.missing() or ""
        why = missing.split(": ", 1)[1].split(";")[0] if "unavailable on this machine: " in missing else ""
        rows.append((engine.capabilities.label, why or ("-" if missing else ""), name))
    return rows


def _engine_choices(backend: Backend) -> list[tuple[str, str]]:
    """The engine dropdown in English, from the backend's engines (fastest first); absent or set-aside ones say so."""
    choices = [("automatic (the fastest that can run the method)", "")]
    for label, why, name in _engine_rows(backend):
        suffix = f" — unavailable on this machine: {why}" if why not in ("", "-") else " — not installed" if why else ""
        choices.append((label + suffix, name))
    return choices


_MARKED: set[str] = set()  # the engine labels' keys the page was built with (gr.I18n knows only those)


def _engine_dropdown(backend: Backend, *, building: bool = False) -> list[tuple[Any, str]]:
    """The engine dropdown's choices with their labels marked for translation (``gr.I18n``), as built and as the
    page's refreshes send them. ``building``: the page is being built (its new labels join ``page_i18n``); a later
    label the page was not built with (an engine set aside since, with its own reason) stays English."""
    choices: list[tuple[Any, str]] = [(tr("gen.engine_auto"), "")]
    english = dict((value, label) for label, value in _engine_choices(backend))
    for label, why, name in _engine_rows(backend):
        if not why:
            choices.append((label, name))
            continue
        if why == "-":
            marked = tr("gen.engine_missing", engine=label)
        else:
            zh = text("gen.engine_unavailable", lang="zh", engine=label, why=translate(why, lang="zh"))
            marked = tr_texts(f"gen.engine_unavailable.{name}.{zlib.crc32(why.encode())}", en=english[name], zh=zh)
        if building:
            _MARKED.add(marked.key)
        choices.append((marked if marked.key in _MARKED else english[name], name))
    return choices


def _run_update(result: GenerationResult, dist: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """The page's outputs for one update of a run: waiting for a slot, waiting for the warm-up, or the run so far
    (coloured by the raw distribution until it is done)."""
    cleared = ("", "", "")
    if result.waiting is not None or result.preparing:  # the start-up warm-up may be loading this model
        shown = waiting(result.waiting) if result.waiting is not None else preparing(result.preparing)
        return (gr.update(), shown, gr.update(), gr.update(), gr.update(), gr.update(), *cleared)
    return (
        render_run(result, dist if result.done else "raw"),
        stats_cards(generation_stats(result), title=run_title(result)),
        result.prompt.text,
        run_notes(result),
        result.code,
        result if result.done else None,
        "",
        "",
        drawn_seed(params, result),  # the prompt and model notes clear; a drawn seed is said
    )


class GenerateTab:
    """The tab's components (built inside its ``gr.Tab``), its callbacks and its events, wired as it is built."""

    def __init__(self, backend: Backend, js_tokens: str) -> None:
        self.backend = backend
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self._run_area(js_tokens)
                self.branch = BranchPanel(js_tokens)
                self.tree = TreePanel()
                self.arena = ArenaPanel(backend, js_tokens)
            with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
                self._settings()
        self.seed_input = self.panel.common_input("seed")
        self.seed_input.visible = (
            "greedy" in SEEDED
        )  # shown only for methods that sample (the seed changes nothing else)
        self._wire(_generation_pool(backend.settings))

    def _run_area(self, js_tokens: str) -> None:
        self.prompt = gr.Textbox(
            value=DEFAULT_PROMPT,
            label=tr("Prompt"),
            lines=4,
            max_lines=12,
            elem_id="rs-prompt",
            elem_classes=["rs-first"],
        )
        self.prompt_note = gr.HTML(elem_id="rs-prompt-note", elem_classes=["rs-note", "rs-first"])
        with gr.Row(elem_classes=["rs-after-side"]):
            self.go = gr.Button(tr("Generate"), variant="primary", elem_id="rs-generate")
            self.stop = gr.Button(tr("Stop"), variant="stop", elem_id="rs-stop")
        self.gen_stats = gr.HTML(elem_id="rs-gen-stats")
        self.distribution = gr.Radio(
            [(tr("after the decoding filters"), "filtered"), (tr("raw model"), "raw")],
            value="filtered",
            label=tr("Colour tokens by their probability"),
            elem_id="rs-distribution",
        )
        self.second_box = gr.Checkbox(
            value=False,
            label=tr("Mark the tokens where transformers ranks another token first"),
            info=tr("gen.second_info"),
            elem_id="rs-second",
        )
        self.second_note = gr.HTML(elem_id="rs-second-note", elem_classes=["rs-note"])
        self.gen_view = gr.HTML(elem_id="rs-gen-view", js_on_load=js_tokens)
        self.exports = SharePanel(prefix="rs-gen")
        with gr.Accordion(tr("Prompt as the model sees it"), open=False):
            self.prompt_seen = gr.Textbox(
                label=tr("Templated prompt (special tokens included)"),
                lines=6,
                interactive=False,
                elem_id="rs-prompt-seen",
            )
            self.notes = gr.Markdown(elem_id="rs-gen-notes")
        with gr.Accordion(tr("Reproduce this run"), open=False):
            self.code = gr.Code(language="python", label=tr("transformers code"), elem_id="rs-code")

    def _settings(self) -> None:
        backend = self.backend
        hub_off = backend.hub_problem(probe=False)
        self.model = gr.Dropdown(
            choices=backend.model_choices_here(hub_problem=hub_off),
            value=DEFAULT_MODEL,
            label=tr("Model"),
            info=tr(_model_info(hub_off)),
            allow_custom_value=True,
            elem_id="rs-model",
        )
        self.model_note = gr.HTML(elem_id="rs-model-note", elem_classes=["rs-note"])
        self.engine = gr.Dropdown(
            choices=_engine_dropdown(backend, building=True),
            value="",
            label=tr("Engine"),
            info=tr("gen.engine_info"),
            elem_id="rs-engine",
        )
        self.chat = gr.Checkbox(value=True, label=tr("Use the chat template"), elem_id="rs-chat")
        self.method = gr.Dropdown(
            choices=tr_choices(backend.method_choices()),
            value="greedy",
            label=tr("Decoding method"),
            elem_id="rs-method",
        )
        self.description = gr.Markdown(tr(METHODS["greedy"].description), elem_id="rs-method-info")
        self.panel = MethodPanel(prefix="rs-p-", selected="greedy", common=COMMON_PARAMS)
        self.stop_strings = gr.Textbox(label=tr("Stop strings (one per line)"), lines=2, elem_id="rs-stop-strings")
        self.settings_note = gr.HTML(elem_id="rs-settings-note", elem_classes=["rs-note"])

    def _wire(self, pool: dict[str, Any]) -> None:
        """Every event of the tab and its endpoints, in the order Gradio numbers them."""
        backend, panel, private = self.backend, self.panel, {"api_visibility": "private"}
        self.method.change(
            self.show_method, [self.method], [self.description, self.seed_input, *panel.groups], **private
        )
        self.last = gr.State(None)
        outputs = [self.gen_view, self.gen_stats, self.prompt_seen, self.notes, self.code, self.last]
        outputs += [self.prompt_note, self.model_note, self.settings_note]
        inputs = [self.model, self.prompt, self.method, self.engine, self.chat, self.stop_strings, self.distribution]
        inputs += panel.inputs
        self.opinion = gr.State(None)
        marked = ([self.last, self.distribution, self.second_box], [self.gen_view, self.second_note, self.opinion])
        self.go.click(self.run_generation, inputs, outputs, show_progress="minimal", **private, **pool).then(
            lambda: gr.update(choices=_engine_dropdown(backend)), None, [self.engine], queue=False, **private
        ).then(self.mark, *marked, **private, **pool)
        self.second_box.change(self.mark, *marked, **private, **pool)
        _generation_endpoints(backend, pool)
        self.prompt.submit(
            self.run_generation, inputs, outputs, show_progress="minimal", trigger_mode="once", **private, **pool
        )
        self.stop.click(self.stop_generation, None, None, queue=False, **private)
        self.branch.state()
        self.tree.wire(backend, panel, settings=[self.model, self.prompt, self.chat], pool=pool)
        self.branch.wire(
            backend,
            panel,
            last=self.last,
            settings=[self.model, self.prompt, self.method, self.chat, self.stop_strings],
            distribution=self.distribution,
            pool=pool,
        )
        self.arena.wire(backend, panel, settings=[self.model, self.prompt, self.chat], pool=pool)
        self.distribution.change(
            self.recolour, [self.last, self.distribution, self.opinion], [self.gen_view], **private
        )

    def show_method(self, key: str) -> list[Any]:
        """The chosen method's description, its parameters; the seed only for a method that samples."""
        spec = METHODS.get(key, None)
        described = gr.update(value=tr(spec.description) if spec else "")
        return [described, gr.update(visible=key in SEEDED), *self.panel.shown(key)]

    @_user_errors
    def run_generation(
        self,
        request: gr.Request,
        model_key: str,
        prompt_text: str,
        method_key: str,
        engine_key: str,
        use_chat: bool,
        stops: str,
        dist: str,
        *values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        params = self.panel.collect(method_key, values)
        # paced: rendering every token of a long run would cost quadratic time
        run = _paced(
            self.backend.generate(
                model=model_key,
                prompt=prompt_text,
                method=method_key,
                params=params,
                chat=bool(use_chat),
                stop=stops,
                progress=_tell,
                visitor=_visitor(request),
                engine=engine_key or None,
            )
        )
        while True:
            try:
                result = next(run)
            except StopIteration:
                return
            except RsdemoError as err:
                # the error replaces the last run's result, and is shown once, beside the input it is about
                stats_out = field_note(err) if _generation_field(err) == "run" else ""
                yield (GEN_STALE, stats_out, "", "", "", None, *_generation_notes(err))
                return
            yield _run_update(result, dist, params)

    def mark(self, kept: GenerationResult | None, dist: str, on: bool) -> tuple[Any, str, SecondOpinion | None]:
        """The last run with transformers' view of each token, marked where it ranks another token first."""
        if kept is None:
            return gr.update(), "", None
        if not on:
            return render_run(kept, dist), "", None
        try:
            second = self.backend.second_opinion(run=kept)
        except RsdemoError as err:
            return render_run(kept, dist), field_note(err), None
        return render_run(kept, dist, second), second_summary(kept.engine, second), second

    def stop_generation(self, request: gr.Request) -> None:
        """Stop this visitor's generation at the next token; the run ends normally, marked as stopped."""
        self.backend.stop(visitor=_visitor(request))

    @_user_errors
    def recolour(self, kept: GenerationResult | None, dist: str, second: SecondOpinion | None) -> Any:
        """Re-colour the last finished run by the other distribution: no model, no new generation."""
        if kept is None:
            return gr.update()
        return render_run(kept, dist, second)
