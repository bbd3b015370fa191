"""The Tokenize tab: a text through one tokenizer, its token view and ids, Decode, and a share link."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from ..backend import Backend, TokenizeResult
from ..catalog import DEFAULT_TOKENIZER
from ..core.errors import RsdemoError
from ..downloads import write_ids_file
from ..render import render_decode, render_stats, render_token_view
from ..render.page import STALE, field_note, ids_note, ids_text, notice
from ..share import SHARE_LINK_CHARS, VIEW_MODES
from .errors import _field_of, _user_errors
from .explain_panel import ExplainPanel
from .hub import _tokenizer_info
from .lang import tr
from .serving import _tell
from .share_export import SharePanel
from .vocab_panel import VocabPanel

__all__ = ["SAMPLE_TEXT", "TokenizeTab", "_ids_download"]

log = logging.getLogger(__name__)
SAMPLE_TEXT = (
    "Hello world! Tokenizers split text into pieces: naïve café, 東京タワー, 👩‍👩‍👧 and 🇫🇷.\n"
    "\tIndented code: for i in range(10): print(i ** 2)  # 1234567890\n"
    "<|endoftext|> is a special token in GPT-2."
)

# every setting of the tab (and lang=zh on a Chinese page), then as much of the text (whole characters) as keeps
# the link, URL-encoded, within SHARE_LINK_CHARS characters (rsdemo/share.py reads it back)
_SHARE_JS = f"""(text, tok, special, ws, show) => {{
                const url = new URL(window.location.href.split('#')[0].split('?')[0]);
                url.searchParams.set('tokenizer', tok || '');
                if (special) url.searchParams.set('special', '1');
                if (ws) url.searchParams.set('ws', '1');
                if (show && show !== 'text') url.searchParams.set('show', show);
                if ((document.documentElement.lang || '').toLowerCase().startsWith('zh'))
                    url.searchParams.set('lang', 'zh');  // the page's language: the link opens in Chinese too
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
            }}"""


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


class TokenizeTab:
    """The tab's components (built inside its ``gr.Tab``), its callbacks, and its events (``wire``, ``wire_share``:
    ``build_demo`` calls them where the page's events are wired)."""

    def __init__(self, backend: Backend, *, choices: list[tuple[str, str]], js_tokens: str, hub_off: str) -> None:
        self.backend = backend
        # layout: .rs-split puts the side column (controls) after the first inputs on a phone
        with gr.Row(elem_classes=["rs-split"]):
            with gr.Column(scale=3, elem_classes=["rs-main"]):
                self.text = gr.Textbox(
                    value=SAMPLE_TEXT,
                    label=tr("Text"),
                    lines=6,
                    max_lines=16,
                    elem_id="rs-text",
                    elem_classes=["rs-first"],
                )
                self.text_note = gr.HTML(elem_id="rs-text-note", elem_classes=["rs-note", "rs-first"])
                self.stats = gr.HTML(elem_id="rs-stats")
                self.view = gr.HTML(elem_id="rs-view", js_on_load=js_tokens)
                self.exports = SharePanel(prefix="rs-tok", link=False)
            with gr.Column(scale=1, min_width=260, elem_classes=["rs-side"]):
                self._side(choices, hub_off)
        self.explain = ExplainPanel()
        self.vocab = VocabPanel()
        with gr.Accordion(tr("Token ids"), open=False):
            self.ids_box = gr.Textbox(
                label=tr("Ids"), lines=3, max_lines=10, interactive=False, buttons=["copy"], elem_id="rs-ids"
            )
            self.ids_note = gr.HTML(elem_id="rs-ids-note", elem_classes=["rs-note"])
            self.ids_file = gr.DownloadButton(
                tr("Download all ids (JSON)"), visible=False, size="sm", elem_id="rs-ids-download"
            )
        with gr.Accordion(tr("Decode ids to text"), open=True):
            with gr.Row():
                self.decode_in = gr.Textbox(
                    label=tr("Ids"), placeholder="[15496, 995]", scale=3, elem_id="rs-decode-in"
                )
                self.decode_btn = gr.Button(tr("Decode"), scale=1, elem_id="rs-decode-btn")
            self.decode_note = gr.HTML(elem_id="rs-decode-note", elem_classes=["rs-note"])
            self.decoded = gr.Textbox(label=tr("Text"), interactive=False, elem_id="rs-decoded")
            self.decoded_view = gr.HTML(elem_id="rs-decoded-view")
        self.event: dict[str, Any] = {}

    def _side(self, choices: list[tuple[str, str]], hub_off: str) -> None:
        self.tokenizer = gr.Dropdown(
            choices=choices,
            value=DEFAULT_TOKENIZER,
            label=tr("Tokenizer"),
            info=tr(_tokenizer_info(hub_off)),
            allow_custom_value=True,
            filterable=True,
            elem_id="rs-tokenizer",
        )
        self.tok_note = gr.HTML(elem_id="rs-tokenizer-note", elem_classes=["rs-note"])
        self.special = gr.Checkbox(label=tr("Add special tokens (BOS / CLS / SEP)"), value=False, elem_id="rs-special")
        self.whitespace = gr.Checkbox(
            label=tr("Show whitespace and invisible characters"), value=False, elem_id="rs-whitespace"
        )
        self.show_mode = gr.Radio(
            [(tr(f"tok.show.{m}"), m) for m in VIEW_MODES],
            value="text",
            label=tr("Each token shows"),
            elem_id="rs-show",
        )
        self.share = gr.Button(tr("Copy a share link"), size="sm", elem_id="rs-share")
        self.share_url = gr.Textbox(label=tr("Share link"), interactive=False, elem_id="rs-share-url", buttons=["copy"])
        self.share_note = gr.HTML(elem_id="rs-share-note", elem_classes=["rs-note"])

    @property
    def inputs(self) -> list[gr.components.Component]:
        """Every setting of the tab, in the order ``tokenize_view`` (and a share link) takes them."""
        return [self.text, self.tokenizer, self.special, self.whitespace, self.show_mode]

    def wire(self, light: dict[str, Any]) -> None:
        """Any setting changed: tokenize again (``self.event``, which the page load runs too); Decode's events."""
        tok_outputs = [self.stats, self.view, self.ids_box, self.text_note, self.tok_note, self.ids_note, self.ids_file]
        # the UI events are the page's own wiring (private); their outputs are plain strings already
        page = {"api_visibility": "private", "postprocess": False, **light}
        self.event = dict(
            fn=self.tokenize_view, inputs=self.inputs, outputs=tok_outputs, show_progress="minimal", **page
        )
        for control in self.inputs:
            control.change(**self.event, trigger_mode="always_last")
        decode_outputs = [self.decoded, self.decoded_view, self.decode_note]
        self.decode_btn.click(self.decode_view, [self.decode_in, self.tokenizer], decode_outputs, **page)
        self.decode_in.submit(self.decode_view, [self.decode_in, self.tokenizer], decode_outputs, **page)
        self.explain.wire(self.backend, text=self.text, tokenizer=self.tokenizer, special=self.special, page=page)
        self.vocab.wire(self.backend, tokenizer=self.tokenizer, page=page)

    def wire_share(self) -> None:
        """The share button: a link to this tab as it is, made and copied in the browser (no server call)."""
        self.share.click(None, self.inputs, [self.share_url, self.share_note], js=_SHARE_JS)

    @_user_errors
    def tokenize_view(
        self,
        text: str,
        tokenizer: str,
        add_special_tokens: bool,
        show_whitespace: bool,
        show: str,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:
        """Stats, view, ids, the two field notes, the ids note and download; an error clears the result and is
        shown by its field. (``progress``: Gradio tracks the event; a slow first load is told as a toast.)"""
        try:
            result = self.backend.tokenize(
                text=text, tokenizer=tokenizer, add_special_tokens=bool(add_special_tokens), progress=_tell
            )
        except RsdemoError as err:
            field = _field_of(err)
            return (
                "",
                STALE,
                "",
                field_note(err) if field == "text" else "",
                field_note(err) if field != "text" else "",
                "",
                gr.update(visible=False, value=None),
            )
        view = render_token_view(
            result.segments,
            tokens=result.tokens,
            show_whitespace=bool(show_whitespace),
            show=show if show in VIEW_MODES else "text",
            notice=notice(result),
        )
        title = f"{result.info.label} · {result.info.family}"
        return (
            render_stats(result.stats.as_dict(), title=title),
            view,
            ids_text(result),
            "",
            "",
            ids_note(result),
            _ids_download(result),
        )

    @_user_errors
    def decode_view(self, ids: str, tokenizer: str) -> tuple[str, str, str]:
        try:
            result = self.backend.decode(ids=ids, tokenizer=tokenizer)
        except RsdemoError as err:
            return "", "", field_note(err)
        return result.text, render_decode(result.tokens), ""
