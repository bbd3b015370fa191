"""The Gradio UI: built from the catalog, calling the backend; the only module that imports gradio.

Callbacks are thin adapters: they call ``Backend``, render with ``rsdemo.render`` and turn
``RsdemoError`` into ``gr.Error`` here, at the edge.

Usage (this is what ``app.py`` does)::

    demo = build_demo(backend=backend)
    configure_queue(demo, backend.settings).launch(**launch_options())
"""

from __future__ import annotations

import functools
import html
import importlib.util
import inspect
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
from gradio.data_classes import FileData

from .api_schema import (
    EXAMPLE_ARENA_METHODS,
    EXAMPLE_IDS,
    EXAMPLE_PARAMS,
    EXAMPLE_PREFIX,
    EXAMPLE_STAGE_PARAMS,
    EXAMPLE_TEXT,
    EXAMPLE_TOKENIZERS,
    EXAMPLE_TREE_PARAMS,
    ArenaReply,
    BeamTreeReply,
    CompareReply,
    DecodeReply,
    GenerateReply,
    NextTokenReply,
    SurprisalReply,
    TokenizeReply,
)
from .arguments import ENDPOINTS as API_ARGUMENTS
from .arguments import check_call, whole
from .backend import Backend, CompareResult, TokenizeResult
from .catalog import DEFAULT_MODEL, DEFAULT_TOKENIZER, MODELS, TOKENIZERS
from .core.errors import (
    AssetMissingError,
    EmptyInputError,
    HubError,
    InputError,
    InputTooLargeError,
    InvalidTextError,
    RsdemoError,
)
from .core.settings import Settings, parse_bool
from .decoding import COMMON_PARAMS, METHODS, Param, asks_random_seed
from .downloads import write_ids_file
from .generation import GenerationResult, token_segments
from .generation.results import GeneratedToken
from .insight.beam_tree import TREE_BEAMS, TREE_STEPS, render_beam_tree
from .insight.render import render_arena_table, render_stages, render_surprisal_stats
from .insight.second_opinion import SecondOpinion
from .render import format_number, render_card_table, render_decode, render_generation, render_stats, render_token_view
from .share import SHARE_LINK_CHARS, VIEW_MODES, parse_share_query

__all__ = ["build_demo", "configure_queue", "launch_options"]

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_TEXT = (
    "Hello world! Tokenizers split text into pieces: naïve café, 東京タワー, 👩‍👩‍👧 and 🇫🇷.\n"
    "\tIndented code: for i in range(10): print(i ** 2)  # 1234567890\n"
    "<|endoftext|> is a special token in GPT-2."
)
DEFAULT_COMPARE = ("gpt2", "cl100k_base", "llama3", "mistral-v1", "bert-base-uncased")
F = TypeVar("F", bound=Callable[..., Any])


def _as_user_error(err: Exception, name: str) -> Exception:
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, RsdemoError):
        # Gradio renders an error's message as HTML: what the user typed (a name, a value) must stay text
        return gr.Error(html.escape(str(err), quote=False), print_exception=False)
    reference = uuid.uuid4().hex[:8]
    log.exception("internal error %s in %s", reference, name)  # keep serving: report, log, move on
    return gr.Error(
        f"Something went wrong on the server (reference {reference}); the details are in its log. "
        "Try again, or try other input.",
        print_exception=False,
    )


def _user_errors(fn: F) -> F:
    """Turn rsdemo's typed errors into ``gr.Error``; anything else into a short, logged internal error.

    Works for plain callbacks and for generator callbacks (streaming), whose errors surface while iterating.
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                raise _as_user_error(err, fn.__name__) from err

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise _as_user_error(err, fn.__name__) from err

    return wrapper  # type: ignore[return-value]


def launch_options() -> dict[str, Any]:
    """Keyword arguments for ``demo.launch`` (Gradio 6 takes css/theme there)."""
    return {"css": (ASSETS / "style.css").read_text(encoding="utf-8"), "theme": gr.themes.Soft(), "head": _HEAD}


# Outside the app's container, where Gradio does not prefix (or reach) ``css``: its footer. Gradio hides "Use via
# API" under 640 px; the API is as much a part of rsdemo on a phone.
_HEAD = (
    "<style>@media (max-width: 640px) { footer .show-api, footer .show-api-divider "
    "{ display: flex !important; } }</style>"
)


def skip_absent_matplotlib() -> bool:
    """When matplotlib is not installed, make ``import matplotlib`` fail at once instead of searching for it.

    Gradio wraps every event call, and every step of a streaming one, in ``MatplotlibBackendMananger``, which
    tries ``import matplotlib`` on the way in and on the way out. Without matplotlib each try searches every
    ``sys.path`` entry again: 55 µs a try on a quiet machine, and 6 % of the app's busy py-spy samples under
    load (light requests and streamed generation). ``None`` in ``sys.modules`` is Python's own way to say a
    module cannot be imported: the same ``ImportError``, without the search. Returns whether it is set
    (False when matplotlib is installed: then nothing changes).

    >>> import sys
    >>> skip_absent_matplotlib() == (sys.modules.get("matplotlib", "installed") is None)
    True
    """
    if "matplotlib" in sys.modules:
        return sys.modules["matplotlib"] is None
    if importlib.util.find_spec("matplotlib") is not None:
        return False
    sys.modules["matplotlib"] = None  # type: ignore[assignment]
    return True


def configure_queue(demo: gr.Blocks, settings: Settings) -> gr.Blocks:
    """Set up the queue: every bound explicitly, from ``Settings`` (``app.py`` and the tests' server call this).

    Explicit on purpose: on a ZeroGPU Space Gradio sets ``max_size`` to 1 unless it is given. Each event
    also names its own pool (``light`` for tokenize / compare / decode, ``generate`` for generation), so
    fast requests never wait behind a generation; the default covers the rest (page-load wiring).
    Queue positions go out every ``queue_status_s`` seconds rather than to every waiting visitor each time
    a request starts, and Gradio's per-event statistics are summarised every 1,000 events, not after each
    one (``benchmarks/README.md``: together +44 % light throughput, and no slowdown over time).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "2000")
    skip_absent_matplotlib()
    return demo.queue(
        max_size=settings.queue_max_size,
        default_concurrency_limit=settings.light_concurrency,
        status_update_rate=settings.queue_status_s,
    )


def _notice(result: TokenizeResult, *, with_ids: bool = True) -> str:
    """The line above a token view: what it shows of a long text, and a tokenizer that drops text.

    ``with_ids``: the view has the Token ids box and its download (Tokenize); else a table of stats (Compare).
    """
    notes = []
    if result.truncated:
        total = len(result.id_array)
        covered = (
            f"The stats cover the whole text; the Token ids box holds the {result.shown_tokens:,} ids shown, "
            f"and its download all {total:,}."
            if with_ids
            else "The table and the count of boundaries cover the whole text."
        )
        notes.append(f"Showing the first {result.shown_tokens:,} of {total:,} tokens. {covered}")
    if not result.info.lossless:
        notes.append(f"{result.info.label} is not lossless: {result.info.notes}")
    return " ".join(notes)


def _ids_text(result: TokenizeResult) -> str:
    """The Token ids box: the ids of the tokens shown, as a list the Decode box takes as it is.

    The rest of a long text's ids are in the download; the note beside the box (``_ids_note``) says how many.
    """
    return "[" + ", ".join(map(str, result.id_array[: result.shown_tokens].tolist())) + "]"


def _ids_note(result: TokenizeResult) -> str:
    """Beside the Token ids box: how many of the ids it holds, when it does not hold them all."""
    total = len(result.id_array)
    if not result.truncated:
        return ""
    return (
        f'<div class="rs-notice" role="status">The box holds the first {result.shown_tokens:,} of the '
        f"{total:,} ids (a list Decode takes as it is); the download below has all {total:,}.</div>"
    )


def _ids_download(result: TokenizeResult) -> Any:
    """The download button's update: every id as a JSON file when the box cannot hold them all, else hidden.

    The event runs with ``postprocess=False``, so the value is Gradio's file record already (Gradio still copies
    the file to its cache and serves it from there).
    """
    if not result.truncated:
        return gr.update(visible=False, value=None)
    try:
        path = write_ids_file(ids=result.id_array, tokenizer=result.info.key)
    except OSError:
        log.exception("could not write the ids file")
        return gr.update(visible=False, value=None)
    record = FileData(path=str(path), orig_name=path.name).model_dump()
    return gr.update(visible=True, value=record, label=f"Download all {len(result.id_array):,} ids (JSON)")


# shown where a result was, when the inputs on screen have none (the message is beside the field it is about)
_STALE = '<div class="rs-stale">No result for these inputs: see the message above.</div>'


def _field_of(err: RsdemoError) -> str:
    """Which input an error is about: ``text`` (what was typed in the text box) or ``name`` (a tokenizer or model)."""
    if isinstance(err, (EmptyInputError, InputTooLargeError, InvalidTextError)):
        return "text"
    return "name"


def _note(err: RsdemoError) -> str:
    """An error message shown beside its field (escaped: it may quote what the visitor typed)."""
    return f'<div class="rs-field-error" role="alert">{html.escape(str(err))}</div>'


COMPARE_COLUMNS = ("tokenizer", "tokens", "chars/token", "bytes/token", "tokens/word", "vocabulary", "lossless")


def _compare_outputs(result: CompareResult, show_whitespace: bool) -> tuple[list[list[Any]], str]:
    """The Compare table's rows and the token views; the views start with the same rows as cards, which a phone
    shows instead of the table (seven columns do not fit 390 px)."""
    rows = []
    views = [
        "",  # the phone's cards, once the rows are known
        '<div class="rs-legend">Tokens underlined in red start or end where not every tokenizer has a boundary '
        "(whitespace ignored).</div>",
    ]
    for n, r in enumerate(result.results):
        s = r.stats
        rows.append(
            [
                r.info.key,
                *map(
                    format_number,
                    (s.tokens, s.chars_per_token, s.bytes_per_token, s.tokens_per_word, s.vocab_size, r.info.lossless),
                ),
            ]
        )
        if result.done:
            count = f"{result.differing[n]:,} on boundaries not shared by all"
        else:
            count = "comparing…"
        head = f'<div class="rs-compare-head">{html.escape(r.info.label)} — {s.tokens:,} tokens, {count}</div>'
        views.append(
            f'<div class="rs-compare-row" data-tokenizer="{html.escape(r.info.key, quote=True)}">{head}'
            + render_token_view(
                r.segments,
                tokens=r.tokens,
                show_whitespace=show_whitespace,
                marks=result.marks[n] if result.done else None,
                notice=_notice(r, with_ids=False),
            )
            + "</div>"
        )
    views[0] = render_card_table(COMPARE_COLUMNS, rows, classes="rs-phone-only rs-cmp-cards")
    return rows, "".join(views)


def build_demo(*, backend: Backend) -> gr.Blocks:
    """The whole app: Tokenize, Compare, Generate, Inside and About tabs; the API endpoints named and typed."""
    choices = backend.tokenizer_choices()
    js_tokens = (ASSETS / "tokens.js").read_text(encoding="utf-8")
    hub_off = backend.hub_problem(probe=False)  # the configuration; the page's load also probes the Hub

    def hub_state() -> tuple[Any, ...]:
        """The Hub as this page load finds it (a probe at most every few minutes): said where the choice is made."""
        problem = backend.hub_problem()
        return (
            _hub_header(problem),
            gr.update(info=_tokenizer_info(problem)),
            gr.update(choices=backend.model_choices_here(hub_problem=problem), info=_model_info(problem)),
            gr.update(choices=backend.model_choices_here(hub_problem=problem), info=_model_info(problem, scored=True)),
        )

    def progress_reporter(progress: gr.Progress) -> Callable[[str], None]:
        def report(message: str) -> None:
            gr.Info(message)

        return report

    @_user_errors
    def tokenize_view(
        text: str,
        tokenizer: str,
        add_special_tokens: bool,
        show_whitespace: bool,
        show: str,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:
        """Stats, view, ids, the two field notes, the ids note and download; an error clears the result and is
        shown by its field."""
        try:
            result = backend.tokenize(
                text=text,
                tokenizer=tokenizer,
                add_special_tokens=bool(add_special_tokens),
                progress=progress_reporter(progress),
            )
        except RsdemoError as err:
            field = _field_of(err)
            return (
                "",
                _STALE,
                "",
                _note(err) if field == "text" else "",
                _note(err) if field != "text" else "",
                "",
                gr.update(visible=False, value=None),
            )
        view = render_token_view(
            result.segments,
            tokens=result.tokens,
            show_whitespace=bool(show_whitespace),
            show=show if show in VIEW_MODES else "text",
            notice=_notice(result),
        )
        title = f"{result.info.label} · {result.info.family}"
        return (
            render_stats(result.stats.as_dict(), title=title),
            view,
            _ids_text(result),
            "",
            "",
            _ids_note(result),
            _ids_download(result),
        )

    @_user_errors
    def decode_view(ids: str, tokenizer: str) -> tuple[str, str, str]:
        try:
            result = backend.decode(ids=ids, tokenizer=tokenizer)
        except RsdemoError as err:
            return "", "", _note(err)
        return result.text, render_decode(result.tokens), ""

    @_user_errors
    def compare_view(
        text: str, tokenizers: list[str], add_special_tokens: bool, show_whitespace: bool
    ) -> Iterator[tuple[Any, ...]]:
        """Streams one tokenizer at a time, so a visitor who leaves stops the work between tokenizers."""
        try:
            steps = backend.compare_steps(
                text=text, tokenizers=tokenizers or [], add_special_tokens=bool(add_special_tokens)
            )
            for result in steps:
                yield (*_compare_outputs(result, bool(show_whitespace)), "", "")
        except RsdemoError as err:
            field = _field_of(err)
            empty = gr.update(value=[])
            yield (empty, _STALE, _note(err) if field == "text" else "", _note(err) if field != "text" else "")

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

    with gr.Blocks(title="rsdemo — inside language models") as demo:
        gr.Markdown("# rsdemo — look inside language models\nSee exactly how text becomes tokens, and tokens text.")
        hub_note = gr.HTML(_hub_header(hub_off), elem_id="rs-hub-note")
        with gr.Tabs() as tabs:
            with gr.Tab("Tokenize", id="tokenize"):
                # layout: .rs-split puts the side column (controls) after the first inputs on a phone
                with gr.Row(elem_classes=["rs-split"]):
                    with gr.Column(scale=3, elem_classes=["rs-main"]):
                        text = gr.Textbox(
                            value=SAMPLE_TEXT,
                            label="Text",
                            lines=6,
                            max_lines=16,
                            elem_id="rs-text",
                            elem_classes=["rs-first"],
                        )
                        text_note = gr.HTML(elem_id="rs-text-note", elem_classes=["rs-note", "rs-first"])
                        stats = gr.HTML(elem_id="rs-stats")
                        view = gr.HTML(elem_id="rs-view", js_on_load=js_tokens)
                    with gr.Column(scale=1, min_width=260, elem_classes=["rs-side"]):
                        tokenizer = gr.Dropdown(
                            choices=choices,
                            value=DEFAULT_TOKENIZER,
                            label="Tokenizer",
                            info=_tokenizer_info(hub_off),
                            allow_custom_value=True,
                            filterable=True,
                            elem_id="rs-tokenizer",
                        )
                        tok_note = gr.HTML(elem_id="rs-tokenizer-note", elem_classes=["rs-note"])
                        special = gr.Checkbox(
                            label="Add special tokens (BOS / CLS / SEP)", value=False, elem_id="rs-special"
                        )
                        whitespace = gr.Checkbox(
                            label="Show whitespace and invisible characters", value=False, elem_id="rs-whitespace"
                        )
                        show_mode = gr.Radio(
                            list(VIEW_MODES), value="text", label="Each token shows", elem_id="rs-show"
                        )
                        share = gr.Button("Copy a share link", size="sm", elem_id="rs-share")
                        share_url = gr.Textbox(
                            label="Share link", interactive=False, elem_id="rs-share-url", buttons=["copy"]
                        )
                        share_note = gr.HTML(elem_id="rs-share-note", elem_classes=["rs-note"])
                with gr.Accordion("Token ids", open=False):
                    ids_box = gr.Textbox(
                        label="Ids", lines=3, max_lines=10, interactive=False, buttons=["copy"], elem_id="rs-ids"
                    )
                    ids_note = gr.HTML(elem_id="rs-ids-note", elem_classes=["rs-note"])
                    ids_file = gr.DownloadButton(
                        "Download all ids (JSON)", visible=False, size="sm", elem_id="rs-ids-download"
                    )
                with gr.Accordion("Decode ids to text", open=True):
                    with gr.Row():
                        decode_in = gr.Textbox(label="Ids", placeholder="[15496, 995]", scale=3, elem_id="rs-decode-in")
                        decode_btn = gr.Button("Decode", scale=1, elem_id="rs-decode-btn")
                    decode_note = gr.HTML(elem_id="rs-decode-note", elem_classes=["rs-note"])
                    decoded = gr.Textbox(label="Text", interactive=False, elem_id="rs-decoded")
                    decoded_view = gr.HTML(elem_id="rs-decoded-view")

            with gr.Tab("Compare", id="compare"):
                with gr.Row(elem_classes=["rs-split"]):
                    with gr.Column(scale=3, elem_classes=["rs-main"]):
                        cmp_text = gr.Textbox(
                            value=SAMPLE_TEXT,
                            label="Text",
                            lines=5,
                            max_lines=12,
                            elem_id="rs-cmp-text",
                            elem_classes=["rs-first"],
                        )
                        cmp_text_note = gr.HTML(elem_id="rs-cmp-text-note", elem_classes=["rs-note", "rs-first"])
                    with gr.Column(scale=1, min_width=260, elem_classes=["rs-side"]):
                        cmp_keys = gr.Dropdown(
                            choices=choices,
                            value=list(DEFAULT_COMPARE),
                            multiselect=True,
                            max_choices=backend.settings.max_compare,
                            label=f"Tokenizers ({backend.settings.min_compare} to {backend.settings.max_compare})",
                            elem_id="rs-cmp-keys",
                        )
                        cmp_keys_note = gr.HTML(elem_id="rs-cmp-keys-note", elem_classes=["rs-note"])
                        cmp_special = gr.Checkbox(label="Add special tokens", value=False, elem_id="rs-cmp-special")
                        cmp_ws = gr.Checkbox(label="Show whitespace", value=False, elem_id="rs-cmp-ws")
                        cmp_btn = gr.Button("Compare", variant="primary", elem_id="rs-cmp-btn")
                cmp_table = gr.Dataframe(
                    headers=list(COMPARE_COLUMNS),
                    interactive=False,
                    elem_id="rs-cmp-table",
                    elem_classes=["rs-desktop-only"],  # a phone gets the same rows as cards (_compare_outputs)
                )
                cmp_view = gr.HTML(elem_id="rs-cmp-view", js_on_load=js_tokens)

            with gr.Tab("Generate", id="generate"):
                engine_choice, gen_model = _generate_tab(backend, js_tokens)

            with gr.Tab("Inside", id="inside"):
                in_model = _inside_tab(backend, js_tokens)

            with gr.Tab("About", id="about"):
                gr.Markdown(_about_markdown())

        tok_inputs = [text, tokenizer, special, whitespace, show_mode]
        tok_outputs = [stats, view, ids_box, text_note, tok_note, ids_note, ids_file]
        light = {"concurrency_limit": backend.settings.light_concurrency, "concurrency_id": "light"}
        # the UI events are the page's own wiring (private); their outputs are plain strings already
        page = {"api_visibility": "private", "postprocess": False, **light}
        tok_event = dict(fn=tokenize_view, inputs=tok_inputs, outputs=tok_outputs, show_progress="minimal", **page)
        for control in (text, tokenizer, special, whitespace, show_mode):
            control.change(**tok_event, trigger_mode="always_last")
        decode_outputs = [decoded, decoded_view, decode_note]
        decode_btn.click(decode_view, [decode_in, tokenizer], decode_outputs, **page)
        decode_in.submit(decode_view, [decode_in, tokenizer], decode_outputs, **page)
        cmp_args = dict(
            fn=compare_view,
            inputs=[cmp_text, cmp_keys, cmp_special, cmp_ws],
            outputs=[cmp_table, cmp_view, cmp_text_note, cmp_keys_note],
            api_visibility="private",
            **light,
        )
        cmp_btn.click(**cmp_args)
        _api_endpoints(backend, light)
        for control in (cmp_keys, cmp_special, cmp_ws):
            control.change(**cmp_args, trigger_mode="always_last")
        share.click(
            None,
            [text, tokenizer, special, whitespace, show_mode],
            [share_url, share_note],
            # every setting of the tab, then as much of the text (whole characters) as keeps the link, URL-encoded,
            # within SHARE_LINK_CHARS characters (rsdemo/share.py reads it back)
            js=f"""(text, tok, special, ws, show) => {{
                const url = new URL(window.location.href.split('#')[0].split('?')[0]);
                url.searchParams.set('tokenizer', tok || '');
                if (special) url.searchParams.set('special', '1');
                if (ws) url.searchParams.set('ws', '1');
                if (show && show !== 'text') url.searchParams.set('show', show);
                url.searchParams.set('text', '');
                const chars = Array.from(text || '');  // code points: never half an emoji
                const utf8 = new TextEncoder();
                let room = {SHARE_LINK_CHARS} - url.toString().length, kept = 0;
                for (const ch of chars) {{  // what URLSearchParams writes: a-z A-Z 0-9 * - . _ as is, space as +
                    const cost = /^[A-Za-z0-9*._ -]$/.test(ch) ? 1 : 3 * utf8.encode(ch).length;
                    if (cost > room) break;
                    room -= cost;
                    kept += 1;
                }}
                url.searchParams.set('text', chars.slice(0, kept).join(''));
                while (kept > 0 && url.toString().length > {SHARE_LINK_CHARS}) {{
                    kept -= 1;
                    url.searchParams.set('text', chars.slice(0, kept).join(''));
                }}
                const link = url.toString();
                if (navigator.clipboard) navigator.clipboard.writeText(link).catch(() => {{}});
                const n = (x) => x.toLocaleString('en-US');
                const note = chars.length > kept
                  ? '<div class="rs-notice" role="status">The link keeps the first ' + n(kept) + ' of the ' +
                    n(chars.length) + ' characters: it is ' + n(link.length) + ' characters long, and links ' +
                    'are kept within {SHARE_LINK_CHARS:,} (longer ones break in some browsers, servers and chat ' +
                    'apps).</div>'
                  : '';
                return [link, note];
            }}""",
        )
        url_outputs = [text, tokenizer, special, whitespace, show_mode, cmp_text, cmp_keys, cmp_special, cmp_ws, tabs]
        demo.load(from_url, None, url_outputs, api_visibility="private").then(**tok_event).then(**cmp_args)
        # an engine set aside since the page was built (a crash on this CPU) says so in the dropdown
        demo.load(
            lambda: gr.update(choices=_engine_choices(backend)),
            None,
            [engine_choice],
            api_visibility="private",
            queue=False,
        )
        demo.load(hub_state, None, [hub_note, tokenizer, gen_model, in_model], api_visibility="private", queue=False)
    return demo


def _hub_header(problem: str) -> str:
    """Under the title: what the Hub adds here, or why it cannot (``Backend.hub_problem``).

    >>> "cannot load here" in _hub_header("The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1).")
    True
    """
    if not problem:
        return (
            '<div class="rs-legend">Every built-in tokenizer and the embedded model run offline; type a Hugging '
            "Face repo id (<code>owner/name</code>) in a Tokenizer or Model box to load one from the Hub.</div>"
        )
    return (
        f'<div class="rs-notice" role="status">Hub tokenizers and models cannot load here: '
        f"{html.escape(problem)} The lists offer what works.</div>"
    )


def _tokenizer_info(problem: str) -> str:
    """The tokenizer box's help: a Hub repo id may be typed, or not (the Hub is off or unreachable)."""
    return (
        "Built-in tokenizers only: the Hugging Face Hub is off here"
        if problem
        else ("Or type a Hub repo id, e.g. Qwen/Qwen2.5-0.5B")
    )


def _model_info(problem: str, *, scored: bool = False) -> str:
    """The model box's help; with the Hub off, the Hub's models are left out of the list and it says so."""
    first = "Scored with transformers (the model's own logits)" if scored else ""
    if problem:
        hub = "built-in models only: the Hugging Face Hub is off here"
    else:
        hub = "or a Hub causal-LM repo id" if scored else "Or type a Hub causal-LM repo id (needs the Hub)"
    return f"{first}; {hub}" if first else hub[0].upper() + hub[1:]


def _flag(value: object, name: str = "add_special_tokens") -> bool:
    """A boolean sent to the API: true/false, 1/0, yes/no; anything else is refused (never bool("false"))."""
    try:
        return parse_bool(value)
    except ValueError:
        raise InputError(f"{name} must be true or false, got {str(value)[:40]!r}.") from None


def _api_returns(reply: type, label: str) -> Callable[[F], F]:
    """Declare an endpoint's reply type for Gradio's API page (it reads the signature; a generator's
    ``Iterator[...]`` or a string annotation would show as "Any"), and the name its return value goes by."""

    def mark(fn: F) -> F:
        fn.__signature__ = inspect.signature(fn).replace(return_annotation=reply)  # type: ignore[attr-defined]
        fn._api_return_label = label  # type: ignore[attr-defined]
        return fn

    return mark


def _checked(fn: F, *, endpoint: str) -> F:
    """The endpoint with every argument checked first by ``rsdemo.arguments.ENDPOINTS`` (and normalised: ``"3"`` to
    3): a wrong type or range is one sentence naming the parameter, never an internal error from deeper down."""
    signature = inspect.signature(fn)

    def checked(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        bound = signature.bind(*args, **kwargs)
        try:
            bound.arguments.update(check_call(endpoint, bound.arguments))
        except RsdemoError as err:
            raise _as_user_error(err, endpoint) from err
        return bound

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            bound = checked(args, kwargs)
            yield from fn(*bound.args, **bound.kwargs)

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = checked(args, kwargs)
        return fn(*bound.args, **bound.kwargs)

    return wrapper  # type: ignore[return-value]


def _api(fn: Callable[..., Any], *, api_name: str, blocks: gr.Blocks | None = None, **pool: Any) -> None:
    """``gr.api``, with the arguments checked (``_checked``) and the return value named (Gradio calls it "1st")."""
    if api_name in API_ARGUMENTS:
        fn = _checked(fn, endpoint=api_name)
    dependency = gr.api(fn, api_name=api_name, **pool)
    label = getattr(fn, "_api_return_label", None)
    root = blocks or gr.context.Context.root_block
    if label and root is not None and isinstance(dependency, dict) and "id" in dependency:
        for output in root.fns[dependency["id"]].outputs:
            output.label = label


def _api_endpoints(backend: Backend, pool: dict[str, Any]) -> None:
    """The named API endpoints (``/tokenize``, ``/compare``, ``/decode``): plain data in, plain data out.

    Every parameter has a default that works, so the calls the "Use via API" page shows run as shown.
    """

    @_api_returns(TokenizeReply, "tokenized")
    @_user_errors
    def tokenize(text: str = EXAMPLE_TEXT, tokenizer: str = DEFAULT_TOKENIZER, add_special_tokens: bool = False):
        """Split text into tokens: every id, the segments of the first 2,000 tokens, stats over the whole text.

        Args:
            text: the text to split (up to the server's text limit).
            tokenizer: a built-in key (gpt2, cl100k_base, o200k_base, llama3, qwen2, ...) or a Hub repo id owner/name.
            add_special_tokens: add what the tokenizer puts around a sequence (BOS, [CLS] ... [SEP]).
        """
        return backend.tokenize(text=text, tokenizer=tokenizer, add_special_tokens=_flag(add_special_tokens)).as_dict()

    @_api_returns(CompareReply, "comparison")
    @_user_errors
    def compare(
        text: str = EXAMPLE_TEXT,
        tokenizers: list[str] = list(EXAMPLE_TOKENIZERS),  # noqa: B006
        add_special_tokens: bool = False,
    ):
        """The same text through 2 to 6 tokenizers, streamed one tokenizer at a time; the last message has done=true.

        Args:
            text: the text to split.
            tokenizers: 2 to 6 built-in keys or Hub repo ids, e.g. ["gpt2", "llama3"].
            add_special_tokens: add what each tokenizer puts around a sequence.
        """
        # the arguments' types are checked already (_checked)
        for result in backend.compare_steps(
            text=text, tokenizers=tokenizers, add_special_tokens=_flag(add_special_tokens)
        ):
            yield {
                "done": result.done,
                "results": [
                    {
                        "tokenizer": r.info.key,
                        "stats": r.stats.as_dict(),
                        "differing": result.differing[n] if result.done else None,
                    }
                    for n, r in enumerate(result.results)
                ],
            }

    @_api_returns(DecodeReply, "decoded")
    @_user_errors
    def decode(ids: str = EXAMPLE_IDS, tokenizer: str = DEFAULT_TOKENIZER):
        """Token ids back to text, with each id's vocabulary piece and bytes.

        Args:
            ids: the ids as text, such as "[15496, 995]" or "15496 995".
            tokenizer: a built-in key or a Hub repo id owner/name.
        """
        result = backend.decode(ids=ids, tokenizer=tokenizer)
        return {"text": result.text, "tokens": [t.as_dict() for t in result.tokens]}

    _api(tokenize, api_name="tokenize", **pool)
    _api(compare, api_name="compare", **pool)
    _api(decode, api_name="decode", **pool)


def _md_cell(text: str) -> str:
    r"""Catalog text as a Markdown table cell: ``<|begin_of_text|>`` shown as written, its pipes not splitting cells.

    >>> _md_cell("adds <|begin_of_text|>")
    'adds &lt;\\|begin_of_text\\|&gt;'
    """
    return html.escape(text, quote=False).replace("|", "\\|")


def _param_summary(p) -> str:
    """One parameter of a method as the About tab lists it: its label, range and default."""
    if p.kind == "bool":
        return f"{p.label} (default {p.default})"
    return f"{p.label} ({p.minimum}–{p.maximum}, default {p.default})"


def _about_markdown() -> str:
    rows = "\n".join(
        f"| `{s.key}` | {_md_cell(s.family)} | {_md_cell(s.package or 'built in / assets')} | {_md_cell(s.licence)} "
        f"| {_md_cell(s.notes)} |"
        for s in TOKENIZERS.values()
    )
    return (
        "## Built-in tokenizers (all offline)\n\n"
        "| key | family | files from | licence | notes |\n|---|---|---|---|---|\n"
        f"{rows}\n\n"
        "Special-token strings typed in the text (such as `<|endoftext|>`) are read as special tokens, "
        "as the models' own tokenizers do. *Add special tokens* adds what the tokenizer puts around a "
        "sequence (Llama 3's `<|begin_of_text|>`, SentencePiece `<s>`, BERT's `[CLS]` … `[SEP]`).\n\n"
        "Share links: `?tokenizer=KEY&text=...` opens the Tokenize tab with that text (`&special=1`, `&ws=1` "
        "and `&show=pieces` or `&show=ids` set its options); `?compare=gpt2,llama3&text=...` opens the Compare "
        f"tab with those tokenizers. The *Copy a share link* button keeps links within {SHARE_LINK_CHARS:,} "
        "characters, and says how much of a longer text it kept.\n\n"
        "## Models\n\n| key | source | parameters | licence |\n|---|---|---|---|\n"
        + "\n".join(
            f"| `{m.key}` | {'embedded (offline)' if m.source == 'gguf' else 'Hub: ' + str(m.repo_id)} | "
            f"{m.params_m}M | {m.licence} |"
            for m in MODELS.values()
        )
        + "\n\n## Decoding methods\n\n| key | method | parameters |\n|---|---|---|\n"
        + "\n".join(
            f"| `{m.key}` | {m.label}: {m.description} | {', '.join(_param_summary(p) for p in m.params) or '—'} |"
            for m in METHODS.values()
        )
        + "\n\nEvery method also takes: "
        + ", ".join(f"{p.label} ({p.minimum}–{p.maximum}, default {p.default})" for p in COMMON_PARAMS)
        + ", and stop strings."
    )


# --- the Generate tab -----------------------------------------------------------------------------

DEFAULT_PROMPT = "What is the capital of France? Answer in one sentence."


def _param_component(param: Param, *, elem_id: str) -> gr.components.Component:
    """A slider / checkbox / number built from a preset's parameter (its one source of truth)."""
    if param.kind == "bool":
        return gr.Checkbox(value=bool(param.default), label=param.label, info=param.info or None, elem_id=elem_id)
    if param.name == "seed":
        # no precision / minimum / maximum: Gradio would round 1.5 to 2 or refuse -1 with a toast of its own;
        # rsdemo checks the value (Param.check) and says what is wrong beside the settings; the range is in the help
        return gr.Number(value=param.default, label=param.label, info=param.help, elem_id=elem_id)
    return gr.Slider(
        minimum=param.minimum,
        maximum=param.maximum,
        step=param.step,
        value=param.default,
        label=param.label,
        info=param.info or None,
        elem_id=elem_id,
    )


def _generation_stats(result: GenerationResult) -> dict[str, Any]:
    stats: dict[str, Any] = {"tokens": len(result.tokens)}
    if result.logprob is not None:
        stats["log-prob (raw)"] = round(result.logprob, 3)
        stats["perplexity"] = round(result.perplexity or 0.0, 3)
    if result.load_s is not None:
        stats["model load s"] = round(result.load_s, 2)
    if result.ttft_s is not None:
        stats["first token s"] = round(result.ttft_s, 3)
    if result.tokens_per_s is not None:
        stats["tokens / s"] = round(result.tokens_per_s, 1)
    if result.method in SEEDED:
        stats["seed"] = result.seed
    if result.engine:
        stats["engine"] = result.engine
    if result.served:
        stats["probabilities from"] = result.served
    return stats


def _render_stats_cards(stats: dict[str, Any], *, title: str) -> str:
    import html as _html

    cards = "".join(
        f'<div class="rs-card"><b>{_html.escape(str(v))}</b><span>{_html.escape(k)}</span></div>'
        for k, v in stats.items()
    )
    return f'<div class="rs-stats"><div class="rs-stats-title">{_html.escape(title)}</div>{cards}</div>'


def _result_json(result: GenerationResult) -> dict[str, Any]:
    return {
        "model": result.model,
        "method": result.method,
        "seed": result.seed,
        "done": result.done,
        "text": result.text,
        "tokens": [
            {
                "id": t.id,
                "text": t.text,
                "piece": t.piece,
                "prob": t.prob if t.prob is not None else t.raw_prob,
                "raw_prob": t.raw_prob,
            }
            for t in result.tokens
        ],
        "beams": [{"text": b.text, "score": b.score} for b in result.beams],
        "finish_reason": result.finish_reason,
        "logprob": result.logprob,
        "perplexity": result.perplexity,
        "engine": result.engine,
        "engine_reason": result.engine_reason,
        "notes": list(result.notes),
        "waiting": result.waiting,
        "preparing": result.preparing,
        "load_s": result.load_s,
        "ttft_s": result.ttft_s,
    }


def _render_preparing(stage: str) -> str:
    """The Generate tab while a run waits for the start-up warm-up to get its model ready.

    >>> "checking llama.cpp" in _render_preparing("Loading the model and checking llama.cpp…")
    True
    """
    return (
        '<div class="rs-stats"><div class="rs-stats-title">getting the model ready</div>'
        f'<div class="rs-legend" role="status">The app gets the model ready once after a start: '
        f"{html.escape(stage)} Your run starts as soon as it is ready.</div></div>"
    )


_STREAM_EVERY_S = 0.08  # the most often a streaming run updates the page (and an API client)


def _paced(results: Iterator[GenerationResult]) -> Iterator[GenerationResult]:
    """A run's updates at most every ``_STREAM_EVERY_S`` (the page's and the API's): the first token, then the
    newest one each time, and the end; places in line always. Each update carries the whole run so far, so a
    skipped one loses nothing; rendering or sending every token of a long run would cost quadratic time."""
    shown_at = 0.0
    try:
        for result in results:
            now = time.monotonic()
            if (
                not result.done
                and result.waiting is None
                and len(result.tokens) > 1
                and now - shown_at < _STREAM_EVERY_S
            ):
                continue
            shown_at = now
            yield result
    finally:  # a visitor who leaves closes this generator: the run stops at once
        close = getattr(results, "close", None)
        if close is not None:
            close()


SEEDED = frozenset(k for k, m in METHODS.items() if m.samples)  # methods whose output depends on the seed


def _engine_choices(backend: Backend) -> list[tuple[str, str]]:
    """The engine dropdown, from the backend's engines (fastest first); absent or set-aside ones say so."""
    choices = [("automatic (the fastest that can run the method)", "")]
    for name, engine in backend.engines.items():
        missing = engine.missing() or ""
        why = missing.split(": ", 1)[1].split(";")[0] if "unavailable on this machine: " in missing else ""
        suffix = f" — unavailable on this machine: {why}" if why else " — not installed" if missing else ""
        choices.append((engine.capabilities.label + suffix, name))
    return choices


_GEN_STALE = '<div class="rs-stale">No run for these settings: see the message beside the input it is about.</div>'
_TREE_STALE = '<div class="rs-stale">No tree for these settings: see the message above.</div>'


def _generation_field(err: RsdemoError) -> str:
    """Where the Generate tab shows an error: beside the ``prompt``, the ``model``, the method's ``settings``,
    or over the output (``run``: the server is busy, the run was stopped before it started).

    >>> from rsdemo.core.errors import HubUnavailableError
    >>> _generation_field(InputError("x", field="stop")), _generation_field(HubUnavailableError("offline"))
    ('settings', 'model')
    """
    field = err.field
    if field in {"prompt", "model"}:
        return field
    if field in {"params", "stop", "method", "engine"}:
        return "settings"
    if isinstance(err, (HubError, AssetMissingError)):
        return "model"
    return "run"


def _pick_candidate(token: Any, instead: str) -> Any:
    """The token a branch continues from: an alternative of ``token`` by id or by text (as listed), never ``token``
    itself (a branch to the token the run took would repeat the run).

    >>> from rsdemo.generation.results import Alternative
    >>> took = GeneratedToken(287, " of", 0.9, None, (Alternative(287, " of", 0.9, " of"),
    ...                       Alternative(11, ",", 0.05, ",")), (), " of", b" of")
    >>> _pick_candidate(took, ",").id
    11
    >>> _pick_candidate(took, " of")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: ' of' is the token the run took there: pick another one to branch to.
    """
    if not instead:
        raise InputError(
            "Type the token to use instead (its id, or its text as listed), or click an alternative.", field="params"
        )
    alternatives = list(getattr(token, "top", ()) or ()) + list(getattr(token, "raw_top", ()) or ())
    wanted = int(instead) if instead.lstrip("-").isdigit() else None
    if wanted == token.id or (wanted is None and instead in (token.text, token.piece)):
        raise InputError(
            f"{token.text!r} is the token the run took there: pick another one to branch to.", field="params"
        )
    for alt in alternatives:
        if (wanted is not None and alt.id == wanted) or (wanted is None and instead in (alt.text, alt.piece)):
            return GeneratedToken(alt.id, alt.piece, alt.prob, None, (), (), alt.text, alt.text.encode("utf-8"))
    if wanted is not None and wanted >= 0:
        return GeneratedToken(wanted, f"#{wanted}", float("nan"), None, (), (), f"#{wanted}", None)
    raise InputError(
        f"{instead[:40]!r} is not one of this token's alternatives; type its id to force any token.", field="params"
    )


def _drawn_seed(params: dict[str, Any], result: GenerationResult) -> str:
    """Beside the settings, when Seed is -1 and the method samples: the seed this run drew (it is in the stats too),
    so the visitor can type it to run the same again; Seed keeps -1, so the next run draws a new one."""
    if result.method not in SEEDED or not asks_random_seed(params):
        return ""
    return (
        f'<div class="rs-notice" role="status">Seed -1: this run drew seed {result.seed}. Type {result.seed} in '
        "Seed to run it again.</div>"
    )


def _generation_notes(err: RsdemoError, *, run_beside_settings: bool = False) -> tuple[str, str, str]:
    """The prompt, model and settings notes for an error: the message beside its field, the others empty.

    ``run_beside_settings``: a page without a run area shows "run" errors (busy server) beside the settings.
    """
    where = _generation_field(err)
    if run_beside_settings and where == "run":
        where = "settings"
    return tuple(_note(err) if where == f else "" for f in ("prompt", "model", "settings"))  # type: ignore[return-value]


def _visitor(request: gr.Request | None) -> str:
    """Who asks: the browser session or API client (Gradio's session hash)."""
    return getattr(request, "session_hash", None) or "anonymous"


def _generate_tab(backend: Backend, js_tokens: str) -> tuple[gr.Dropdown, gr.Dropdown]:
    method_keys = list(METHODS)
    with gr.Row(elem_classes=["rs-split"]):
        with gr.Column(scale=3, elem_classes=["rs-main"]):
            prompt = gr.Textbox(
                value=DEFAULT_PROMPT,
                label="Prompt",
                lines=4,
                max_lines=12,
                elem_id="rs-prompt",
                elem_classes=["rs-first"],
            )
            prompt_note = gr.HTML(elem_id="rs-prompt-note", elem_classes=["rs-note", "rs-first"])
            with gr.Row(elem_classes=["rs-after-side"]):
                go = gr.Button("Generate", variant="primary", elem_id="rs-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="rs-stop")
            gen_stats = gr.HTML(elem_id="rs-gen-stats")
            distribution = gr.Radio(
                [("after the decoding filters", "filtered"), ("raw model", "raw")],
                value="filtered",
                label="Colour tokens by their probability",
                elem_id="rs-distribution",
            )
            second_box = gr.Checkbox(
                value=False,
                label="Mark the tokens where transformers ranks another token first",
                info="For a run on llama.cpp or a server: one forward pass of transformers over the run; near-ties "
                "can fall the other way in other arithmetic",
                elem_id="rs-second",
            )
            second_note = gr.HTML(elem_id="rs-second-note", elem_classes=["rs-note"])
            gen_view = gr.HTML(elem_id="rs-gen-view", js_on_load=js_tokens)
            with gr.Accordion("Prompt as the model sees it", open=False):
                prompt_seen = gr.Textbox(
                    label="Templated prompt (special tokens included)",
                    lines=6,
                    interactive=False,
                    elem_id="rs-prompt-seen",
                )
                notes = gr.Markdown(elem_id="rs-gen-notes")
            with gr.Accordion("Reproduce this run", open=False):
                code = gr.Code(language="python", label="transformers code", elem_id="rs-code")
            with gr.Accordion("Branches: continue from another candidate", open=True, elem_id="rs-branch"):
                gr.Markdown(
                    "Click a generated token, then one of its alternatives: the run continues from that "
                    "candidate with the same method, seed and engine, shown below. Branches branch too.",
                    elem_classes=["rs-legend"],
                )
                with gr.Row():
                    # no precision / minimum: rsdemo checks them (run_branch), never rounding, beside the button
                    branch_from = gr.Number(
                        value=0, label="from run (0: the run above)", elem_id="rs-branch-from", min_width=120
                    )
                    branch_at = gr.Number(value=1, label="at token #", elem_id="rs-branch-at", min_width=120)
                    branch_token = gr.Textbox(
                        label="token instead (id or text)", elem_id="rs-branch-token", min_width=160
                    )
                    branch_go = gr.Button("Branch", elem_id="rs-branch-go", min_width=100)
                branch_note = gr.HTML(elem_id="rs-branch-note", elem_classes=["rs-note"])
                branches_view = gr.HTML(elem_id="rs-branches", js_on_load=js_tokens)
            with gr.Accordion("Beam search tree", open=False, elem_id="rs-tree"):
                gr.Markdown(
                    f"Beam search with the beam method's settings and the max new tokens above (at most "
                    f"{TREE_BEAMS} beams; a longer run draws its first {TREE_STEPS} tokens), every "
                    "hypothesis it kept at each step drawn as a tree.",
                    elem_classes=["rs-legend"],
                )
                tree_go = gr.Button("Draw the beam tree", elem_id="rs-tree-go")
                tree_note = gr.HTML(elem_id="rs-tree-note", elem_classes=["rs-note"])
                tree_view = gr.HTML(elem_id="rs-tree-view")
            with gr.Accordion("Method arena: 2 to 4 methods side by side", open=False, elem_id="rs-arena"):
                arena_methods = gr.Dropdown(
                    choices=backend.method_choices(),
                    value=["greedy", "top_p", "beam"],
                    multiselect=True,
                    max_choices=4,
                    label="Methods (each with its defaults; "
                    "the prompt, model, max new tokens, seed and penalties above)",
                    elem_id="rs-arena-methods",
                )
                arena_engines = gr.Dropdown(
                    choices=[(e.capabilities.label, name) for name, e in backend.engines.items()],
                    value=[],
                    multiselect=True,
                    label="Engines (optional)",
                    info="Two or more: every method runs on every engine, with the same seed: where a fast engine's "
                    "numbers part from transformers', the outputs part too",
                    elem_id="rs-arena-engines",
                )
                arena_go = gr.Button("Run side by side", elem_id="rs-arena-go")
                arena_note = gr.HTML(elem_id="rs-arena-note", elem_classes=["rs-note"])
                arena_table = gr.HTML(elem_id="rs-arena-table")
                arena_view = gr.HTML(elem_id="rs-arena-view", js_on_load=js_tokens)
        with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
            hub_off = backend.hub_problem(probe=False)
            model = gr.Dropdown(
                choices=backend.model_choices_here(hub_problem=hub_off),
                value=DEFAULT_MODEL,
                label="Model",
                info=_model_info(hub_off),
                allow_custom_value=True,
                elem_id="rs-model",
            )
            model_note = gr.HTML(elem_id="rs-model-note", elem_classes=["rs-note"])
            engine = gr.Dropdown(
                choices=_engine_choices(backend),
                value="",
                label="Engine",
                info="Automatic: the fastest engine that can run the method here",
                elem_id="rs-engine",
            )
            chat = gr.Checkbox(value=True, label="Use the chat template", elem_id="rs-chat")
            method = gr.Dropdown(
                choices=backend.method_choices(), value="greedy", label="Decoding method", elem_id="rs-method"
            )
            description = gr.Markdown(METHODS["greedy"].description, elem_id="rs-method-info")
            groups = []
            method_inputs: list[gr.components.Component] = []
            slots: list[tuple[str, str]] = []  # (method, param) for each input, in order
            for key in method_keys:
                spec = METHODS[key]
                with gr.Group(visible=key == "greedy") as group:
                    for param in spec.params:
                        method_inputs.append(_param_component(param, elem_id=f"rs-p-{key}-{param.name}"))
                        slots.append((key, param.name))
                groups.append(group)
            common_inputs = [_param_component(p, elem_id=f"rs-p-{p.name}") for p in COMMON_PARAMS]
            stop_strings = gr.Textbox(label="Stop strings (one per line)", lines=2, elem_id="rs-stop-strings")
            settings_note = gr.HTML(elem_id="rs-settings-note", elem_classes=["rs-note"])

    seed_input = common_inputs[[p.name for p in COMMON_PARAMS].index("seed")]
    seed_input.visible = "greedy" in SEEDED  # shown only for methods that sample (the seed changes nothing else)

    def show_method(key: str) -> list[Any]:
        spec = METHODS.get(key, None)
        return [gr.update(value=spec.description if spec else ""), gr.update(visible=key in SEEDED)] + [
            gr.update(visible=k == key) for k in method_keys
        ]

    method.change(show_method, [method], [description, seed_input, *groups], api_visibility="private")

    def collect(method_key: str, values: Sequence[Any]) -> dict[str, Any]:
        own = values[: len(method_inputs)]
        common = values[len(method_inputs) :]
        params = {name: v for (m, name), v in zip(slots, own) if m == method_key}
        params.update({p.name: v for p, v in zip(COMMON_PARAMS, common)})
        return params

    def render(result: GenerationResult, dist: str, second: SecondOpinion | None = None) -> str:
        if len(result.beams) > 1:
            blocks = []
            for n, beam in enumerate(result.beams):
                title = f"Beam {n + 1}" + (f" · score {beam.score:.3f}" if beam.score is not None else "")
                blocks.append(
                    render_generation(token_segments(beam.tokens), beam.tokens, distribution=dist, title=title)
                )
            return "".join(blocks)
        return render_generation(token_segments(result.tokens), result.tokens, distribution=dist, run=0, second=second)

    limits = backend.settings
    # runs beyond the slots wait inside the app, told their place; beyond that, in Gradio's queue
    pool = {"concurrency_limit": limits.generation_slots + limits.generation_waiting, "concurrency_id": "generate"}

    @_user_errors
    def run_generation(
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
        params = collect(method_key, values)

        def report(message: str) -> None:
            gr.Info(message)

        # paced: rendering every token of a long run would cost quadratic time
        run = _paced(
            backend.generate(
                model=model_key,
                prompt=prompt_text,
                method=method_key,
                params=params,
                chat=bool(use_chat),
                stop=stops,
                progress=report,
                visitor=_visitor(request),
                engine=engine_key or None,
            )
        )
        cleared = ("", "", "")
        while True:
            try:
                result = next(run)
            except StopIteration:
                return
            except RsdemoError as err:
                # the error replaces the last run's result, and is shown once, beside the input it is about
                stats_out = _note(err) if _generation_field(err) == "run" else ""
                yield (_GEN_STALE, stats_out, "", "", "", None, *_generation_notes(err))
                return
            if result.waiting is not None:
                ahead = f"{result.waiting} ahead of you" if result.waiting else "you are next"
                yield (
                    gr.update(),
                    _render_stats_cards({"waiting": ahead}, title="waiting for a generation slot"),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                    *cleared,
                )
                continue
            if result.preparing:  # the start-up warm-up is loading this model: the run waits for it
                yield (
                    gr.update(),
                    _render_preparing(result.preparing),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                    *cleared,
                )
                continue
            shown_dist = dist if result.done else "raw"
            if result.done:
                title = "done · " + result.finish_reason
            elif not METHODS[result.method].streams:  # a beam method: its leader so far, which may still change
                title = "searching… · the leading beam so far"
            else:
                title = "generating…"
            yield (
                render(result, shown_dist),
                _render_stats_cards(_generation_stats(result), title=title),
                result.prompt.text,
                "\n".join(
                    [
                        f"Engine: {result.engine_reason}",
                        *(("ℹ️ " if n.startswith("Served by") else "⚠️ ") + n for n in result.notes),
                    ]
                ),
                result.code,
                result if result.done else None,
                "",
                "",
                _drawn_seed(params, result),  # the prompt and model notes clear; a drawn seed is said
            )

    last = gr.State(None)
    outputs = [gen_view, gen_stats, prompt_seen, notes, code, last, prompt_note, model_note, settings_note]
    inputs = [model, prompt, method, engine, chat, stop_strings, distribution, *method_inputs, *common_inputs]
    opinion = gr.State(None)

    def mark(kept: GenerationResult | None, dist: str, on: bool) -> tuple[Any, str, SecondOpinion | None]:
        """The last run with transformers' view of each token, marked where it ranks another token first."""
        if kept is None:
            return gr.update(), "", None
        if not on:
            return render(kept, dist), "", None
        try:
            second = backend.second_opinion(run=kept)
        except RsdemoError as err:
            return render(kept, dist), _note(err), None
        differing = len(second.differing)
        summary = (
            f"transformers ranks the same token first as {html.escape(kept.engine)} at "
            f"{len(second.opinions) - differing} of {len(second.opinions)} tokens"
            + (
                f"; the {differing} where it does not are underlined (click one for both probabilities)."
                if differing
                else "."
            )
        )
        return render(kept, dist, second), f'<div class="rs-legend" role="status">{summary}</div>', second

    go.click(run_generation, inputs, outputs, api_visibility="private", show_progress="minimal", **pool).then(
        lambda: gr.update(choices=_engine_choices(backend)), None, [engine], api_visibility="private", queue=False
    ).then(mark, [last, distribution, second_box], [gen_view, second_note, opinion], api_visibility="private", **pool)
    second_box.change(
        mark, [last, distribution, second_box], [gen_view, second_note, opinion], api_visibility="private", **pool
    )

    @_api_returns(GenerateReply, "generation")
    @_user_errors
    def generate_api(
        request: gr.Request,
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        method: str = "greedy",
        params: dict | None = EXAMPLE_PARAMS,  # noqa: B006 (never mutated)
        chat: bool = True,
        stop: str = "",
        engine: str = "",
    ):
        """Generate from a prompt, streaming: each message is the run so far (at most every 0.08 s; a beam method's:
        its leading candidate so far, without probabilities); the last has done=true.

        Args:
            prompt: the prompt (the chat template wraps it when chat is true).
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            method: greedy, beam, diverse_beam, sample, top_k, top_p, min_p, typical, epsilon, eta, beam_sample,
                contrastive, ...
            params: the method's parameters and the common ones, e.g. {"max_new_tokens": 32, "top_p": 0.9, "seed": 1};
                {} for the method's defaults. "seed": -1 draws a random seed, given back in the reply's seed.
            chat: wrap the prompt in the model's chat template.
            stop: stop strings, one per line.
            engine: "llama.cpp", "transformers", "remote" (the operator's serving engine, where one is set up) or ""
                (the fastest that can run the method here).
        """
        for result in _paced(
            backend.generate(
                model=model,
                prompt=prompt,
                method=method,
                params=params or {},
                chat=_flag(chat, "chat"),
                stop=stop or None,
                visitor=_visitor(request),
                engine=engine or None,
            )
        ):
            yield _result_json(result)

    _api(generate_api, api_name="generate", **pool)

    @_api_returns(GenerateReply, "generation")
    @_user_errors
    def branch_api(
        request: gr.Request,
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        method: str = "greedy",
        params: dict | None = EXAMPLE_PARAMS,  # noqa: B006 (never mutated)
        chat: bool = True,
        engine: str = "",
        prefix: list[int] = list(EXAMPLE_PREFIX),  # noqa: B006
    ):
        """Continue a run after tokens you choose (a branch): the prompt, then prefix, then what the method generates.

        Args:
            prompt: the prompt (the chat template wraps it when chat is true).
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            method: a decoding method key; params: its parameters and the common ones (max_new_tokens, seed ...).
            chat: wrap the prompt in the model's chat template.
            engine: the engine of the run you branch from ("llama.cpp", "transformers", "remote"), or "" for the
                fastest.
            prefix: token ids after the prompt: the original run's tokens up to a position, then another candidate.
                The reply's tokens are what follows them.
        """
        # the arguments' types are checked already (_checked)
        for result in _paced(
            backend.generate(
                model=model,
                prompt=prompt,
                method=method,
                params=params or {},
                chat=_flag(chat, "chat"),
                visitor=_visitor(request),
                engine=engine or None,
                prefix=list(prefix),
            )
        ):
            yield _result_json(result)

    _api(branch_api, api_name="branch", **pool)
    prompt.submit(
        run_generation, inputs, outputs, api_visibility="private", show_progress="minimal", trigger_mode="once", **pool
    )

    def stop_generation(request: gr.Request) -> None:
        """Stop this visitor's generation at the next token; the run ends normally, marked as stopped."""
        backend.stop(visitor=_visitor(request))

    stop.click(stop_generation, None, None, api_visibility="private", queue=False)

    labels = {key: spec.label for key, spec in METHODS.items()}
    branches = gr.State([])

    @_user_errors
    def run_branch(
        request: gr.Request,
        kept: GenerationResult | None,
        done: list[dict[str, Any]],
        model_key: str,
        prompt_text: str,
        method_key: str,
        use_chat: bool,
        stops: str,
        source: Any,
        position: Any,
        instead: str,
        dist: str,
        *values: Any,
    ) -> tuple[Any, ...]:
        """Continue from another candidate at one token of the run (or of a branch): same method, seed, engine."""
        sig = (kept.model, kept.method, kept.seed, tuple(t.id for t in kept.tokens)) if kept is not None else None
        done = [b for b in (done or []) if b.get("of") == sig]  # branches of an earlier run are left behind
        try:
            if kept is None or not kept.tokens or len(kept.beams) > 1:
                raise InputError(
                    "Generate first (greedy or a sampling method); then branch from one of its tokens.", field="params"
                )
            runs = [list(kept.tokens)] + [b["tokens"] for b in done]
            n = whole(
                source,
                name="From run",
                minimum=0,
                maximum=len(runs) - 1,
                also=f" (0 is the run above, 1 to {len(runs) - 1} its branches)"
                if len(runs) > 1
                else " (0 is the run above; it has no branches yet)",
            )
            base = runs[n]
            k = whole(position, name="At token #", minimum=1, maximum=len(base), also=f" (the tokens of run {n})")
            chosen = _pick_candidate(base[k - 1], str(instead or "").strip())
            params = collect(method_key, values)
            params["seed"] = kept.seed
            budget = int(kept.params.get("max_new_tokens", 64)) - k
            if budget < 1:
                raise InputError(
                    "That is the last token the run could have: there is nothing to continue.", field="params"
                )
            params["max_new_tokens"] = budget
            prefix = [t.id for t in base[: k - 1]] + [chosen.id]
            final = None
            for final in backend.generate(  # noqa: B007
                model=model_key,
                prompt=prompt_text,
                method=method_key,
                params=params,
                chat=bool(use_chat),
                stop=stops,
                visitor=_visitor(request),
                engine=kept.engine or None,
                prefix=prefix,
            ):
                pass
            assert final is not None
        except RsdemoError as err:
            return gr.update(), done, _note(err)
        tokens = base[: k - 1] + [chosen] + list(final.tokens)
        was = base[k - 1]
        done = done + [
            {
                "of": sig,
                "tokens": tokens,
                "from": n,
                "at": k,
                "title": f"Branch {len(done) + 1}: run {n} at token {k}, {chosen.text!r} instead of "
                f"{was.text!r} · {final.finish_reason}",
            }
        ]
        views = [
            render_generation(
                token_segments(b["tokens"]),
                b["tokens"],
                distribution=dist,
                title=b["title"],
                mark_token=b["at"] - 1,
                run=i + 1,
            )
            for i, b in enumerate(done)
        ]
        return "".join(reversed(views)), done, ""

    @_user_errors
    def draw_tree(model_key: str, prompt_text: str, use_chat: bool, *values: Any) -> tuple[str, str]:
        """Beam search recorded step by step (the beam method's parameters), drawn as a tree."""
        try:
            result = backend.beam_tree(
                model=model_key,
                prompt=prompt_text,
                chat=bool(use_chat),
                params=collect("beam", values),
                progress=gr.Info,
            )
        except RsdemoError as err:  # the note sits just above, beside the button: the tree's settings are there
            return _TREE_STALE, _note(err)
        beams = "".join(
            f"<li>{html.escape(text)} <small>score {score:.3f}</small></li>"
            for text, score in zip(result.texts, result.scores)
        )
        said = "".join(f'<div class="rs-notice" role="status">{html.escape(n)}</div>' for n in result.notes)
        return (
            render_beam_tree(result.tree, pieces=result.pieces)
            + f'<div class="rs-legend">Returned beams, best first:</div><ol class="rs-surprising">{beams}</ol>',
            said,
        )

    tree_go.click(
        draw_tree,
        [model, prompt, chat, *method_inputs, *common_inputs],
        [tree_view, tree_note],
        api_visibility="private",
        show_progress="minimal",
        **pool,
    )

    @_api_returns(BeamTreeReply, "beam_tree")
    @_user_errors
    def beam_tree_api(
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        params: dict | None = EXAMPLE_TREE_PARAMS,
        chat: bool = True,
    ):  # noqa: B006
        """Beam search with every hypothesis it kept at each step: the tree's nodes and the returned beams.

        Args:
            prompt: the prompt.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            params: beam search's parameters, e.g. {"num_beams": 4, "max_new_tokens": 16}: at most 8 beams; a
                longer max_new_tokens than 32 draws a search of 32 tokens and says so in notes.
            chat: wrap the prompt in the model's chat template.
        """
        return backend.beam_tree(model=model, prompt=prompt, chat=_flag(chat, "chat"), params=params or {}).as_dict()

    _api(beam_tree_api, api_name="beam_tree", **pool)

    branch_inputs = [
        last,
        branches,
        model,
        prompt,
        method,
        chat,
        stop_strings,
        branch_from,
        branch_at,
        branch_token,
        distribution,
        *method_inputs,
        *common_inputs,
    ]
    branch_go.click(
        run_branch,
        branch_inputs,
        [branches_view, branches, branch_note],
        api_visibility="private",
        show_progress="minimal",
        **pool,
    )

    @_user_errors
    def run_arena(
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
        common = {p.name: v for p, v in zip(COMMON_PARAMS, values)}
        try:
            for step in backend.arena(
                model=model_key,
                prompt=prompt_text,
                methods=chosen or [],
                params=common,
                chat=bool(use_chat),
                visitor=_visitor(request),
                engines=on or None,
            ):
                shown = {
                    key: labels.get(key.split("@")[0], key) + (f" · {key.split('@')[1]}" if "@" in key else "")
                    for key in step.methods
                }
                views = []
                for run, row in zip(step.runs, step.rows):
                    title = f"{labels.get(run.method, run.method)} · {run.engine} · {run.finish_reason}"
                    if row.same_as is not None:
                        title += f" · same text as {shown.get(row.same_as, row.same_as)}"
                    views.append(
                        render_generation(
                            token_segments(run.tokens),
                            run.tokens,
                            distribution="raw",
                            title=title,
                            mark_token=None if row.same_as is not None or row.start_of is not None else row.diverges_at,
                        )
                    )
                busy = "" if step.done else '<div class="rs-legend">running the next one…</div>'
                yield (render_arena_table(step.rows, labels=shown, scored_by=step.scored_by) + busy, "".join(views), "")
        except RsdemoError as err:
            yield "", _GEN_STALE, _note(err)

    arena_go.click(
        run_arena,
        [model, prompt, chat, arena_methods, arena_engines, *common_inputs],
        [arena_table, arena_view, arena_note],
        api_visibility="private",
        show_progress="minimal",
        **pool,
    )

    @_api_returns(ArenaReply, "arena")
    @_user_errors
    def arena_api(
        request: gr.Request,
        prompt: str = DEFAULT_PROMPT,
        model: str = DEFAULT_MODEL,
        methods: list[str] = list(EXAMPLE_ARENA_METHODS),  # noqa: B006
        params: dict | None = EXAMPLE_PARAMS,
        chat: bool = True,
        engines: list[str] = [],  # noqa: B006 (Gradio shows the default in the API page)
    ):
        """2 to 4 runs on one prompt, model and seed, streamed as each finishes; the last has done=true.

        Args:
            prompt: the prompt.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            methods: decoding method keys, e.g. ["greedy", "top_p", "beam"]; each runs with its defaults.
            params: the common parameters for every run, e.g. {"max_new_tokens": 32, "seed": 1}.
            chat: wrap the prompt in the model's chat template.
            engines: two or more engines, e.g. ["llama.cpp", "transformers"]: every method runs on every engine
                (2 to 4 runs in all); [] (none): each method on the fastest engine that can run it.
        """
        # the arguments' types are checked already (_checked)
        for step in backend.arena(
            model=model,
            prompt=prompt,
            methods=list(methods),
            params=params or {},
            chat=_flag(chat, "chat"),
            visitor=_visitor(request),
            engines=[str(e) for e in engines] if engines else None,
        ):
            yield step.as_dict()

    _api(arena_api, api_name="arena", **pool)

    @_user_errors
    def recolour(kept: GenerationResult | None, dist: str, second: SecondOpinion | None) -> Any:
        """Re-colour the last finished run by the other distribution: no model, no new generation."""
        if kept is None:
            return gr.update()
        return render(kept, dist, second)

    distribution.change(recolour, [last, distribution, opinion], [gen_view], api_visibility="private")
    return engine, model


# --- the Inside tab: the model's own numbers on a prompt ---------------------------------------------------

INSIDE_PROMPT = "The capital of France is"


def _inside_tab(backend: Backend, js_tokens: str) -> gr.Dropdown:
    """Prompt surprisal and the next-token distribution through each stage of a decoding method."""
    method_keys = list(METHODS)
    with gr.Row(elem_classes=["rs-split"]):
        with gr.Column(scale=3, elem_classes=["rs-main"]):
            prompt = gr.Textbox(
                value=INSIDE_PROMPT,
                label="Prompt",
                lines=3,
                max_lines=10,
                elem_id="rs-in-prompt",
                elem_classes=["rs-first"],
            )
            prompt_note = gr.HTML(elem_id="rs-in-prompt-note", elem_classes=["rs-note", "rs-first"])
            go = gr.Button("Look inside", variant="primary", elem_id="rs-in-go", elem_classes=["rs-after-side"])
            gr.Markdown("#### The next token, stage by stage")
            stages_view = gr.HTML(elem_id="rs-in-stages")
            gr.Markdown("#### The prompt, each token coloured by its probability given what precedes it")
            stats = gr.HTML(elem_id="rs-in-stats")
            view = gr.HTML(elem_id="rs-in-surprisal", js_on_load=js_tokens)
        with gr.Column(scale=2, min_width=300, elem_classes=["rs-side"]):
            hub_off = backend.hub_problem(probe=False)
            model = gr.Dropdown(
                choices=backend.model_choices_here(hub_problem=hub_off),
                value=DEFAULT_MODEL,
                label="Model",
                info=_model_info(hub_off, scored=True),
                allow_custom_value=True,
                elem_id="rs-in-model",
            )
            model_note = gr.HTML(elem_id="rs-in-model-note", elem_classes=["rs-note"])
            chat = gr.Checkbox(
                value=False, label="Use the chat template (the next token starts the answer)", elem_id="rs-in-chat"
            )
            method = gr.Dropdown(
                choices=backend.method_choices(), value="top_p", label="Decoding method", elem_id="rs-in-method"
            )
            groups, method_inputs, slots = [], [], []
            for key in method_keys:
                with gr.Group(visible=key == "top_p") as group:
                    for param in METHODS[key].params:
                        method_inputs.append(_param_component(param, elem_id=f"rs-in-p-{key}-{param.name}"))
                        slots.append((key, param.name))
                groups.append(group)
            shared = [p for p in COMMON_PARAMS if p.name == "repetition_penalty"]
            common_inputs = [_param_component(p, elem_id=f"rs-in-p-{p.name}") for p in shared]
            position = gr.Number(
                value=0,
                label="After token # (0: the whole prompt)",  # checked by rsdemo, not Gradio
                info="The distribution at any point of the text: token numbers as in the view "
                "below. A whole number from 0 up to the prompt's length",
                elem_id="rs-in-position",
            )
            probes = gr.Textbox(
                label="Probe words or tokens (one per line)",
                value="Paris\nLondon",
                lines=2,
                info="Their probability and rank at every stage, even outside the top 10",
                elem_id="rs-in-probes",
            )
            settings_note = gr.HTML(elem_id="rs-in-settings-note", elem_classes=["rs-note"])

    def collect(method_key: str, values: Sequence[Any]) -> dict[str, Any]:
        own = values[: len(method_inputs)]
        params = {name: v for (m, name), v in zip(slots, own) if m == method_key}
        params.update({p.name: v for p, v in zip(shared, values[len(method_inputs) :])})
        return params

    def stages_html(
        model_key: str,
        text: str,
        use_chat: bool,
        method_key: str,
        probe_text: str,
        values: Sequence[Any],
        progress: Callable[[str], None] | None = None,
    ) -> str:
        where, *values = values
        result = backend.next_token(
            model=model_key,
            prompt=text,
            chat=bool(use_chat),
            method=method_key,
            params=collect(method_key, values),
            probes=probe_text or "",
            position=whole(where, name="After token #", minimum=0, also=" (0: after the whole prompt)"),
            progress=progress,
        )
        return render_stages(result.view, pieces=result.pieces, probes=result.probes)

    @_user_errors
    def look(model_key: str, text: str, use_chat: bool, method_key: str, probe_text: str, *values: Any) -> tuple:
        """Score the prompt (one forward pass), then show the next-token stages and the prompt's surprisal."""
        try:
            staged = stages_html(model_key, text, use_chat, method_key, probe_text, values, progress=gr.Info)
            scored = backend.surprisal(model=model_key, prompt=text, chat=bool(use_chat))
        except RsdemoError as err:
            return ("", "", _GEN_STALE, *_generation_notes(err, run_beside_settings=True))
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
    def restage(model_key: str, text: str, use_chat: bool, method_key: str, probe_text: str, *values: Any) -> tuple:
        """A method, parameter or probe changed: the stages again from the kept forward pass."""
        try:
            return (stages_html(model_key, text, use_chat, method_key, probe_text, values), "", "", "")
        except RsdemoError as err:
            return (
                '<div class="rs-stale">No distribution for these settings: see the message beside the input '
                "it is about.</div>",
                *_generation_notes(err, run_beside_settings=True),
            )

    def show_method(key: str) -> list[Any]:
        return [gr.update(visible=k == key) for k in method_keys]

    limits = backend.settings
    pool = {"concurrency_limit": limits.generation_slots + limits.generation_waiting, "concurrency_id": "generate"}
    inputs = [model, prompt, chat, method, probes, position, *method_inputs, *common_inputs]
    look_outputs = [stages_view, stats, view, prompt_note, model_note, settings_note]
    page = {"api_visibility": "private", "show_progress": "minimal", **pool}
    go.click(look, inputs, look_outputs, **page)
    prompt.submit(look, inputs, look_outputs, trigger_mode="once", **page)
    method.change(show_method, [method], groups, api_visibility="private", queue=False)
    for control in (method, probes, position, *method_inputs, *common_inputs):
        control.change(
            restage, inputs, [stages_view, prompt_note, model_note, settings_note], trigger_mode="always_last", **page
        )

    @_api_returns(SurprisalReply, "surprisal")
    @_user_errors
    def surprisal_api(prompt: str = INSIDE_PROMPT, model: str = DEFAULT_MODEL, chat: bool = False):
        """How surprising each prompt token is to the model: its log-probability given what precedes it.

        Args:
            prompt: the text to score.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            chat: score the prompt wrapped in the model's chat template.
        """
        return backend.surprisal(model=model, prompt=prompt, chat=_flag(chat, "chat")).as_dict()

    @_api_returns(NextTokenReply, "next_token")
    @_user_errors
    def next_token_api(
        prompt: str = INSIDE_PROMPT,
        model: str = DEFAULT_MODEL,
        chat: bool = False,
        method: str = "top_p",
        params: dict | None = EXAMPLE_STAGE_PARAMS,  # noqa: B006
        probes: str = "Paris",
        position: int = 0,
    ):
        """The next-token distribution after the prompt, through each stage of the method's pipeline.

        Args:
            prompt: the text so far.
            model: a built-in model key or a Hub causal-LM repo id owner/name.
            chat: wrap the prompt in the model's chat template first.
            method: a decoding method key (its stages: repetition penalty, temperature, top-k, top-p, ...).
            params: the method's parameters, e.g. {"top_p": 0.9, "temperature": 0.8}.
            probes: words or tokens, one per line, whose probability and rank every stage reports.
            position: the distribution after the prompt's first N tokens (0: after the whole prompt).
        """
        return backend.next_token(
            model=model,
            prompt=prompt,
            chat=_flag(chat, "chat"),
            method=method,
            params=params or {},
            probes=probes or "",
            position=position,
        ).as_dict()

    _api(surprisal_api, api_name="surprisal", **pool)
    _api(next_token_api, api_name="next_token", **pool)
    return model
