"""The Tokenize tab's "Why this split" panel: the clicked token's replay (``rsdemo.tokenization.explain``).

A click on a token in the tab's view (``assets/tokens.js``) writes the token's index into the panel's "Token #"
box and presses its button, so the index reaches Python through an ordinary event; the box can be typed in too.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..api import explain_reply
from ..api_schema import EXAMPLE_TEXT, ExplainReply
from ..backend import Backend
from ..catalog import DEFAULT_TOKENIZER
from ..core.errors import InputError, RsdemoError
from ..core.inputs import check_text
from ..render.explain import render_explain
from ..render.page import field_note
from ..tokenization.explain import Explanation, explain_token
from .api import _api_returns, _flag
from .errors import _user_errors
from .lang import tr

__all__ = ["ExplainPanel", "explain_endpoint", "explain_for"]

_HINT = (
    '<span class="rs-hint">Click a token above (or type its number here) to replay how the tokenizer arrived at '
    "it: the pre-tokenizer's chunk, then each merge with its rank, the best segmentations, or the greedy "
    "matches.</span>"
)


def explain_for(
    backend: Backend, *, tokenizer: str, text: str, index: int, add_special_tokens: bool = False
) -> Explanation:
    """The replay of token ``index`` through the backend's loaded tokenizer (what the panel, ``/explain`` and the
    CLI call). Raises the input errors of ``explain_token`` and ``UnknownKeyError`` for an unknown tokenizer."""
    check_text(text, max_chars=backend.settings.max_text_chars)
    info = backend.info(tokenizer)
    return explain_token(
        adapter=backend.adapter(tokenizer),
        key=info.key,
        family=info.family,
        text=text,
        index=index,
        add_special_tokens=add_special_tokens,
    )


class ExplainPanel:
    """An accordion: "Token #", an Explain button (pressed by a click in the token view) and the replay."""

    def __init__(self) -> None:
        with gr.Accordion(tr("explain.acc"), open=True, elem_id="rs-explain-box"):
            with gr.Row():
                self.at = gr.Number(
                    value=0,
                    label=tr("explain.at"),
                    precision=0,
                    minimum=0,
                    elem_id="rs-explain-at",
                    min_width=120,
                    scale=1,
                )
                self.go = gr.Button(tr("explain.go"), elem_id="rs-explain-go", min_width=100, scale=1)
            self.out = gr.HTML(_HINT, elem_id="rs-explain")

    def wire(self, backend: Backend, *, text: Any, tokenizer: Any, special: Any, page: dict[str, Any]) -> None:
        """The button runs the replay; a new tokenizer or text puts the hint back."""

        @_user_errors
        def explain_view(text_value: str, tokenizer_value: str, add: bool, at: float | None) -> str:
            try:
                why = explain_for(
                    backend,
                    tokenizer=tokenizer_value,
                    text=text_value or "",
                    index=int(at or 0),
                    add_special_tokens=bool(add),
                )
            except RsdemoError as err:
                return field_note(err)
            return render_explain(why)

        self.go.click(explain_view, [text, tokenizer, special, self.at], [self.out], **page)
        for control in (text, tokenizer, special):
            control.change(lambda: _HINT, None, [self.out], api_visibility="private", queue=False)


def explain_endpoint(backend: Backend) -> Any:
    """``/explain``, registered with the light endpoints (``rsdemo.ui.endpoints``)."""

    @_api_returns(ExplainReply, "explanation")
    @_user_errors
    def explain(
        text: str = EXAMPLE_TEXT, tokenizer: str = DEFAULT_TOKENIZER, index: int = 3, add_special_tokens: bool = False
    ):
        """Why token number index of the text is what it is: the replay of the tokenizer's algorithm (BPE merges
        with their ranks, Unigram's best segmentations, WordPiece's greedy matches).

        Args:
            text: the text.
            tokenizer: a built-in key (gpt2, cl100k_base, mistral-v1, shakespeare-unigram, bert-base-uncased, ...) or a
                Hub repo id owner/name.
            index: the token's position in the ids, from 0 (counting added special tokens when add_special_tokens).
            add_special_tokens: count what the tokenizer puts around a sequence (BOS, [CLS] ... [SEP]).
        """
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, int):
            raise InputError(f"index must be a whole number, got {str(index)[:40]!r}.", field="index")
        why = explain_for(
            backend, tokenizer=tokenizer, text=text, index=index, add_special_tokens=_flag(add_special_tokens)
        )
        return explain_reply(why)

    return explain
