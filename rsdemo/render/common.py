"""Escaping and colour helpers every HTML view shares (no gradio): visible text, token labels, numbers, colours.

Every piece of user text goes through ``html.escape``: ``visible_text`` (with or without whitespace glyphs),
``plain_label`` (no markup at all, for SVG text) and ``blank_marker`` (a label for a token that draws nothing).

>>> visible_text("a<b", show_whitespace=False), format_number(1234), prob_colour(0.5)
('a&lt;b', '1,234', 'hsl(60, 70%, 82%)')
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = [
    "BIDI_CONTROLS",
    "LONG_TOKEN_CHARS",
    "PALETTE_SIZE",
    "blank_marker",
    "format_number",
    "plain_label",
    "prob_colour",
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


def _fmt(value: object) -> str:
    return html.escape(format_number(value))


def prob_colour(prob: float | None) -> str:
    """Red (improbable) through yellow to green (probable), as an HSL background.

    >>> prob_colour(1.0), prob_colour(0.0)
    ('hsl(120, 70%, 82%)', 'hsl(0, 70%, 82%)')
    """
    if prob is None or prob != prob:  # unknown (NaN while streaming a custom method)
        return "hsl(220, 10%, 88%)"
    return f"hsl({round(120 * max(0.0, min(1.0, prob)))}, 70%, 82%)"
