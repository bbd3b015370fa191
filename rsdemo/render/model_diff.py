"""Two models on one text, drawn (no gradio): each model's own tokens coloured by surprisal, a difference strip, and
the segments where one model is more surprised than the other.

``render_model_diff`` draws, for each model, the text cut into that model's tokens, each coloured by its probability
(``prob_colour``: red surprising, green expected; grey where it could not be scored), with a title giving its
log-probability and both models' numbers over the segment it is in. The difference strip draws the text once more,
cut into the segments both models share: blue where A is more surprised, red where B is, the deeper the larger the
difference (``delta_colour``). Then the two lists of largest differences and the totals. Every piece of the text is
escaped (``visible_text``); each token and strip cell carries ``data-seg`` (its segment), so a page script can
light up a segment in all three.

>>> from rsdemo.insight.model_diff import TokenSpan, compare
>>> from rsdemo.insight.model_diff_pass import ModelDiffResult, ScoredText
>>> text = "<i>ok"
>>> spans = (TokenSpan(0, 3, -2.0), TokenSpan(3, 5, -1.0))
>>> a = ScoredText("m1", "transformers", (0,), (1, 2), ("<i>", "ok"), spans, 0.1)
>>> b = ScoredText("m2", "llama.cpp", (0,), (3,), ("<i>ok",), (TokenSpan(0, 5, -1.5),), 0.1)
>>> page = render_model_diff(ModelDiffResult(text, a, b, compare(text, a.spans, b.spans)))
>>> "&lt;i&gt;" in page and "<i>" not in page, page.count('class="rs-md-tok"'), page.count('class="rs-md-seg"')
(True, 3, 1)
>>> delta_colour(None), delta_colour(8.0), delta_colour(-8.0)
('hsl(220, 10%, 88%)', 'hsl(215, 85%, 55%)', 'hsl(0, 85%, 55%)')
"""

from __future__ import annotations

import html
import math

from ..i18n import text as _text
from ..insight.model_diff import Comparison, Segment
from ..insight.model_diff_pass import ModelDiffResult, ScoredText
from .common import blank_marker, prob_colour, visible_text

__all__ = ["DELTA_FULL_BITS", "delta_colour", "render_model_diff"]

DELTA_FULL_BITS = 8.0  # a difference this large (bits) or larger gets the deepest colour
_TOKEN_STYLE = "border-left:1px solid rgba(0,0,0,.3);padding:1px 0;border-radius:2px"
_TEXT_STYLE = "white-space:pre-wrap;word-break:break-word;line-height:2;font-family:var(--font-mono, monospace)"


def delta_colour(delta_bits: float | None) -> str:
    """Blue where A is more surprised (positive), red where B is, white-ish near 0; grey where not compared."""
    if delta_bits is None or delta_bits != delta_bits:
        return "hsl(220, 10%, 88%)"
    depth = min(1.0, abs(delta_bits) / DELTA_FULL_BITS)
    return f"hsl({215 if delta_bits > 0 else 0}, 85%, {round(97 - 42 * depth)}%)"


def _num(value: float | None, digits: int = 2, *, sign: bool = False) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _name(side: ScoredText) -> str:
    return f"{side.model} ({side.engine})"


def _shown(text: str, *, cut: int = 0) -> str:
    """A stretch of the text, escaped, whitespace drawn (cut to ``cut`` characters when given)."""
    if cut and len(text) > cut:
        text = text[: cut - 1] + "…"
    shown = visible_text(text, show_whitespace=True) or html.escape(blank_marker(text, show_whitespace=True))
    return f'<span class="rs-keep">{shown}</span>'  # the visitor's text: the page's language script leaves it


def _segment_title(seg: Segment, result: ModelDiffResult, lang: str) -> str:
    return _text(
        "md.segment_title",
        lang=lang,
        segment=repr(result.text[seg.start : seg.end][:40]),
        a=_name(result.a),
        b=_name(result.b),
        lpa=_num(seg.logprob_a),
        lpb=_num(seg.logprob_b),
        delta=_num(seg.delta_bits, sign=True),
    )


def _segment_of(comparison: Comparison, side: str) -> dict[int, int]:
    """Each token's segment index, for one side (``a`` or ``b``)."""
    return {n: k for k, seg in enumerate(comparison.segments) for n in getattr(seg, f"tokens_{side}")}


def _tokens(result: ModelDiffResult, side: str, lang: str) -> str:
    """One model's view: the text in its own tokens, coloured by each token's probability."""
    scored: ScoredText = getattr(result, side)
    where = _segment_of(result.comparison, side)
    parts = []
    for n, span in enumerate(scored.spans):
        seg = result.comparison.segments[where[n]]
        if span.logprob is None:
            own = _text("md.unscored_token", lang=lang, piece=repr(scored.pieces[n]))
        else:
            own = _text(
                "md.token_title",
                lang=lang,
                piece=repr(scored.pieces[n]),
                logprob=_num(span.logprob),
                prob=f"{100 * math.exp(span.logprob):.2f}",
                bits=_num(span.bits),
            )
        title = html.escape(f"{own}\n{_segment_title(seg, result, lang)}", quote=True)
        colour = prob_colour(None if span.logprob is None else math.exp(span.logprob))
        shown = (
            _shown(result.text[span.start : span.end])
            if span.end > span.start
            else '<small style="opacity:.6">∅</small>'  # only the first bytes of the character after it
        )
        parts.append(
            f'<span class="rs-md-tok" data-seg="{where[n]}" title="{title}" style="background:{colour};'
            f'{_TOKEN_STYLE}">{shown}</span>'
        )
    return f'<div class="rs-md-text" data-side="{side}" style="{_TEXT_STYLE}">{"".join(parts)}</div>'


def _strip(result: ModelDiffResult, lang: str) -> str:
    """The text once more, in the segments both models share, coloured by the difference."""
    parts = []
    for k, seg in enumerate(result.comparison.segments):
        title = html.escape(_segment_title(seg, result, lang), quote=True)
        parts.append(
            f'<span class="rs-md-seg" data-seg="{k}" title="{title}" style="background:'
            f'{delta_colour(seg.delta_bits)};{_TOKEN_STYLE}">{_shown(result.text[seg.start : seg.end])}</span>'
        )
    return f'<div class="rs-md-strip" style="{_TEXT_STYLE}">{"".join(parts)}</div>'


def _top(result: ModelDiffResult, indices: tuple[int, ...], *, more: str, less: str, lang: str) -> str:
    """One list of largest differences: the segment, both models' bits, the difference."""
    heading = html.escape(_text("md.surprised", lang=lang, more=more, less=less))
    if not indices:
        return f'<div class="rs-md-list"><b>{heading}</b><p>{html.escape(_text("md.none", lang=lang))}</p></div>'
    rows = "".join(
        f'<li data-seg="{k}"><span class="rs-tok">{_shown(result.text[seg.start : seg.end], cut=40)}</span> '
        + html.escape(
            _text(
                "md.top_row",
                lang=lang,
                a=_num(seg.bits_a),
                b=_num(seg.bits_b),
                delta=_num(abs(seg.delta_bits or 0.0)),
            )
        )
        + "</li>"
        for k in indices
        for seg in (result.comparison.segments[k],)
    )
    return f'<div class="rs-md-list"><b>{heading}</b><ol class="rs-md-top">{rows}</ol></div>'


def _totals(result: ModelDiffResult, lang: str) -> str:
    t = result.comparison.totals
    rows = []
    for label, side, bits, per_char in (
        ("A", result.a, t.bits_a, t.bits_per_char_a),
        ("B", result.b, t.bits_b, t.bits_per_char_b),
    ):
        rows.append(
            f'<tr><th scope="row">{label}</th><td>{html.escape(_name(side))}</td><td>{len(side.ids):,}</td>'
            f"<td>{_num(bits, 1)}</td><td>{_num(per_char, 3)}</td><td>{side.seconds:.2f}</td></tr>"
        )
    head = "".join(
        f'<th scope="col">{html.escape(_text(key, lang=lang))}</th>'
        for key in ("md.col_side", "md.col_model", "md.col_tokens", "md.col_bits", "md.col_bpc", "md.col_seconds")
    )
    note = html.escape(_text("md.totals", lang=lang, n=f"{t.chars:,}"))
    if t.unscored_chars:
        note += " " + html.escape(_text("md.unscored", lang=lang, n=f"{t.unscored_chars:,}"))
    return (
        '<table class="rs-md-totals" style="border-collapse:separate;border-spacing:12px 2px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<div class="rs-legend">{note}</div>'
    )


def render_model_diff(result: ModelDiffResult, *, lang: str = "en") -> str:
    """The whole view: the totals, each model's tokens, the difference strip and the two lists."""
    a, b = _name(result.a), _name(result.b)
    sections = [
        f'<div class="rs-legend">{html.escape(_text("md.legend", lang=lang))}</div>',
        _totals(result, lang),
        f'<div class="rs-legend"><b>A</b> · {html.escape(a)}</div>',
        _tokens(result, "a", lang),
        f'<div class="rs-legend"><b>B</b> · {html.escape(b)}</div>',
        _tokens(result, "b", lang),
        f'<div class="rs-legend">{html.escape(_text("md.strip", lang=lang, a=a, b=b))}</div>',
        _strip(result, lang),
        '<div class="rs-md-lists" style="display:flex;flex-wrap:wrap;gap:1.5em">'
        + _top(result, result.comparison.a_surprised, more=a, less=b, lang=lang)
        + _top(result, result.comparison.b_surprised, more=b, less=a, lang=lang)
        + "</div>",
    ]
    return f'<div class="rs-view rs-model-diff">{"".join(sections)}</div>'
