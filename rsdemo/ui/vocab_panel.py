"""The Tokenize tab's "Vocabulary" accordion: look up an id or a piece, search pieces, the longest, the specials."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..api import vocab_reply
from ..api_schema import VocabReply
from ..backend import Backend
from ..catalog import DEFAULT_TOKENIZER
from ..core.errors import RsdemoError
from ..render.explain import render_vocab
from ..render.page import field_note
from ..tokenization.vocab import VocabResult, browse_vocab
from .api import _api_returns
from .errors import _user_errors
from .lang import tr

__all__ = ["VOCAB_CHOICES", "VocabPanel", "vocab_endpoint", "vocab_for"]

VOCAB_CHOICES = [
    ("Search pieces", "search"),
    ("Id", "id"),
    ("Exact piece", "piece"),
    ("Longest", "longest"),
    ("Special tokens", "special"),
]


def vocab_for(backend: Backend, *, tokenizer: str, query: str, mode: str, limit: int = 100) -> VocabResult:
    """Browse the backend's loaded tokenizer (what the panel and ``/vocab`` call)."""
    info = backend.info(tokenizer)
    return browse_vocab(adapter=backend.adapter(tokenizer), key=info.key, mode=mode, query=query, limit=limit)


class VocabPanel:
    """An accordion: a mode, a query, a button and the entries found."""

    def __init__(self) -> None:
        with gr.Accordion(tr("vocab.acc"), open=False, elem_id="rs-vocab-box"):
            with gr.Row():
                self.mode = gr.Radio(
                    [(tr(f"vocab.mode.{mode}"), mode) for _, mode in VOCAB_CHOICES],
                    value="search",
                    label=tr("vocab.mode"),
                    elem_id="rs-vocab-mode",
                    scale=2,
                )
                self.query = gr.Textbox(
                    label=tr("vocab.query"), placeholder=tr("vocab.placeholder"), elem_id="rs-vocab-query", scale=2
                )
                self.go = gr.Button(tr("vocab.go"), elem_id="rs-vocab-go", scale=1, min_width=100)
            self.out = gr.HTML(elem_id="rs-vocab")

    def wire(self, backend: Backend, *, tokenizer: Any, page: dict[str, Any]) -> None:
        @_user_errors
        def vocab_view(tokenizer_value: str, mode: str, query: str) -> str:
            try:
                result = vocab_for(backend, tokenizer=tokenizer_value, query=query or "", mode=mode or "search")
            except RsdemoError as err:
                return field_note(err)
            return render_vocab(result)

        inputs = [tokenizer, self.mode, self.query]
        self.go.click(vocab_view, inputs, [self.out], **page)
        self.query.submit(vocab_view, inputs, [self.out], **page)


def vocab_endpoint(backend: Backend) -> Any:
    """``/vocab``, registered with the light endpoints (``rsdemo.ui.endpoints``)."""

    @_api_returns(VocabReply, "vocabulary")
    @_user_errors
    def vocab(tokenizer: str = DEFAULT_TOKENIZER, query: str = " the", mode: str = "search"):
        """Browse a tokenizer's vocabulary: each entry's id, piece, text and bytes (hex).

        Args:
            tokenizer: a built-in key or a Hub repo id owner/name.
            query: for search, the substring to find in pieces or their text (case-sensitive); for id, a token id;
                for piece, an exact piece (Ġworld) or its text; ignored for longest and special.
            mode: search (at most 100 entries, with the total count), id, piece, longest or special.
        """
        return vocab_reply(vocab_for(backend, tokenizer=tokenizer, query=query or "", mode=mode or "search"))

    return vocab
