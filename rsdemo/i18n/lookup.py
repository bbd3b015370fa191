"""Looking strings up in the catalog: by key (``text``), by their English wording (``translate``, ``key_of``), and
the catalog as the page's script and ``gr.I18n`` take it.

``translate`` is what the page's script does in the browser to HTML rendered by the server and to error messages
(which stay English for the API and the CLI): an English string that is a catalog value, exactly or with its
``{placeholders}`` filled in, becomes the Chinese one; the filled-in parts are translated too where they are catalog
values themselves; anything else stays as it is.

>>> text("tok.download_n", lang="zh", n="1,024")
'下载全部 1,024 个 ID（JSON）'
>>> translate("GPT-2 (r50k_base) · byte-level BPE", lang="zh")
'GPT-2 (r50k_base) · 字节级 BPE'
>>> translate("Unknown tokenizer 'gpt5'. Known: gpt2, llama3.", lang="zh")
"未知的分词器 'gpt5'。已知的有：gpt2, llama3。"
>>> translate("not in the catalog", lang="zh"), key_of("Decode")
('not in the catalog', 'tok.decode')
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

from .catalog import EN, LANGS, ZH

__all__ = ["client_catalog", "key_of", "normalize_lang", "placeholders", "text", "translate", "translations"]

_TABLES = {"en": EN, "zh": ZH}


def normalize_lang(value: str | None) -> str:
    """A language tag (``zh-CN``, ``zh_TW``, ``en-GB``, a ``?lang=`` value) as ``zh`` or ``en``.

    >>> normalize_lang("zh-CN"), normalize_lang("fr"), normalize_lang(None)
    ('zh', 'en', 'en')
    """
    return "zh" if (value or "").strip().lower().startswith("zh") else "en"


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template fills in.

    >>> sorted(placeholders("{n} of {total}"))
    ['n', 'total']
    """
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def text(key: str, /, *, lang: str = "en", **args: Any) -> str:
    """The string for ``key`` in ``lang`` (``en``/``zh``), ``{placeholders}`` filled from ``args``.

    >>> text("tab.about", lang="zh")
    '关于'
    """
    template = _TABLES[normalize_lang(lang)][key]
    return template.format(**args) if args else template


def key_of(english: str) -> str | None:
    """The key whose English is ``english`` (the first one, where several keys share a wording), or ``None``."""
    return _by_english().get(english)


def translations() -> dict[str, dict[str, str]]:
    """The catalog as ``gr.I18n(**translations())`` takes it: ``{"en": {...}, "zh": {...}}``."""
    return {lang: dict(_TABLES[lang]) for lang in LANGS}


def translate(english: str, *, lang: str) -> str:
    """``english`` in ``lang``: exact catalog wording first, then a pattern with placeholders; else unchanged."""
    if normalize_lang(lang) == "en":
        return english
    stripped = english.strip()
    exact = _exact().get(stripped)
    if exact is not None:
        return english.replace(stripped, exact)
    for regex, zh, names in _patterns():
        found = regex.fullmatch(stripped)
        if found:
            args = {name: translate(value, lang=lang) for name, value in zip(names, found.groups(), strict=True)}
            return english.replace(stripped, zh.format(**args))
    return english


def client_catalog() -> dict[str, Any]:
    """What the page's script needs: ``exact`` (English → Chinese) and ``patterns`` (``[regex, Chinese, names]``)."""
    return {
        "exact": _exact(),
        "patterns": [[regex.pattern, zh, names] for regex, zh, names in _patterns()],
    }


# placeholders that always hold a number (``1,234``, ``-1``, ``0.5``): matched as one, so a pattern cannot swallow
# a neighbouring sentence ("{n} on boundaries ..." inside "{label} — {n} tokens, {count}")
NUMBERS = {"n", "total", "total2", "shown", "shown2", "kept", "length", "limit", "lo", "hi", "beams", "steps", "top"}


def _group(name: str | None) -> str:
    if not name:
        return ""
    return r"(-?[0-9][0-9,.]*)" if name in NUMBERS else "(.+?)"


@functools.cache
def _by_english() -> dict[str, str]:
    found: dict[str, str] = {}
    for key, english in EN.items():
        found.setdefault(english, key)
    return found


@functools.cache
def _exact() -> dict[str, str]:
    return {EN[key]: ZH[key] for key in EN if not placeholders(EN[key]) and EN[key] != ZH[key]}


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], str, list[str]], ...]:
    rows = []
    for key, english in EN.items():
        parts = list(string.Formatter().parse(english))
        names = [name for _, name, _, _ in parts if name]
        if not names:
            continue
        source = "".join(re.escape(literal) + _group(name) for literal, name, _, _ in parts)
        literal_chars = sum(len(literal) for literal, _, _, _ in parts)
        rows.append((literal_chars, re.compile(source, re.DOTALL), ZH[key], names))
    rows.sort(key=lambda row: -row[0])  # the most specific (most literal text) first
    return tuple((regex, zh, names) for _, regex, zh, names in rows)
