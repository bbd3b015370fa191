"""A view as one self-contained HTML file: the rendered tokens, their colours, the details on hover (``title``
attributes), the page's CSS inlined; no script, no network, nothing from the user's text executable.

The view's HTML comes from the render functions (every piece of user text escaped there); it is parsed again
here and written back from an allowlist, so even a fragment that held markup would lose every script, event
handler, link, embedded object and the click panel's data. A ``Content-Security-Policy`` meta
(``default-src 'none'; style-src 'unsafe-inline'``) forbids the file any script or network as well.

>>> page = export_html(title="<b>x</b>", body='<span class="rs-tok" onclick="alert(1)" title="id 1">a</span>')
>>> "onclick" in page, "<script" in page, "&lt;b&gt;x&lt;/b&gt;" in page, 'title="id 1"' in page
(False, False, True, True)
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["CSP", "closed_tags", "export_html", "page_css", "sanitize_fragment"]

CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = Path(__file__).resolve().parents[2] / "assets" / "style.css"
# what a view is drawn with; everything else (script, style, iframe, form, svg's script ...) is dropped
_TAGS = frozenset(
    "div span small b i em strong code pre br hr p ul ol li table thead tbody tr th td caption details summary "
    "h1 h2 h3 h4 h5 h6 sub sup mark svg g text tspan line rect circle path polyline title".split()
)
_DROP_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "embed", "textarea"})
_ATTRS = frozenset(
    "class title dir role lang colspan rowspan style aria-label aria-hidden x y x1 x2 y1 y2 cx cy r width height "
    "viewbox d fill stroke stroke-width stroke-dasharray points transform text-anchor dominant-baseline font-size "
    "rx ry opacity xmlns data-zw".split()
)
_VOID = frozenset({"br", "hr"})
_UNSAFE_STYLE = re.compile(r"url\s*\(|expression|@import|\\", re.IGNORECASE)
_CLICK_PANEL = "rs-details"  # "click a token ..." means nothing in a file without script


class _Sanitizer(HTMLParser):
    """HTML written back from an allowlist of tags and attributes, every value escaped again."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping: list[str] = []  # the open elements whose content is dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if self.skipping or tag in _DROP_WITH_CONTENT or _CLICK_PANEL in classes.split():
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag not in _TAGS:
            return
        kept = []
        for name, value in attrs:
            if name not in _ATTRS or (name == "style" and _UNSAFE_STYLE.search(value or "")):
                continue
            kept.append(f' {name}="{html.escape(value or "", quote=True)}"')
        self.out.append(f"<{tag}{''.join(kept)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        elif tag not in _VOID and tag in _TAGS and not self.skipping:
            self.out.append(f"</{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if self.skipping[-1] == tag:
                self.skipping.pop()
            return
        if tag in _TAGS and tag not in _VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))


def closed_tags(fragment: str) -> str:
    """``fragment`` with every ``<`` that no ``>`` follows before the next ``<`` written as ``&lt;`` (text).

    A tag never holds a raw ``<`` (the renderers escape it in values), and Python's ``HTMLParser`` takes far more
    than linear time over a run of unclosed tags (``<a <a <a ...``: minutes for 100 kB); this pass is linear.

    >>> closed_tags("<a <a <b>x</b> 1 < 2")
    '&lt;a &lt;a <b>x</b> 1 &lt; 2'
    """
    head, *rest = fragment.split("<")
    return head + "".join(("<" if ">" in part else "&lt;") + part for part in rest)


def sanitize_fragment(fragment: str) -> str:
    """``fragment`` written back with only the tags and attributes a view needs (no script, handler or link).

    >>> sanitize_fragment('<div class="rs-view"><img src=x onerror=alert(1)><script>alert(2)</script>a&lt;</div>')
    '<div class="rs-view">a&lt;</div>'
    """
    parser = _Sanitizer()
    parser.feed(closed_tags(fragment))
    parser.close()
    return "".join(parser.out)


def page_css() -> str:
    """The page's own CSS (``assets/style.css``), safe to inline in a ``<style>`` element.

    >>> ".rs-tok" in page_css() and "</" not in page_css()
    True
    """
    return _CSS.read_text(encoding="utf-8").replace("</", "<\\/")


_FILE_CSS = """
body { margin: 24px auto; max-width: 1100px; padding: 0 16px; font-family: system-ui, sans-serif; color: #111;
  background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } .rs-export-sub { color: #555; font-size: 13px; margin: 0 0 16px; }
.rs-export-sub span { display: block; white-space: pre-wrap; overflow-wrap: anywhere; }
.rs-tok { cursor: default; } .rs-note { display: block !important; }
footer { margin-top: 24px; color: #777; font-size: 12px; }
"""


def export_html(*, title: str, body: str, lines: tuple[str, ...] = (), footer: str = "") -> str:
    """A whole HTML file of a view: its ``title``, a few plain ``lines`` under it (the settings), the view's
    ``body`` (rendered HTML, sanitized here), a ``footer``; the page's CSS inlined; no script at all.

    Args:
        title: the heading (plain text, escaped).
        body: the view's HTML, as the page shows it (``render_token_view`` and friends).
        lines: plain text lines under the heading (escaped).
        footer: a plain text line at the end (escaped).
    """
    sub = "".join(f"<span>{html.escape(line)}</span>" for line in lines)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{page_css()}{_FILE_CSS}</style></head>\n"
        f'<body><h1>{html.escape(title)}</h1><p class="rs-export-sub">{sub}</p>\n'
        f"{sanitize_fragment(body)}\n"
        f"<footer>{html.escape(footer or 'Exported from rsdemo. Hover a token for its details.')}</footer>"
        "</body></html>\n"
    )
