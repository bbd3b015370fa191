"""The backend's messages on the Chinese page: every error a visitor can meet, and the notes a run writes, come
out of the catalog in Chinese (``rsdemo.i18n.translate``, what the page's script does to a ``gr.Error`` toast and to
the HTML the server renders), with no English word left but names and code.

Two ways in: real messages, from real bad calls through the backend and the API's argument checks (a table); and
every raise site's own template, read from the source with ``ast`` and filled with a sample value, so a message
added later without a catalog row fails here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rsdemo.arguments import ENDPOINTS, check_call, whole
from rsdemo.core.errors import RsdemoError
from rsdemo.i18n import ZH, translate
from tests.test_browser_i18n import _allowed

ROOT = Path(__file__).resolve().parent.parent / "rsdemo"
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,}")

# developer-only messages (never a visitor's): the CLI's own flags (its messages stay English, as the CLI does),
# the operator's configuration of a serving engine, and internal consistency checks
DEVELOPER_ONLY = (
    "rsdemo/cli/",  # --flags: the command line stays English
    "rsdemo/generation/remote_config.py",  # RSDEMO_REMOTE_* settings, read at start-up
    "rsdemo/generation/llamacpp_weights.py",  # an unknown RSDEMO_LLAMACPP_WEIGHTS kind; a build failure (logged)
)
# a raise site whose message is only other text (``raise InputError(reason)``, ``f"{cause} {when}"``) has no words
# of its own: its parts have their rows where they are written


def _kept_words() -> set[str]:
    """Words the Chinese page keeps in Latin letters: names, brands, code (``test_browser_i18n``), and every word the
    catalog's Chinese itself writes in Latin letters (HTTP, safetensors, pip, owner/name ...)."""
    words = set(_allowed())
    for zh in ZH.values():
        words |= {w.lower() for w in _WORD.findall(zh)}
    return words


KEPT = _kept_words()


# what a message quotes as the caller sent it ('maybe', "gpt5", None), and the API's own parameter names (chat,
# position): kept as they are, as names are
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\bNone\b|\bTrue\b|\bFalse\b")
_API_NAMES = {name.lower() for checks in ENDPOINTS.values() for name in checks}


def _english_left(zh: str) -> list[str]:
    """Latin words left in a translation that are not names, code (an identifier with ``_``) or what was sent."""
    words = _WORD.findall(_QUOTED.sub(" ", zh))
    return [w for w in words if w.lower() not in KEPT | _API_NAMES and "_" not in w]


def _assert_chinese(message: str) -> None:
    zh = translate(message, lang="zh")
    assert zh != message and _CHINESE.search(zh), f"not in the catalog: {message!r}"
    assert not _english_left(zh), f"{message!r} -> {zh!r}: English left {_english_left(zh)}"


# --- the raise sites, read from the source -------------------------------------------------------------------

_TYPED = {
    "RsdemoError",
    "InputError",
    "EmptyInputError",
    "InputTooLargeError",
    "InvalidTextError",
    "InvalidIdsError",
    "AssetMissingError",
    "CapacityError",
    "ServerError",
    "EngineFailedError",
    "HubError",
    "InvalidRepoIdError",
    "HubUnavailableError",
    "HubLoadError",
}


# rsdemo.arguments' phrases inside a message, written out (their own wording has rows of its own)
_HELPERS = {
    "_span": " between {…} and {…}",
    "takes_whole": "a whole number between {…} and {…}",
    "takes_number": "a number between {…} and {…}",
}


def _template(node: ast.AST, local: dict[str, list[ast.AST]]) -> str | None:
    """A message's template: a string as it is, an f-string with each ``{expression}`` as ``{…}`` (a local variable
    assigned one string in the function is written out); else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("{", "{{").replace("}", "}}")
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
                continue
            inner = value.value if isinstance(value, ast.FormattedValue) else None
            helper = inner.func.id if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) else ""
            if helper in _HELPERS:
                parts.append(_HELPERS[helper])
                continue
            assigned = local.get(inner.id, []) if isinstance(inner, ast.Name) else []
            written = _template(assigned[0], {}) if len(assigned) == 1 and value.conversion == -1 else None
            parts.append(written if written is not None else "{…}")
        return "".join(parts)
    return None


def _assignments(function: ast.AST) -> dict[str, list[ast.AST]]:
    """A function's local names assigned a string or an f-string, each with every value it is assigned."""
    local: dict[str, list[ast.AST]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, (ast.Constant, ast.JoinedStr)):
                local.setdefault(node.targets[0].id, []).append(node.value)
    return local


def _raise_sites() -> list[tuple[str, str]]:
    """Every typed error raised with a literal message in ``rsdemo/``: (file:line, template). A message held in a
    variable (``raise HubLoadError(message)``) counts once for each string the function assigns it."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        where = str(path.relative_to(ROOT.parent))
        if where.startswith(DEVELOPER_ONLY):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for function in functions:
            local = _assignments(function)
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name not in _TYPED:
                    continue
                arg = node.args[0]
                values = local.get(arg.id, []) if isinstance(arg, ast.Name) else [arg]
                for value in values:
                    template = _template(value, local)
                    if template is not None and re.search(r"[A-Za-z]{2}", template.replace("{…}", "")):
                        found.append((f"{where}:{node.lineno}", template))
    return sorted(set(found))


SITES = _raise_sites()
_IDS = [f"{w}#{n}" for n, (w, _) in enumerate(SITES)]
# sample values for the holes: a number fills a number's place and stands for a name elsewhere (a name in a
# message is a name: it stays as it is)
_SAMPLE = "7"


def test_the_scan_finds_the_raise_sites() -> None:
    assert len(SITES) > 110
    assert any("max new tokens" in t.lower() for _, t in SITES)


@pytest.mark.parametrize(("where", "template"), SITES, ids=_IDS)
def test_every_raise_site_has_a_catalog_row(where: str, template: str) -> None:
    message = template.replace("{…}", _SAMPLE).replace("{{", "{").replace("}}", "}")
    _assert_chinese(message)


# --- real messages, from real bad calls ----------------------------------------------------------------------


def _first(results) -> None:
    """Run a streaming call until it raises (a generator's errors surface while iterating)."""
    for _ in results:
        pass


def _calls(backend) -> dict[str, Callable[[], object]]:
    from rsdemo.generation.results import Alternative, GeneratedToken
    from rsdemo.ui.generate_branch import _branch_point, _pick_candidate

    took = GeneratedToken(287, " of", 0.9, None, (Alternative(11, ",", 0.05, ","),), (), " of", b" of")

    def gen(**kw):
        args = {"model": "smollm2-135m-instruct", "prompt": "Hi", "method": "greedy", "params": {}, **kw}
        return lambda: _first(backend.generate(**args))

    return {
        # the API's argument checks (rsdemo.arguments), as /generate, /arena ... run them
        "prompt not text": lambda: check_call("generate", {"prompt": 123}),
        "prompt blank": lambda: check_call("generate", {"prompt": "   "}),
        "surprisal prompt blank": lambda: check_call("surprisal", {"prompt": ""}),
        "next_token prompt blank": lambda: check_call("next_token", {"prompt": ""}),
        "beam_tree prompt blank": lambda: check_call("beam_tree", {"prompt": ""}),
        "chat not a flag": lambda: check_call("generate", {"chat": "maybe"}),
        "params not a mapping": lambda: check_call("generate", {"params": ["max_new_tokens", 5]}),
        "stop not lines": lambda: check_call("generate", {"stop": ["END", 3]}),
        "engine not a name": lambda: check_call("generate", {"engine": 5}),
        "method not a key": lambda: check_call("generate", {"method": ["greedy"]}),
        "model not a key": lambda: check_call("generate", {"model": None}),
        "tokenizer not a key": lambda: check_call("tokenize", {"tokenizer": ""}),
        "prefix not a list": lambda: check_call("branch", {"prefix": "5"}),
        "prefix negative": lambda: check_call("branch", {"prefix": [5, -1]}),
        "methods not a list": lambda: check_call("arena", {"methods": "greedy"}),
        "methods with None": lambda: check_call("arena", {"methods": ["greedy", None]}),
        "engines not a list": lambda: check_call("arena", {"engines": "llama.cpp"}),
        "position negative": lambda: check_call("next_token", {"position": -1}),
        "position a fraction": lambda: check_call("next_token", {"position": 1.5}),
        "probes not lines": lambda: check_call("next_token", {"probes": 3}),
        "ids not ids": lambda: check_call("decode", {"ids": 5}),
        "tokenizers not a list": lambda: check_call("compare", {"tokenizers": "gpt2,llama3"}),
        "vocab mode": lambda: check_call("vocab", {"mode": 3}),
        "explain index": lambda: check_call("explain", {"index": -1}),
        # a run's own checks (rsdemo.generation, rsdemo.decoding, rsdemo.insight)
        "empty prompt": gen(prompt=""),
        "long prompt": gen(prompt="x" * (backend.settings.max_prompt_chars + 1)),
        "unknown method": gen(method="no-such-method"),
        "unknown model": gen(model="no-such-model"),
        "unknown engine": gen(engine="no-such-engine"),
        "Hub model offline": gen(model="Qwen/Qwen2.5-0.5B"),
        "not a repo id": gen(model="../etc/passwd/x"),
        "max new tokens 0": gen(params={"max_new_tokens": 0}),
        "max new tokens text": gen(params={"max_new_tokens": "ten"}),
        "top-p out of range": gen(method="top_p", params={"top_p": 7}),
        "temperature not a number": gen(method="sample", params={"temperature": "hot"}),
        "seed out of range": gen(method="sample", params={"seed": -5}),
        "early stopping not a flag": gen(method="beam", params={"early_stopping": "maybe"}),
        "no such parameter": gen(params={"top_q": 1}),
        "beam groups": gen(method="diverse_beam", params={"num_beams": 4, "num_beam_groups": 3}),
        "too many stop strings": gen(stop="\n".join(f"s{i}" for i in range(100))),
        "arena one method": lambda: _first(
            backend.arena(model="smollm2-135m-instruct", prompt="Hi", methods=["greedy"], params={}, chat=True)
        ),
        "arena five runs": lambda: _first(
            backend.arena(
                model="smollm2-135m-instruct",
                prompt="Hi",
                methods=["greedy", "top_p", "top_k"],
                params={},
                chat=True,
                engines=["llama.cpp", "transformers"],
            )
        ),
        "beam tree too many beams": lambda: backend.beam_tree(
            model="smollm2-135m-instruct", prompt="Hi", params={"num_beams": 12}
        ),
        "beam tree unknown model": lambda: backend.beam_tree(model="no-such-model", prompt="Hi"),
        "next token unknown method": lambda: backend.next_token(
            model="smollm2-135m-instruct", prompt="Hi", method="nope", params={}, probes="", position=0
        ),
        # the branches' checks (the Generate tab)
        "branch before a run": lambda: _branch_point(None, [], 0, 1, "x"),
        "branch token empty": lambda: _pick_candidate(took, ""),
        "branch to the same token": lambda: _pick_candidate(took, " of"),
        "branch to no alternative": lambda: _pick_candidate(took, "zebra"),
        "branch from run": lambda: whole(
            3, name="From run", minimum=0, maximum=0, also=" (0 is the run above; it has no branches yet)"
        ),
        "branch at token": lambda: whole(9, name="At token #", minimum=1, maximum=4, also=" (the tokens of run 0)"),
        "inside position": lambda: whole(-1, name="After token #", minimum=0, also=" (0: after the whole prompt)"),
        # text and ids (the Tokenize and Compare tabs)
        "empty text": lambda: backend.tokenize(text="", tokenizer="gpt2"),
        "text too large": lambda: backend.tokenize(text="x" * (backend.settings.max_text_chars + 1), tokenizer="gpt2"),
        "lone surrogate": lambda: backend.tokenize(text="a\ud800b", tokenizer="gpt2"),
        "unknown tokenizer": lambda: backend.tokenize(text="hi", tokenizer="no-such-tokenizer"),
        "compare one tokenizer": lambda: backend.compare(text="hi", tokenizers=["gpt2"]),
        "decode negative": lambda: backend.decode(ids="[-1]", tokenizer="gpt2"),
        "decode words": lambda: backend.decode(ids="[hello]", tokenizer="gpt2"),
        "decode nothing": lambda: backend.decode(ids="", tokenizer="gpt2"),
        "decode out of vocabulary": lambda: backend.decode(ids="[99999999]", tokenizer="gpt2"),
    }


def _call_names() -> list[str]:
    """The table's names, for the test ids (the calls are made with the real backend, in the test)."""

    class _Settings:
        max_prompt_chars = max_text_chars = 1

    class _Fake:
        settings = _Settings()

    return list(_calls(_Fake()))


@pytest.mark.parametrize("name", _call_names())
def test_real_error_messages_are_chinese(backend, name: str) -> None:
    call = _calls(backend)[name]
    with pytest.raises(RsdemoError) as caught:
        call()
    _assert_chinese(str(caught.value))


def test_an_unknown_message_stays_as_it_is() -> None:
    """The check is not vacuous: a sentence with no row is left English, and the check says so."""
    message = "The flux capacitor overheated while decoding."
    assert translate(message, lang="zh") == message
    with pytest.raises(AssertionError):
        _assert_chinese(message)


def test_the_engine_dropdown_is_marked_for_translation(backend) -> None:
    """The Generate tab's engine choices, as built and as each page load refreshes them, are gr.I18n markers of
    strings the page's i18n table holds in both languages (the load no longer resets them to English)."""
    from rsdemo.ui.generate_tab import _engine_dropdown
    from rsdemo.ui.lang import page_i18n

    built = _engine_dropdown(backend, building=True)
    tables = page_i18n().translations
    refreshed = _engine_dropdown(backend)
    assert [value for _, value in built] == [value for _, value in refreshed] == ["", *backend.engines]
    first = refreshed[0][0]
    assert first.key == "gen.engine_auto" and _CHINESE.search(tables["zh"][first.key])
    for label, _ in refreshed[1:]:
        key = getattr(label, "key", None)
        if key is not None:  # an engine not installed or set aside here says so, in both languages
            assert key in tables["en"] and _CHINESE.search(tables["zh"][key])
        else:  # a usable engine: its name, as written
            assert label in {e.capabilities.label for e in backend.engines.values()}
