"""The token views (no gradio): segments -> coloured, escaped, clickable spans; decoded ids as pieces.

Per-token details ride along in a ``data-d`` JSON attribute that the page's script reads on click
(``assets/tokens.js``).

>>> from rsdemo.tokenization.segments import Segment
>>> "rs-gap" in render_token_view([Segment(" ", (), 0, -1, "gap")], tokens={}, show_whitespace=False)
True
"""

from __future__ import annotations

import html
import json
import unicodedata
from collections.abc import Mapping, Sequence

from ..tokenization.segments import Segment
from .common import (
    _INVISIBLE,
    PALETTE_SIZE,
    _describe,
    _focus,
    _is_long,
    _marked,
    _spoken,
    blank_marker,
    visible_text,
)

__all__ = ["GAP_CHARS", "render_decode", "render_token_view"]


def render_token_view(
    segments: Sequence[Segment],
    *,
    tokens: Mapping[int, object],
    show_whitespace: bool,
    show: str = "text",
    marks: Sequence[bool] | None = None,
    notice: str = "",
    details: bool = True,
) -> str:
    """The token view: one span per segment, colour cycling per segment, specials and gaps marked.

    Args:
        segments: what to draw, in order.
        tokens: id -> details (``TokenInfo``) for the tooltip and the click panel.
        show_whitespace: draw whitespace glyphs.
        show: what each segment shows: ``text`` (the input it covers), ``pieces`` (the vocabulary pieces,
            ``Ġworld``, ``<0xE3>``) or ``ids``.
        marks: one flag per segment: its boundaries are not shared by every tokenizer (Compare tab).
        notice: a line shown above the tokens (e.g. the display window).
        details: include the click-to-inspect panel.
    """
    parts: list[str] = []
    colour = 0
    focusable = -1
    for index, seg in enumerate(segments):
        if seg.kind == "gap":
            parts.append(_gap(seg.text, show_whitespace=show_whitespace))
            continue
        infos = [_describe(tokens.get(i)) for i in seg.ids]
        pieces = [str(d.get("piece", "")) for d in infos]
        classes = ["rs-tok"]
        if seg.kind == "special":
            classes.append("rs-special")
        else:
            classes.append(f"rs-c{colour % PALETTE_SIZE}")
            colour += 1
        if marks is not None and index < len(marks) and marks[index]:
            classes.append("rs-diff")
        shown, body, marker = _segment_body(seg, pieces, show=show, show_whitespace=show_whitespace)
        if show != "ids" and _is_long(shown):  # (ids break between ids, never inside one)
            classes.append("rs-long")
        title = f"id {', '.join(map(str, seg.ids))} · {' '.join(repr(p) for p in pieces)}"
        focusable += 1
        label = f"{_spoken(seg.text or ''.join(pieces))}, id {', '.join(map(str, seg.ids))}"
        if marks is not None and index < len(marks) and marks[index]:
            label += ", boundary not shared"
        data = json.dumps({"text": seg.text, "first": seg.first, "tokens": infos}, ensure_ascii=False)
        parts.append(
            f"<span {_marked(classes, marker)} {_focus(focusable == 0)} "
            f'aria-label="{html.escape(label, quote=True)}" data-d="{html.escape(data, quote=True)}" '
            f'title="{html.escape(title, quote=True)}">{body}</span>'
        )
    if segments and focusable < 0:  # a text the tokenizer drops entirely (BERT on whitespace): say so
        notice = " ".join(
            filter(None, [notice, "No tokens: none of this text is covered by a token (shown underlined)."])
        )
    head = f'<div class="rs-notice">{html.escape(notice)}</div>' if notice else ""
    panel = (
        '<div class="rs-details" aria-live="polite"><span class="rs-hint">Click a token (or Tab to the text, then '
        "arrow keys and Enter) to see its id, vocabulary piece and bytes.</span></div>"
        if details
        else ""
    )
    # ids mode: a real space between segments, so neighbouring ids never run together (on screen or copied)
    joined = " ".join(parts) if show == "ids" else "".join(parts)
    kind = "rs-tokens rs-ids" if show == "ids" else "rs-tokens"
    # dir="auto": the tokens run right to left when the text starts in a right-to-left script (each token is an
    # isolate, .rs-tok in style.css, so the order of the tokens follows the text's own direction, and nothing
    # inside one token, a U+202E included, reorders the others)
    return (
        f'<div class="rs-view">{head}<div class="{kind}" dir="auto" role="group" aria-label="tokens">{joined}'
        f"</div>{panel}</div>"
    )


def _segment_body(seg: Segment, pieces: Sequence[str], *, show: str, show_whitespace: bool) -> tuple[str, str, str]:
    """What one segment shows (``text``, ``pieces`` or ``ids``): its plain text, its escaped body and its marker.

    >>> seg = Segment("\\n", (198,), 0, 0, "token")
    >>> _segment_body(seg, ["Ċ"], show="ids", show_whitespace=False)
    ('198', '198', '')
    >>> _segment_body(seg, ["Ċ"], show="text", show_whitespace=False)
    ('\\n', '\\n', '↵')
    """
    if show == "ids":
        shown = " ".join(map(str, seg.ids))
        return shown, html.escape(shown), ""
    if show == "pieces":
        joined = "".join(pieces)
        body = '<span class="rs-psep"> </span>'.join(visible_text(p, show_whitespace=show_whitespace) for p in pieces)
        return " ".join(pieces), body, blank_marker(joined, show_whitespace=show_whitespace) if joined else ""
    if seg.text:
        return (
            seg.text,
            visible_text(seg.text, show_whitespace=show_whitespace),
            blank_marker(seg.text, show_whitespace=show_whitespace),
        )
    shown = "".join(pieces)
    body = visible_text(shown, show_whitespace=show_whitespace) or "∅"
    return shown, body, blank_marker(shown, show_whitespace=show_whitespace) if shown else ""


GAP_CHARS = 1_000  # a longer run no token covers (BERT drops whitespace) is drawn this far, then counted


def _gap(text: str, *, show_whitespace: bool) -> str:
    """Text no token covers: drawn (up to ``GAP_CHARS`` characters), never as nothing.

    Whitespace a tokenizer drops (BERT) is drawn with the whitespace glyphs even when they are off: a dropped
    newline or tab would otherwise not be seen at all.

    >>> _gap("\\n", show_whitespace=False)
    '<span class="rs-gap" title="not covered by any token"><span class="rs-ws">↵</span>\\n</span>'
    """
    shown = text[:GAP_CHARS]
    more = (
        f'<span class="rs-more"> … {len(text) - len(shown):,} more characters not covered by any token</span>'
        if len(text) > len(shown)
        else ""
    )
    blank = all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in shown)
    marker = "" if blank else blank_marker(shown, show_whitespace=show_whitespace)
    return (
        f'<span {_marked(["rs-gap"], marker)} title="not covered by any token">'
        f"{visible_text(shown, show_whitespace=show_whitespace or blank)}{more}</span>"
    )


def render_decode(tokens: Sequence[object]) -> str:
    """The decoded ids as a row of pieces (id over piece)."""
    cells = []
    for n, token in enumerate(tokens):
        d = _describe(token)
        cls = "rs-special" if d.get("special") else f"rs-c{n % PALETTE_SIZE}"
        piece = str(d.get("piece"))
        marker = blank_marker(piece, show_whitespace=False) if piece else ""
        label = f' <span class="rs-ws rs-cp">{html.escape(marker)}</span>' if marker else ""
        cells.append(
            f'<span class="rs-tok {cls}" title="bytes {html.escape(str(d.get("bytes")))}">'
            f"<small>{d.get('id')}</small> {visible_text(piece, show_whitespace=False)}{label}</span>"
        )
    return f'<div class="rs-view"><div class="rs-tokens" dir="auto">{"".join(cells)}</div></div>'
