"""Pure HTML for the token views (no gradio): segments -> coloured, escaped, clickable spans.

Every piece of user text goes through ``html.escape``; per-token details ride along in a
``data-d`` JSON attribute that the page's script reads on click (``assets/tokens.js``).

>>> from rsdemo.tokenization.segments import Segment
>>> visible_text("a b\\n", show_whitespace=True)
'a<span class="rs-ws">·</span>b<span class="rs-ws">↵</span>\\n'
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence

from ..tokenization.segments import Segment

__all__ = [
    "PALETTE_SIZE",
    "format_number",
    "prob_colour",
    "prob_legend",
    "render_card_table",
    "render_decode",
    "render_generation",
    "render_stats",
    "render_token_view",
    "visible_text",
]

PALETTE_SIZE = 8
_GLYPHS = {" ": "·", "\t": "⇥", "\n": "↵", "\r": "␍"}
# the explicit bidirectional formatting characters: each can reorder the text after it (U+202E shows "abc" as "cba")
BIDI_CONTROLS = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u061c": "ALM",
}
_BIDI = re.compile("[" + "".join(BIDI_CONTROLS) + "]")
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}  # draw nothing of their own (a tab, category Cc, is drawn: it has a width)
_COMBINING = {"Mn", "Me"}  # drawn on the character before them: alone, they have no width of their own


def visible_text(text: str, *, show_whitespace: bool) -> str:
    """Escape ``text`` for HTML; with ``show_whitespace`` draw spaces, tabs, newlines and invisible characters.

    Bidirectional controls (U+202E and the others in ``BIDI_CONTROLS``) never reorder what follows them: without
    ``show_whitespace`` each stays in the text inside its own ``<bdi>`` (an isolate: it affects nothing around
    it), with ``show_whitespace`` it is drawn as its short name (RLO).

    >>> visible_text("\\u202eabc", show_whitespace=False)
    '<bdi class="rs-bidi">\\u202e</bdi>abc'
    >>> visible_text("\\u202eabc", show_whitespace=True)
    '<span class="rs-ws rs-cp" title="U+202E RIGHT-TO-LEFT OVERRIDE">RLO</span>abc'
    """
    if not show_whitespace:
        escaped = html.escape(text)
        return _BIDI.sub(_isolated, escaped) if _BIDI.search(escaped) else escaped
    out: list[str] = []
    for ch in text:
        glyph = _GLYPHS.get(ch)
        if glyph is not None:
            out.append(f'<span class="rs-ws">{glyph}</span>')
            if ch == "\n":
                out.append("\n")
        elif ch in BIDI_CONTROLS:
            out.append(f'<span class="rs-ws rs-cp" title="{_char_name(ch)}">{BIDI_CONTROLS[ch]}</span>')
        elif unicodedata.category(ch) in {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"}:
            out.append(f'<span class="rs-ws rs-cp">U+{ord(ch):04X}</span>')
        else:
            out.append(html.escape(ch))
    return "".join(out)


def plain_label(text: str) -> str:
    """A token's text as escaped plain text, no markup (an SVG ``<text>``): nothing in it invisible or reordering.

    Line breaks, tabs, bidi controls and zero-width characters are named; a token of spaces shows them as ·.

    >>> plain_label("\\u202eabc"), plain_label("\\n"), plain_label("  "), plain_label("<b>")
    ('RLOabc', '↵', '··', '&lt;b&gt;')
    """
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in BIDI_CONTROLS:
            out.append(BIDI_CONTROLS[ch])
        elif ch in "\t\n\r":
            out.append(_GLYPHS[ch])
        elif category in _INVISIBLE:
            out.append(_NAMES.get(ch) or f"U+{ord(ch):04X}")
        elif category in _COMBINING and not out:
            out.append("◌" + ch)
        else:
            out.append(ch)
    shown = "".join(out)
    return html.escape(shown if shown.strip() else shown.replace(" ", "·") or "∅")


def _isolated(match: re.Match[str]) -> str:
    return f'<bdi class="rs-bidi">{match.group()}</bdi>'


def _char_name(ch: str) -> str:
    return html.escape(f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".strip(), quote=True)


def blank_marker(text: str, *, show_whitespace: bool) -> str:
    """What to draw for a token whose text draws nothing by itself ("" when it draws something).

    A token of newlines, zero-width or format characters (U+200D, U+202E) or lone combining marks renders as an
    empty box (or no box at all): it gets a visible label instead, so it can be seen and clicked. Spaces and tabs
    are drawn (the token's colour has a width). With ``show_whitespace`` only lone combining marks need one.

    >>> blank_marker("\\u200d", show_whitespace=False), blank_marker("\\n\\n", show_whitespace=False)
    ('ZWJ', '↵↵')
    >>> blank_marker(" ", show_whitespace=False), blank_marker("\\n", show_whitespace=True)
    ('', '')
    """
    if not text:
        return "∅"
    labels: list[str] = []
    for ch in text[:8]:
        category = unicodedata.category(ch)
        if category in _COMBINING:
            labels.append("◌" + ch)
        elif show_whitespace or ch == "\t" or category not in _INVISIBLE:
            return ""
        else:
            labels.append(_GLYPHS.get(ch) or BIDI_CONTROLS.get(ch) or _NAMES.get(ch) or f"U+{ord(ch):04X}")
    if len(text) > 8:
        if any(unicodedata.category(ch) not in _INVISIBLE | _COMBINING or ch == "\t" for ch in text[8:]):
            return ""
        labels.append("…")
    return ("" if all(len(label) == 1 for label in labels) else " ").join(labels)


LONG_TOKEN_CHARS = 12  # a token at least this long is drawn as one box (.rs-long) that wraps inside itself


def _is_long(text: str) -> bool:
    """Whether a token is drawn as a box of its own: long enough to wrap on a phone, and on one line of text.

    A box keeps a wrapped token's edges (a token that wraps between lines looks like one token, not two);
    a token holding a line break stays inline, so the text keeps its lines.

    >>> _is_long("=" * 64), _is_long(" world"), _is_long("\\n" * 20)
    (True, False, False)
    """
    return len(text) >= LONG_TOKEN_CHARS and not any(ch in text for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


_NAMES = {"\u200b": "ZWSP", "\u200c": "ZWNJ", "\u200d": "ZWJ", "\u2060": "WJ", "\ufeff": "BOM", "\u00ad": "SHY"}


def _marked(classes: list[str], marker: str) -> str:
    """The class and ``data-zw`` attributes of a token drawn with a marker (``.rs-zw::before`` shows it)."""
    if not marker:
        return f'class="{" ".join(classes)}"'
    return f'class="{" ".join([*classes, "rs-zw"])}" data-zw="{html.escape(marker, quote=True)}"'


def _describe(token: object) -> dict[str, object]:
    as_dict = getattr(token, "as_dict", None)
    return as_dict() if callable(as_dict) else {}


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
        marker = ""
        if show == "ids":
            shown = " ".join(map(str, seg.ids))
            body = html.escape(shown)
        elif show == "pieces":
            shown = " ".join(pieces)
            body = '<span class="rs-psep"> </span>'.join(
                visible_text(p, show_whitespace=show_whitespace) for p in pieces
            )
            marker = blank_marker("".join(pieces), show_whitespace=show_whitespace) if "".join(pieces) else ""
        elif seg.text:
            shown = seg.text
            body = visible_text(seg.text, show_whitespace=show_whitespace)
            marker = blank_marker(seg.text, show_whitespace=show_whitespace)
        else:
            shown = "".join(pieces)
            body = visible_text(shown, show_whitespace=show_whitespace) or "∅"
            marker = blank_marker(shown, show_whitespace=show_whitespace) if shown else ""
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


def _focus(first: bool) -> str:
    """Roving tabindex: the view is one Tab stop (its first token); arrow keys move between tokens."""
    return f'tabindex="{0 if first else -1}" role="button"'


def _spoken(text: str) -> str:
    """A token's text as a screen reader should say it: whitespace and invisible characters named.

    >>> _spoken(" the"), _spoken("\\n")
    ('space the', 'newline')
    """
    names = {" ": "space ", "\t": "tab ", "\n": "newline ", "\r": "return "}
    out = []
    for ch in text[:80]:
        if ch in names:
            out.append(names[ch])
        elif unicodedata.category(ch) in {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"}:
            out.append(f"U+{ord(ch):04X} ")
        else:
            out.append(ch)
    return "".join(out).strip() or "empty"


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


def format_number(value: object) -> str:
    """How every view writes a number: thousands separated, ratios to two decimals (not escaped).

    >>> format_number(50257), format_number(2.4), format_number("yes")
    ('50,257', '2.40', 'yes')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"  # 1,000,000.00 tokens / word (a text of one long word)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


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


def _fmt(value: object) -> str:
    return html.escape(format_number(value))


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


def prob_colour(prob: float | None) -> str:
    """Red (improbable) through yellow to green (probable), as an HSL background.

    >>> prob_colour(1.0), prob_colour(0.0)
    ('hsl(120, 70%, 82%)', 'hsl(0, 70%, 82%)')
    """
    if prob is None or prob != prob:  # unknown (NaN while streaming a custom method)
        return "hsl(220, 10%, 88%)"
    return f"hsl({round(120 * max(0.0, min(1.0, prob)))}, 70%, 82%)"


def render_generation(
    segments: Sequence[object],
    tokens: Sequence[object],
    *,
    distribution: str = "filtered",
    show_whitespace: bool = False,
    title: str = "",
    mark_token: int | None = None,
    run: int | None = None,
    second: object | None = None,
) -> str:
    """Generated text in the model's token boundaries, each segment coloured by its token probability.

    Args:
        segments: ``rsdemo.generation.TokenSegment`` list (whole characters; a segment may hold several tokens).
        tokens: the ``GeneratedToken`` list the segments index into.
        distribution: ``filtered`` (after the decoding filters) or ``raw`` (the model's own distribution).
        show_whitespace: draw whitespace glyphs.
        title: a caption above the text.
        mark_token: the index of a token to mark (the arena's divergence point): its segment gets ``rs-diverge``.
        run: which run this is (0 the run, n a branch): the page's script fills the branch controls from a click
            on an alternative of a token of this view.
        second: a ``SecondOpinion`` (transformers' numbers at each token of a run another engine made): the tokens
            where transformers ranks another token first get ``rs-disagree``, and both probabilities.
    """
    parts: list[str] = []
    said = {o.index: o for o in getattr(second, "opinions", ())}
    for seg in segments:
        members = [tokens[i] for i in getattr(seg, "tokens", ())]
        probs = [_prob(t, distribution) for t in members]
        known = [p for p in probs if p is not None]
        lowest = min(known) if known else None
        rows = []
        for index, t in zip(getattr(seg, "tokens", ()), members):
            alts = getattr(t, "top" if distribution == "filtered" and getattr(t, "top", ()) else "raw_top", ())
            rows.append(
                {
                    "index": index,
                    "id": t.id,
                    "piece": t.piece,
                    "prob": _prob(t, distribution),
                    "raw_prob": t.raw_prob if t.raw_prob == t.raw_prob else None,
                    "alternatives": [[a.text or a.piece, round(a.prob, 6), a.id] for a in alts],
                }
            )
            if index in said:
                o = said[index]
                rows[-1]["second"] = {
                    "prob": round(o.prob, 6),
                    "top": o.top_text,
                    "top_id": o.top_id,
                    "top_prob": round(o.top_prob, 6),
                    "differs": o.differs,
                }
        data = json.dumps({"text": seg.text, "gen": rows}, ensure_ascii=False)
        shown = f"{lowest:.1%}" if lowest is not None else "?"
        title_text = f"p = {shown} · id {', '.join(str(t.id) for t in members)}"
        cls = "rs-tok rs-gen rs-special" if getattr(seg, "special", False) else "rs-tok rs-gen"
        if _is_long(seg.text):
            cls += " rs-long"
        if mark_token is not None and mark_token in getattr(seg, "tokens", ()):
            cls += " rs-diverge"
            title_text += " · where this output parts from the closest other one"
        differing = [said[i] for i in getattr(seg, "tokens", ()) if i in said and said[i].differs]
        if differing:
            o = differing[0]
            cls += " rs-disagree"
            title_text += (
                f" · transformers ranks {o.top_text!r} first ({o.top_prob:.1%}); this token has {o.prob:.1%} there"
            )
        style = "" if getattr(seg, "special", False) else f' style="background:{prob_colour(lowest)}"'
        body = visible_text(seg.text, show_whitespace=show_whitespace) or "∅"
        marker = blank_marker(seg.text, show_whitespace=show_whitespace) if seg.text else ""
        label = f"{_spoken(seg.text)}, p {shown}, id {', '.join(str(t.id) for t in members)}"
        parts.append(
            f"<span {_marked(cls.split(), marker)}{style} {_focus(not parts)} "
            f'aria-label="{html.escape(label, quote=True)}" '
            f'data-d="{html.escape(data, quote=True)}" title="{html.escape(title_text, quote=True)}">{body}</span>'
        )
    head = f'<div class="rs-stats-title">{html.escape(title)}</div>' if title else ""
    # an engine with no numbers after the filters (a server whose log-probabilities are taken before them)
    # is coloured by the raw distribution, and the legend says so
    unfiltered = distribution == "filtered" and tokens and all(getattr(t, "prob", None) is None for t in tokens)
    legend = prob_legend(distribution="raw" if unfiltered else distribution) if parts else ""
    panel = (
        '<div class="rs-details" aria-live="polite"><span class="rs-hint">Click a token (or Tab to the text, '
        "then arrow keys and Enter) to see its probability and the alternatives the model considered.</span>"
        "</div>"
    )
    run_attr = f' data-run="{int(run)}"' if run is not None else ""
    return (
        f'<div class="rs-view"{run_attr}>{head}{legend}<div class="rs-tokens" dir="auto" role="group" '
        f'aria-label="generated tokens">{"".join(parts)}</div>{panel}</div>'
    )


def prob_legend(*, distribution: str = "filtered") -> str:
    """The key to the probability colours: a red-to-green scale from 0% to 100%, and what is measured.

    >>> "0%" in prob_legend() and "100%" in prob_legend() and "after the decoding filters" in prob_legend()
    True
    """
    stops = ", ".join(prob_colour(p / 4) for p in range(5))
    which = "after the decoding filters" if distribution == "filtered" else "under the model's own distribution"
    return (
        f'<div class="rs-prob-legend" role="note">Colour = probability of the chosen token ({which}): '
        f'<span class="rs-scale-end">0%</span><span class="rs-scale" style="background:linear-gradient('
        f'to right, {stops})" aria-hidden="true"></span><span class="rs-scale-end">100%</span>'
        f'<span class="rs-tok rs-special rs-scale-key">special</span></div>'
    )


def _prob(token: object, distribution: str) -> float | None:
    value = getattr(token, "prob", None) if distribution == "filtered" else getattr(token, "raw_prob", None)
    if value is None and distribution == "filtered":
        value = getattr(token, "raw_prob", None)
    if value is None or value != value:
        return None
    return float(value)
