"""Share links: what a link's query asks the page to show (pure; the page's script writes the links).

A Tokenize link is ``?tokenizer=gpt2&special=1&ws=1&show=ids&text=...``; a Compare link is
``?compare=gpt2,llama3&text=...`` and opens the Compare tab. A link is at most ``SHARE_LINK_CHARS`` characters
long, URL-encoded: the text is cut (at a whole character) to fit, and the page says so.

>>> state = parse_share_query({"tokenizer": "gpt2", "text": "Hi", "ws": "1", "show": "ids"})
>>> state.tab, state.text, state.whitespace, state.show, state.special
('tokenize', 'Hi', True, 'ids', None)
>>> state = parse_share_query({"compare": "gpt2,llama3,no-such-key", "text": "Hi"})
>>> state.tab, state.compare
('compare', ('gpt2', 'llama3'))
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .catalog import TOKENIZERS
from .core.settings import parse_bool

__all__ = ["SHARE_LINK_CHARS", "VIEW_MODES", "ShareState", "parse_share_query"]

# RFC 9110 asks every sender and recipient to support links of at least 8,000 octets; longer ones break in
# some browsers, proxies and chat apps
SHARE_LINK_CHARS = 8_000
VIEW_MODES = ("text", "pieces", "ids")


@dataclass(frozen=True, slots=True)
class ShareState:
    """What a share link asks for; ``None`` (or empty) where it says nothing, so the page keeps its own value.

    Attributes:
        text: the text (both tabs).
        tokenizer: the Tokenize tab's tokenizer.
        special: add special tokens (both tabs).
        whitespace: show whitespace (both tabs).
        show: what each token shows: ``text``, ``pieces`` or ``ids``.
        compare: the Compare tab's tokenizers (two or more built-in keys), or ``()``.
    """

    text: str | None = None
    tokenizer: str | None = None
    special: bool | None = None
    whitespace: bool | None = None
    show: str | None = None
    compare: tuple[str, ...] = ()

    @property
    def tab(self) -> str:
        """The tab the link opens: ``compare`` for a Compare link, else ``tokenize``."""
        return "compare" if self.compare else "tokenize"


def parse_share_query(params: Mapping[str, str], *, known: Collection[str] = TOKENIZERS) -> ShareState:
    """Read a share link's query; anything unknown or malformed is ignored (a link never fails to open).

    Args:
        params: the query parameters (``request.query_params``).
        known: the tokenizer keys a Compare link may name.

    >>> parse_share_query({"special": "maybe", "show": "<b>", "compare": "gpt2"})
    ShareState(text=None, tokenizer=None, special=None, whitespace=None, show=None, compare=())
    """
    compare = tuple(dict.fromkeys(k for k in (params.get("compare") or "").split(",") if k in known))
    show = params.get("show")
    return ShareState(
        text=params.get("text") or None,
        tokenizer=params.get("tokenizer") or None,
        special=_flag(params.get("special")),
        whitespace=_flag(params.get("ws")),
        show=show if show in VIEW_MODES else None,
        compare=compare if len(compare) >= 2 else (),
    )


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    try:
        return parse_bool(value)
    except ValueError:
        return None
