"""The page in Simplified Chinese and English: one catalog (``catalog.ROWS``), lookups (``lookup``) and the page's
script (``page.js``).

How the language is chosen: the browser's language (any ``zh*`` gives Chinese), unless the page's switch or a share
link's ``?lang=zh`` / ``?lang=en`` says otherwise. The CLI and the API stay English.

Three routes, one catalog:

* component labels, info, placeholders, buttons, tabs, accordions and Markdown: ``gr.I18n`` (``rsdemo.ui.lang.tr``
  wraps a catalog key, or the English wording itself, as Gradio's translation marker);
* HTML rendered by the server (``rsdemo.render``) and error messages: rendered in English; ``page.js`` swaps each
  text node (and ``data-label`` / ``title``) whose text is a catalog value, exactly or by pattern (``translate``);
* the switch: ``page.js`` calls Gradio's own ``changeLocale`` and keeps ``?lang=`` in the address.

To add a string: one row ``(key, English, 中文)`` in ``catalog.ROWS``; in a UI module write ``label=tr("English")``
(or ``tr("the.key", n=3)`` where it has placeholders). ``tests/test_i18n.py`` checks every row and that the built
page has no label left out.

>>> from rsdemo.i18n import text, translate
>>> text("tab.compare", lang="zh"), translate("chars / token", lang="zh")
('比较', '字符 / 词元')
"""

from __future__ import annotations

from pathlib import Path

from .catalog import EN, LANGS, ROWS, ZH
from .lookup import client_catalog, key_of, normalize_lang, placeholders, text, translate, translations

__all__ = [
    "EN",
    "LANGS",
    "PAGE_SCRIPT",
    "ROWS",
    "ZH",
    "client_catalog",
    "key_of",
    "normalize_lang",
    "placeholders",
    "text",
    "translate",
    "translations",
]

PAGE_SCRIPT = Path(__file__).with_name("page.js")
