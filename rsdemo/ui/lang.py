"""The catalog (``rsdemo.i18n``) as Gradio takes it: ``tr`` marks a string for translation, ``page_i18n`` is the
``gr.I18n`` for ``demo.launch``, ``head_html`` the page's language script.

``tr`` takes a catalog key or the English wording itself (so a label edit stays a one-word change):
``label=tr("Tokenizer")``; with placeholders, ``tr("cmp.tokenizers", lo=2, hi=6)``. A wording that is not in the
catalog comes back as it is (``tests/test_i18n.py`` finds it). Strings with placeholders are filled in when the
page is built and kept (both languages) for ``page_i18n``, which ``launch_options`` calls after ``build_demo``.

>>> tr("Decode").key, tr("no such wording")
('tok.decode', 'no such wording')
>>> tr("cmp.tokenizers", lo=2, hi=6).key in page_i18n().translations["zh"]
True
"""

from __future__ import annotations

import json
import re
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from ..i18n import EN, PAGE_SCRIPT, client_catalog, key_of, text, translations

__all__ = ["LANG_SWITCH", "head_html", "page_i18n", "tr", "tr_choices", "tr_texts"]

# strings with placeholders, filled in when the page was built: key -> (English, Chinese)
_FILLED: dict[str, tuple[str, str]] = {}


def tr(wording: Any, /, **args: Any) -> Any:
    """``wording`` (a catalog key or English wording) as Gradio's translation marker; anything else as it is."""
    if not isinstance(wording, str):
        return wording
    key = wording if wording in EN else key_of(wording)
    if key is None:
        return wording
    if not args:
        return I18nData(key)
    filled = key + "".join(
        f".{name}-{re.sub(r'[^A-Za-z0-9_]', '_', str(value))}" for name, value in sorted(args.items())
    )
    _FILLED[filled] = (text(key, lang="en", **args), text(key, lang="zh", **args))
    return I18nData(filled)


def tr_texts(key: str, *, en: str, zh: str) -> I18nData:
    """A string built in both languages by its module (the About tab's tables) under ``key``, for ``page_i18n``."""
    _FILLED[key] = (en, zh)
    return I18nData(key)


def tr_choices(choices: list[tuple[str, str]]) -> list[tuple[Any, str]]:
    """A dropdown's ``(label, value)`` choices with their labels marked (``tr``); the values (keys) stay as they are.

    >>> tr_choices([("Greedy", "greedy")])[0][0].key
    'method.greedy'
    """
    return [(tr(label), value) for label, value in choices]


# Gradio's own words that its zh-CN table lacks (its keys; Gradio fills in the placeholders)
GRADIO_CHROME_ZH = {"status.queue_position": "排队中：第 {position} 位，共 {size} 位"}


def page_i18n() -> gr.I18n:
    """Every string in both languages, and those filled in so far, for ``demo.launch(i18n=...)``."""
    tables = translations()
    for key, (en, zh) in _FILLED.items():
        tables["en"][key], tables["zh"][key] = en, zh
    tables["zh"].update(GRADIO_CHROME_ZH)
    return gr.I18n(**tables)


def head_html() -> str:
    """The page's language script, with the catalog it swaps rendered HTML from (``rsdemo/i18n/page.js``)."""
    catalog = json.dumps(client_catalog(), ensure_ascii=False).replace("</", "<\\/")
    return f"<script>window.RS_I18N = {catalog};</script><script>{PAGE_SCRIPT.read_text(encoding='utf-8')}</script>"


# the page's language switch (top right): page.js flips Gradio's locale and swaps this button's words
LANG_SWITCH = (
    '<div class="rs-lang-bar" style="display:flex;justify-content:flex-end;margin-bottom:-2.4em">'
    '<button type="button" class="rs-lang-switch" data-rs-lang-switch style="padding:2px 12px;'
    "border:1px solid var(--border-color-primary);border-radius:var(--radius-md);"
    'background:var(--button-secondary-background-fill);cursor:pointer;position:relative;z-index:1" '
    f'title="{text("page.switch_title")}">{text("page.switch")}</button></div>'
)
