"""A view as a PNG image: the token boxes, their colours and text, drawn server-side with Pillow (no browser).

The view's HTML (``render_token_view``, ``render_generation`` ...) is read back into runs of text, each with the
colour the page gives it (the palette classes ``rs-c0`` to ``rs-c7``, a special token's dark box, a probability's
``hsl`` background); the runs are laid out like the page (a box per token, wrapped at the image's width, a line
break at each newline) and drawn with a font per character: DejaVu Sans Mono, then Noto Sans Mono CJK, then
DejaVu Sans, then Noto Color Emoji; a character no font here covers is drawn as a box (``missing_fonts`` says
which fonts were not found). An image holds at most ``MAX_LINES`` lines (``MAX_CHARS`` characters); a longer view
is cut and says so.

>>> runs = view_runs('<div class="rs-view"><div class="rs-tokens"><span class="rs-tok rs-c1">Hi</span></div></div>')
>>> runs[0].text, runs[0].fill
('Hi', (191, 219, 254))
>>> export_png(title="t", body='<span class="rs-tok rs-c0">a</span>')[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import colorsys
import functools
import io
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .export_html import closed_tags

__all__ = ["MAX_CHARS", "MAX_LINES", "PALETTE_RGB", "Run", "export_png", "missing_fonts", "view_runs"]

MAX_LINES = 400  # about 13,000 pixels high: a longer view is cut, and the image says so
MAX_CHARS = 100_000  # characters drawn at most: zero-width ones (a flood of combining marks) never fill a line
WIDTH, MARGIN, SIZE, LINE = 1200, 24, 20, 32  # a readable size: 20 px text on 32 px lines, 1200 px wide
# the page's palette (assets/style.css, .rs-c0 ... .rs-c7; a test checks they agree)
PALETTE_RGB = tuple(
    tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))
    for h in ("fde68a", "bfdbfe", "bbf7d0", "fecaca", "ddd6fe", "fed7aa", "a5f3fc", "f5d0fe")
)
_SPECIAL, _SPECIAL_FG, _INK, _GREY = (31, 41, 55), (249, 250, 251), (17, 17, 17), (107, 114, 128)
_HSL = re.compile(r"hsl\(\s*([\d.]+)\s*,\s*([\d.]+)%\s*,\s*([\d.]+)%\s*\)")
_FONTS = {  # known places on Debian / Ubuntu (a Space's image too, with the fonts-* packages)
    "mono": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0),
    "cjk": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 5),  # index 5: Noto Sans Mono CJK JP
    "sans": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    "emoji": ("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf", 0),
}
_EMOJI_SIZE = 109  # the one size Noto Color Emoji's bitmaps come in


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of the view: its text, its box colour (``None``: no box) and its text colour."""

    text: str
    fill: tuple[int, int, int] | None
    ink: tuple[int, int, int] = _INK


def _hsl(style: str) -> tuple[int, int, int] | None:
    """An ``hsl(h, s%, l%)`` background (the probability colours) as RGB.

    >>> _hsl("background:hsl(120, 70%, 82%)")
    (177, 241, 177)
    """
    found = _HSL.search(style)
    if not found:
        return None
    h, s, lum = (float(x) for x in found.groups())
    r, g, b = colorsys.hls_to_rgb(h / 360, lum / 100, s / 100)
    return round(r * 255), round(g * 255), round(b * 255)


class _Runs(HTMLParser):
    """The runs of a view's HTML: each token (``rs-tok``) or uncovered text (``rs-gap``) span; a view's title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs: list[Run] = []
        self.depth = 0
        self.open: tuple[int, Run] | None = None  # the depth and style of the token being read
        self.parts: list[str] = []
        self.skip: int | None = None  # the depth of a legend or click panel, whose text is left out
        self.heading: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += 1
        got = dict(attrs)
        classes = (got.get("class") or "").split()
        if self.skip is not None or tag in ("br", "hr"):
            self.depth -= tag in ("br", "hr")
            return
        if {"rs-details", "rs-prob-legend", "rs-notice"} & set(classes):
            self.skip = self.depth
        elif "rs-stats-title" in classes and self.open is None:
            self.heading, self.parts = self.depth, []
        elif self.open is None and {"rs-tok", "rs-gap"} & set(classes):
            self.open, self.parts = (self.depth, self._style(classes, got.get("style") or "")), []
        elif self.open is not None and got.get("data-zw"):
            self.parts.append(got["data-zw"] or "")

    @staticmethod
    def _style(classes: list[str], style: str) -> Run:
        if "rs-special" in classes:
            return Run("", _SPECIAL, _SPECIAL_FG)
        if "rs-gap" in classes:
            return Run("", None, _GREY)
        palette = [int(c[4:]) for c in classes if c.startswith("rs-c") and c[4:].isdigit()]
        if palette:
            return Run("", PALETTE_RGB[palette[0] % len(PALETTE_RGB)])
        return Run("", _hsl(style) or (229, 231, 235))

    def handle_endtag(self, tag: str) -> None:
        if self.skip is not None and self.depth == self.skip:
            self.skip = None
        elif self.open is not None and self.depth == self.open[0]:
            style = self.open[1]
            self.runs.append(Run("".join(self.parts), style.fill, style.ink))
            self.open = None
        elif self.heading is not None and self.depth == self.heading:
            self.runs.append(Run("\n" * bool(self.runs) + "".join(self.parts).strip() + "\n", None, _GREY))
            self.heading = None
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip is None and (self.open is not None or self.heading is not None):
            self.parts.append(data)


def view_runs(fragment: str) -> list[Run]:
    """The runs of a rendered view, in order (legends, notices and the click panel left out)."""
    parser = _Runs()
    parser.feed(closed_tags(fragment))
    parser.close()
    return parser.runs


@functools.cache
def _font(kind: str) -> ImageFont.FreeTypeFont | None:
    path, index = _FONTS[kind]
    if not Path(path).exists() and kind == "cjk" and shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "monospace:lang=ja"], capture_output=True, text=True, timeout=10
        )
        path, index = found.stdout.strip(), 0
    try:
        return ImageFont.truetype(path, _EMOJI_SIZE if kind == "emoji" else SIZE, index=index)
    except OSError:
        return None


def missing_fonts() -> list[str]:
    """The fonts (``mono``, ``cjk``, ``sans``, ``emoji``) not found on this machine: their characters are boxes."""
    return [kind for kind in _FONTS if _font(kind) is None]


@functools.cache
def _notdef(kind: str) -> tuple[tuple[int, int], bytes]:
    return _mask(kind, "\U0010fffd")


def _mask(kind: str, ch: str) -> tuple[tuple[int, int], bytes]:
    image = Image.Image()._new(_font(kind).getmask(ch))  # type: ignore[union-attr]
    return image.size, image.tobytes()


@functools.lru_cache(maxsize=8192)
def _font_for(ch: str) -> str | None:
    """The first font that has a glyph for ``ch`` (a missing glyph draws the font's .notdef box)."""
    for kind in _FONTS:
        if _font(kind) is not None and _mask(kind, ch) != _notdef(kind):
            return kind
    return None


@functools.lru_cache(maxsize=1024)
def _emoji(ch: str) -> Image.Image:
    font = _font("emoji")
    assert font is not None
    width = max(1, round(font.getlength(ch)))
    image = Image.new("RGBA", (width, 128), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((0, 0), ch, font=font, embedded_color=True)
    height = SIZE + 2
    return image.resize((max(1, round(width * height / 128)), height), Image.Resampling.LANCZOS)


@functools.lru_cache(maxsize=8192)
def _advance(ch: str) -> tuple[str | None, float]:
    """The font a character is drawn with (``None``: a box) and how far it moves the pen."""
    if ch == "\t":
        return "mono", 4 * _font("mono").getlength(" ")  # type: ignore[union-attr]
    kind = _font_for(ch) if ch.isprintable() or ch == "\u200d" else "mono"
    if kind == "emoji":
        return kind, float(_emoji(ch).width)
    font = _font(kind or "mono")
    return kind, (font.getlength(ch if kind else "□") if font is not None else SIZE * 0.6)


_Placed = tuple[int, int, float, float, str, "str | None"]  # line, run, x, width, character, font


def _layout(runs: Sequence[Run]) -> tuple[list[_Placed], int, bool]:
    """Each character's place: (line, run, x, width, character, font); the lines used (``MAX_LINES`` at most);
    whether the view was cut (at ``MAX_LINES`` lines or ``MAX_CHARS`` characters)."""
    placed: list[_Placed] = []
    line, x = 0, float(MARGIN)
    for index, run in enumerate(runs):
        for ch in run.text:
            if ch == "\n":
                line, x = line + 1, float(MARGIN)
                continue
            kind, width = _advance(ch)
            if x + width > WIDTH - MARGIN and x > MARGIN:
                line, x = line + 1, float(MARGIN)
            if line >= MAX_LINES or len(placed) >= MAX_CHARS:
                return placed, min(line + 1, MAX_LINES), True
            placed.append((line, index, x, width, ch, kind))
            x += width
    return placed, line + 1, False


def export_png(*, title: str, body: str, lines: Sequence[str] = ()) -> bytes:
    """A PNG of a view: ``title`` and ``lines`` (plain text) above the view's tokens (``body``: rendered HTML)."""
    runs = [Run(title + "\n", None), *(Run(line + "\n", None, _GREY) for line in lines), Run("\n", None)]
    head = len(runs)
    runs += view_runs(body)
    placed, used, cut = _layout(runs)
    height = MARGIN * 2 + LINE * (used + (2 if cut else 0))
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for line, index, x, width, _ch, _kind in placed:  # boxes first, so no box covers a neighbour's text
        fill = runs[index].fill
        if fill is not None and index >= head:
            top = MARGIN + line * LINE + 2
            draw.rectangle((x, top, x + width, top + LINE - 4), fill=fill)
    for line, index, x, _width, ch, kind in placed:
        top = MARGIN + line * LINE + (LINE - SIZE) // 2 - 2
        if kind == "emoji":
            glyph = _emoji(ch)
            image.paste(glyph, (round(x), top), glyph)
        elif not ch.isspace():
            font = _font(kind or "mono")
            draw.text((x, top), ch if kind else "□", font=font, fill=runs[index].ink)
    if cut:
        note = f"… cut here: the image holds the first {used} lines ({len(placed):,} characters) of the view."
        draw.text((MARGIN, MARGIN + LINE * (used + 1)), note, font=_font("sans"), fill=_GREY)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
