"""The About tab: the catalog's tokenizers, models and decoding methods as Markdown tables, and share links."""

from __future__ import annotations

import html

from ..catalog import MODELS, TOKENIZERS, ModelSpec, TokenizerSpec
from ..decoding import COMMON_PARAMS, METHODS, Param
from ..i18n import EN, text, translate
from ..loading import model_installed
from ..share import SHARE_LINK_CHARS

__all__ = ["_about_markdown"]


def _md_cell(text: str) -> str:
    r"""Catalog text as a Markdown table cell: ``<|begin_of_text|>`` shown as written, its pipes not splitting cells.

    >>> _md_cell("adds <|begin_of_text|>")
    'adds &lt;\\|begin_of_text\\|&gt;'
    """
    return html.escape(text, quote=False).replace("|", "\\|")


def _param_summary(p: Param, lang: str = "en") -> str:
    """One parameter of a method as the About tab lists it: its label, range and default."""
    key = f"param.{p.name}"
    label = _t(key, p.label, lang) if p.label == EN.get(key) else translate(p.label, lang=lang)
    if p.kind in ("bool", "text"):
        return text("about.param_bool", lang=lang, label=label, default=translate(str(p.default), lang=lang))
    return text("about.param_range", lang=lang, label=label, lo=p.minimum, hi=p.maximum, default=p.default)


def _t(key: str, english: str, lang: str) -> str:
    """The catalog's ``key`` in ``lang`` where it has one, else ``english`` (catalog data with no translation)."""
    return text(key, lang=lang) if key in EN else english


def _files_from(spec: TokenizerSpec, lang: str) -> str:
    """Where a tokenizer's files come from: its package, its model's (an embedded model's own), or built in."""
    if spec.package:
        return spec.package
    return MODELS[spec.model].package or spec.model if spec.model else text("about.builtin", lang=lang)


def _model_source(spec: ModelSpec, lang: str) -> str:
    """A model's source: the Hub repo, embedded, or an opt-in extra (installed here, or the command installing it).

    >>> from rsdemo.catalog import get_model_spec
    >>> _model_source(get_model_spec("gpt2"), "en"), _model_source(get_model_spec("smollm2-135m-instruct"), "zh")
    ('Hub: openai-community/gpt2', '内嵌（离线）')
    """
    if spec.source != "gguf":
        return f"Hub: {spec.repo_id}"
    if not spec.install:
        return text("about.embedded", lang=lang)
    if model_installed(spec):
        return text("about.opt_in", lang=lang)
    return text("about.opt_in_missing", lang=lang, how=f"`{spec.install}`")


def _about_markdown(lang: str = "en") -> str:
    """The whole tab, in ``lang`` (``en`` or ``zh``); keys, names and numbers as they are."""
    rows = "\n".join(
        f"| `{s.key}` | {_md_cell(translate(s.family, lang=lang))} "
        f"| {_md_cell(_files_from(s, lang))} | {_md_cell(translate(s.licence, lang=lang))} "
        f"| {_md_cell(_t(f'tnote.{s.key}', s.notes, lang))} |"
        for s in TOKENIZERS.values()
    )
    models = "\n".join(
        f"| `{m.key}` | {_model_source(m, lang)} | {m.params_m}M | {translate(m.licence, lang=lang)} |"
        for m in MODELS.values()
    )
    methods = "\n".join(
        f"| `{m.key}` | {_t(f'method.{m.key}', m.label, lang)}{text('about.colon', lang=lang)}"
        f"{_t(f'method.{m.key}.about', m.description, lang)} "
        f"| {text('about.sep', lang=lang).join(_param_summary(p, lang) for p in m.params) or '—'} |"
        for m in METHODS.values()
    )
    common = text("about.sep", lang=lang).join(
        text(
            "about.param_range",
            lang=lang,
            label=_t(f"param.{p.name}", p.label, lang),
            lo=p.minimum,
            hi=p.maximum,
            default=p.default,
        )
        if p.kind != "text"
        else text("about.param_text", lang=lang, label=_t(f"param.{p.name}", p.label, lang), default=p.default)
        for p in COMMON_PARAMS
    )
    return (
        f"## {text('about.tokenizers', lang=lang)}\n\n{text('about.tok_head', lang=lang)}\n|---|---|---|---|---|\n"
        f"{rows}\n\n{text('about.special', lang=lang)}\n\n"
        f"{text('about.share', lang=lang, limit=f'{SHARE_LINK_CHARS:,}')}\n\n"
        f"## {text('about.lang', lang=lang)}\n\n{text('about.lang_text', lang=lang)}\n\n"
        f"## {text('about.models', lang=lang)}\n\n{text('about.model_head', lang=lang)}\n|---|---|---|---|\n"
        f"{models}\n\n"
        f"## {text('about.methods', lang=lang)}\n\n{text('about.method_head', lang=lang)}\n|---|---|---|\n{methods}\n\n"
        + text("about.common", lang=lang, params=common)
    )
