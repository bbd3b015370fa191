"""Tables and stat cards (no gradio): a card table is a table on a wide screen and one card per row on a phone."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from .common import _fmt

__all__ = ["render_card_table", "render_stats"]


def render_stats(stats: Mapping[str, object], *, title: str = "") -> str:
    """A row of small stat cards."""
    labels = {
        "tokens": "tokens",
        "chars": "characters",
        "bytes": "bytes",
        "words": "words",
        "chars_per_token": "chars / token",
        "bytes_per_token": "bytes / token",
        "tokens_per_word": "tokens / word",
        "vocab_size": "vocabulary",
    }
    cards = "".join(
        f'<div class="rs-card"><b>{_fmt(stats[k])}</b><span>{html.escape(v)}</span></div>'
        for k, v in labels.items()
        if k in stats
    )
    head = f'<div class="rs-stats-title">{html.escape(title)}</div>' if title else ""
    return f'<div class="rs-stats">{head}{cards}</div>'


def render_card_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, classes: str = "", wide: Sequence[int] = ()
) -> str:
    """A table that is a table on a wide screen and one card per row on a phone (``.rs-card-table`` in style.css):
    each cell carries its column's name (``data-label``), shown beside the value when the header row is hidden.

    Args:
        headers: the column names; rows: the cells (numbers written by ``format_number``; strings are escaped).
        classes: more classes for the table (``rs-phone-only``: shown on a phone only).
        wide: column indexes whose cell takes a whole line of the card (a long text).

    >>> html_ = render_card_table(["tokenizer", "tokens"], [["gpt2", 1234]])
    >>> '<td data-label="tokens">1,234</td>' in html_ and '<th scope="col">tokenizer</th>' in html_
    True
    """
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for n, (name, cell) in enumerate(zip(headers, row)):
            span = ' class="rs-wide"' if n in wide else ""
            cells.append(f'<td data-label="{html.escape(name, quote=True)}"{span}>{_fmt(cell)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    kind = f"rs-card-table {classes}".strip()
    return f'<table class="{kind}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
