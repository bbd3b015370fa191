"""Pure HTML for the token views (no gradio): segments -> coloured, escaped, clickable spans.

Every piece of user text goes through ``html.escape``; per-token details ride along in a
``data-d`` JSON attribute that the page's script reads on click (``assets/tokens.js``).

>>> from rsdemo.segments import Segment
>>> visible_text("a b\\n", show_whitespace=True)
'a<span class="rs-ws">·</span>b<span class="rs-ws">↵</span>\\n'
"""

from __future__ import annotations

import html
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from .segments import Segment

__all__ = ["PALETTE_SIZE", "render_decode", "render_stats", "render_token_view", "visible_text"]

PALETTE_SIZE = 8
_GLYPHS = {" ": "·", "\t": "⇥", "\n": "↵", "\r": "␍"}


def visible_text(text: str, *, show_whitespace: bool) -> str:
    """Escape ``text`` for HTML; with ``show_whitespace`` draw spaces, tabs, newlines and invisible characters."""
    if not show_whitespace:
        return html.escape(text)
    out: list[str] = []
    for ch in text:
        glyph = _GLYPHS.get(ch)
        if glyph is not None:
            out.append(f'<span class="rs-ws">{glyph}</span>')
            if ch == "\n":
                out.append("\n")
        elif unicodedata.category(ch) in {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"}:
            out.append(f'<span class="rs-ws rs-cp">U+{ord(ch):04X}</span>')
        else:
            out.append(html.escape(ch))
    return "".join(out)


def _describe(token: object) -> dict[str, object]:
    as_dict = getattr(token, "as_dict", None)
    return as_dict() if callable(as_dict) else {}


def render_token_view(
    segments: Sequence[Segment],
    *,
    tokens: Mapping[int, object],
    show_whitespace: bool,
    show: str = "text",
    differs: Callable[[Segment], bool] | None = None,
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
        differs: marks segments whose boundaries other tokenizers do not share (Compare tab).
        notice: a line shown above the tokens (e.g. the display window).
        details: include the click-to-inspect panel.
    """
    parts: list[str] = []
    colour = 0
    for seg in segments:
        if seg.kind == "gap":
            parts.append(f'<span class="rs-gap" title="not covered by any token">'
                         f"{visible_text(seg.text, show_whitespace=show_whitespace)}</span>")
            continue
        infos = [_describe(tokens.get(i)) for i in seg.ids]
        pieces = [str(d.get("piece", "")) for d in infos]
        classes = ["rs-tok"]
        if seg.kind == "special":
            classes.append("rs-special")
        else:
            classes.append(f"rs-c{colour % PALETTE_SIZE}")
            colour += 1
        if differs is not None and differs(seg):
            classes.append("rs-diff")
        if show == "ids":
            body = html.escape(" ".join(map(str, seg.ids)))
        elif show == "pieces":
            body = '<span class="rs-psep"> </span>'.join(visible_text(p, show_whitespace=show_whitespace) for p in pieces)
        elif seg.text:
            body = visible_text(seg.text, show_whitespace=show_whitespace)
        else:
            body = html.escape("".join(pieces) or "∅")
        title = f"id {', '.join(map(str, seg.ids))} · {' '.join(repr(p) for p in pieces)}"
        data = json.dumps({"text": seg.text, "first": seg.first, "tokens": infos}, ensure_ascii=False)
        parts.append(
            f'<span class="{" ".join(classes)}" data-d="{html.escape(data, quote=True)}" '
            f'title="{html.escape(title, quote=True)}">{body}</span>'
        )
    head = f'<div class="rs-notice">{html.escape(notice)}</div>' if notice else ""
    panel = (
        '<div class="rs-details" aria-live="polite">Click a token to see its id, vocabulary piece and bytes.</div>'
        if details
        else ""
    )
    return f'<div class="rs-view">{head}<div class="rs-tokens">{"".join(parts)}</div>{panel}</div>'


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


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def render_decode(tokens: Sequence[object]) -> str:
    """The decoded ids as a row of pieces (id over piece)."""
    cells = []
    for n, token in enumerate(tokens):
        d = _describe(token)
        cls = "rs-special" if d.get("special") else f"rs-c{n % PALETTE_SIZE}"
        cells.append(
            f'<span class="rs-tok {cls}" title="bytes {html.escape(str(d.get("bytes")))}">'
            f'<small>{d.get("id")}</small> {html.escape(str(d.get("piece")))}</span>'
        )
    return f'<div class="rs-view"><div class="rs-tokens">{"".join(cells)}</div></div>'
