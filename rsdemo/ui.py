"""The Gradio UI: built from the catalog, calling the backend; the only module that imports gradio.

Callbacks are thin adapters: they call ``Backend``, render with ``rsdemo.render`` and turn
``RsdemoError`` into ``gr.Error`` here, at the edge.

Usage (this is what ``app.py`` does)::

    demo = build_demo(backend=Backend())
    demo.queue(max_size=64).launch(**launch_options())
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from .backend import Backend, TokenizeResult
from .catalog import DEFAULT_TOKENIZER, TOKENIZERS
from .errors import RsdemoError
from .render import render_decode, render_stats, render_token_view

__all__ = ["build_demo", "launch_options"]

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_TEXT = (
    "Hello world! Tokenizers split text into pieces: naïve café, 東京タワー, 👩‍👩‍👧 and 🇫🇷.\n"
    "\tIndented code: for i in range(10): print(i ** 2)  # 1234567890\n"
    "<|endoftext|> is a special token in GPT-2."
)
VIEW_MODES = ("text", "pieces", "ids")
DEFAULT_COMPARE = ("gpt2", "cl100k_base", "llama3", "mistral-v1", "bert-base-uncased")
F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Turn rsdemo's typed errors into ``gr.Error``; anything else into a short, logged internal error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RsdemoError as err:
            raise gr.Error(str(err), print_exception=False) from err
        except gr.Error:
            raise
        except Exception as err:  # keep serving: report, log, move on
            log.exception("internal error in %s", fn.__name__)
            raise gr.Error(f"Internal error ({type(err).__name__}): {err}") from err

    return wrapper  # type: ignore[return-value]


def launch_options() -> dict[str, Any]:
    """Keyword arguments for ``demo.launch`` (Gradio 6 takes css/theme there)."""
    return {"css": (ASSETS / "style.css").read_text(encoding="utf-8"), "theme": gr.themes.Soft()}


def _notice(result: TokenizeResult) -> str:
    notes = []
    if result.truncated:
        notes.append(
            f"Showing the first {result.shown_tokens:,} of {len(result.ids):,} tokens; "
            "the stats and ids cover the whole text."
        )
    if not result.info.lossless:
        notes.append(f"{result.info.label} is not lossless: {result.info.notes}")
    return " ".join(notes)


def _ids_text(result: TokenizeResult) -> str:
    shown = result.ids[: result.shown_tokens]
    more = f"  … and {len(result.ids) - len(shown):,} more" if len(shown) < len(result.ids) else ""
    return "[" + ", ".join(map(str, shown)) + "]" + more


def build_demo(*, backend: Backend) -> gr.Blocks:
    """The whole app: Tokenize, Compare and About tabs, every event with an ``api_name``."""
    choices = backend.tokenizer_choices()
    js_tokens = (ASSETS / "tokens.js").read_text(encoding="utf-8")

    def progress_reporter(progress: gr.Progress) -> Callable[[str], None]:
        def report(message: str) -> None:
            gr.Info(message)
            progress(0, desc=message)

        return report

    @_user_errors
    def tokenize(
        text: str,
        tokenizer: str,
        add_special_tokens: bool,
        show_whitespace: bool,
        show: str,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str, str, dict[str, Any]]:
        result = backend.tokenize(
            text=text,
            tokenizer=tokenizer,
            add_special_tokens=bool(add_special_tokens),
            progress=progress_reporter(progress),
        )
        view = render_token_view(
            result.segments,
            tokens=result.tokens,
            show_whitespace=bool(show_whitespace),
            show=show if show in VIEW_MODES else "text",
            notice=_notice(result),
        )
        title = f"{result.info.label} · {result.info.family}"
        return render_stats(result.stats.as_dict(), title=title), view, _ids_text(result), result.as_dict()

    @_user_errors
    def decode(ids: str, tokenizer: str) -> tuple[str, str]:
        result = backend.decode(ids=ids, tokenizer=tokenizer)
        return result.text, render_decode(result.tokens)

    @_user_errors
    def compare(
        text: str, tokenizers: list[str], add_special_tokens: bool, show_whitespace: bool
    ) -> tuple[list[list[Any]], str]:
        result = backend.compare(text=text, tokenizers=tokenizers or [], add_special_tokens=bool(add_special_tokens))
        rows = []
        views = [
            '<div class="rs-legend">Tokens underlined in red start or end where not every tokenizer has a boundary '
            "(whitespace ignored).</div>"
        ]
        for r in result.results:
            s = r.stats
            rows.append(
                [r.info.key, s.tokens, s.chars_per_token, s.bytes_per_token, s.tokens_per_word, s.vocab_size,
                 "yes" if r.info.lossless else "no"]
            )
            n_diff = sum(1 for seg in r.segments if result.differs(seg))
            head = (
                f'<div class="rs-compare-head">{r.info.label} — {s.tokens:,} tokens, '
                f"{n_diff:,} on boundaries not shared by all</div>"
            )
            views.append(
                f'<div class="rs-compare-row" data-tokenizer="{r.info.key}">{head}'
                + render_token_view(
                    r.segments,
                    tokens=r.tokens,
                    show_whitespace=bool(show_whitespace),
                    differs=result.differs,
                    notice=_notice(r),
                    details=False,
                )
                + "</div>"
            )
        return rows, "".join(views)

    def from_url(request: gr.Request) -> tuple[Any, ...]:
        params = dict(request.query_params) if request is not None else {}
        text = params.get("text")
        tok = params.get("tokenizer")
        special = params.get("special")
        compare_keys = [k for k in (params.get("compare") or "").split(",") if k in TOKENIZERS]
        return (
            gr.update(value=text) if text else gr.update(),
            gr.update(value=tok) if tok else gr.update(),
            gr.update(value=special in {"1", "true", "yes"}) if special else gr.update(),
            gr.update(value=text) if text else gr.update(),
            gr.update(value=compare_keys) if len(compare_keys) >= 2 else gr.update(),
        )

    with gr.Blocks(title="rsdemo — inside language models") as demo:
        gr.Markdown(
            "# rsdemo — look inside language models\n"
            "See exactly how text becomes tokens. Every built-in tokenizer runs offline; "
            "type a Hugging Face repo id (`owner/name`) to load one from the Hub."
        )
        with gr.Tabs():
            with gr.Tab("Tokenize", id="tokenize"):
                with gr.Row():
                    with gr.Column(scale=3):
                        text = gr.Textbox(value=SAMPLE_TEXT, label="Text", lines=6, max_lines=16, elem_id="rs-text")
                        stats = gr.HTML(elem_id="rs-stats")
                    with gr.Column(scale=1, min_width=260):
                        tokenizer = gr.Dropdown(
                            choices=choices,
                            value=DEFAULT_TOKENIZER,
                            label="Tokenizer",
                            info="Or type a Hub repo id, e.g. Qwen/Qwen2.5-0.5B",
                            allow_custom_value=True,
                            filterable=True,
                            elem_id="rs-tokenizer",
                        )
                        special = gr.Checkbox(label="Add special tokens (BOS / CLS / SEP)", value=False,
                                              elem_id="rs-special")
                        whitespace = gr.Checkbox(label="Show whitespace and invisible characters", value=False,
                                                 elem_id="rs-whitespace")
                        show_mode = gr.Radio(list(VIEW_MODES), value="text", label="Each token shows",
                                             elem_id="rs-show")
                        share = gr.Button("Copy a share link", size="sm", elem_id="rs-share")
                        share_url = gr.Textbox(label="Share link", interactive=False, elem_id="rs-share-url",
                                               buttons=["copy"])
                view = gr.HTML(elem_id="rs-view", js_on_load=js_tokens)
                with gr.Accordion("Token ids", open=False):
                    ids_box = gr.Textbox(label="Ids", lines=3, max_lines=10, interactive=False, buttons=["copy"],
                                         elem_id="rs-ids")
                with gr.Accordion("Decode ids to text", open=True):
                    with gr.Row():
                        decode_in = gr.Textbox(label="Ids", placeholder="[15496, 995]", scale=3, elem_id="rs-decode-in")
                        decode_btn = gr.Button("Decode", scale=1, elem_id="rs-decode-btn")
                    decoded = gr.Textbox(label="Text", interactive=False, elem_id="rs-decoded")
                    decoded_view = gr.HTML(elem_id="rs-decoded-view")
                result_json = gr.JSON(visible=False)

            with gr.Tab("Compare", id="compare"):
                with gr.Row():
                    cmp_text = gr.Textbox(value=SAMPLE_TEXT, label="Text", lines=5, max_lines=12, scale=3,
                                          elem_id="rs-cmp-text")
                    with gr.Column(scale=1, min_width=260):
                        cmp_keys = gr.Dropdown(
                            choices=choices,
                            value=list(DEFAULT_COMPARE),
                            multiselect=True,
                            max_choices=backend.settings.max_compare,
                            label=f"Tokenizers ({backend.settings.min_compare} to {backend.settings.max_compare})",
                            elem_id="rs-cmp-keys",
                        )
                        cmp_special = gr.Checkbox(label="Add special tokens", value=False)
                        cmp_ws = gr.Checkbox(label="Show whitespace", value=False)
                        cmp_btn = gr.Button("Compare", variant="primary", elem_id="rs-cmp-btn")
                cmp_table = gr.Dataframe(
                    headers=["tokenizer", "tokens", "chars/token", "bytes/token", "tokens/word", "vocabulary", "lossless"],
                    interactive=False,
                    elem_id="rs-cmp-table",
                )
                cmp_view = gr.HTML(elem_id="rs-cmp-view")

            with gr.Tab("About", id="about"):
                gr.Markdown(_about_markdown())

        tok_inputs = [text, tokenizer, special, whitespace, show_mode]
        tok_outputs = [stats, view, ids_box, result_json]
        fast = {"concurrency_limit": 8, "concurrency_id": "tokenize"}
        tok_event = dict(fn=tokenize, inputs=tok_inputs, outputs=tok_outputs, show_progress="minimal", **fast)
        text.change(**tok_event, api_name="tokenize", trigger_mode="always_last")
        for control in (tokenizer, special, whitespace, show_mode):
            control.change(**tok_event, api_visibility="private", trigger_mode="always_last")
        decode_btn.click(decode, [decode_in, tokenizer], [decoded, decoded_view], api_name="decode", **fast)
        decode_in.submit(decode, [decode_in, tokenizer], [decoded, decoded_view], api_visibility="private", **fast)
        cmp_args = dict(fn=compare, inputs=[cmp_text, cmp_keys, cmp_special, cmp_ws], outputs=[cmp_table, cmp_view],
                        **fast)
        cmp_btn.click(**cmp_args, api_name="compare")
        for control in (cmp_keys, cmp_special, cmp_ws):
            control.change(**cmp_args, api_visibility="private", trigger_mode="always_last")
        share.click(
            None,
            [text, tokenizer, special],
            [share_url],
            js="""(text, tok, special) => {
                const url = new URL(window.location.href.split('?')[0]);
                url.searchParams.set('tokenizer', tok);
                url.searchParams.set('text', text.slice(0, 4000));
                if (special) url.searchParams.set('special', '1');
                const link = url.toString();
                if (navigator.clipboard) navigator.clipboard.writeText(link).catch(() => {});
                return link;
            }""",
        )
        demo.load(from_url, None, [text, tokenizer, special, cmp_text, cmp_keys], api_visibility="private").then(
            **tok_event, api_visibility="private"
        ).then(**cmp_args, api_visibility="private")
    return demo


def _about_markdown() -> str:
    rows = "\n".join(
        f"| `{s.key}` | {s.family} | {s.package or 'built in / assets'} | {s.licence} | {s.notes} |"
        for s in TOKENIZERS.values()
    )
    return (
        "## Built-in tokenizers (all offline)\n\n"
        "| key | family | files from | licence | notes |\n|---|---|---|---|---|\n"
        f"{rows}\n\n"
        "Special-token strings typed in the text (such as `<|endoftext|>`) are read as special tokens, "
        "as the models' own tokenizers do. *Add special tokens* adds what the tokenizer puts around a "
        "sequence (Llama 3's `<|begin_of_text|>`, SentencePiece `<s>`, BERT's `[CLS]` … `[SEP]`).\n\n"
        "Share links: `?tokenizer=KEY&text=...` opens the Tokenize tab with that text; "
        "`?compare=gpt2,llama3&text=...` fills the Compare tab."
    )
