"""What a caller sends, checked one value at a time: the API's parameters, the page's number fields, the CLI's flags.

A wrong value gets one sentence that names the parameter, shows what it got (shortened, as Python writes it) and
says what it takes. The same rules hold everywhere: a string that spells a number is that number (``"8"`` is 8 for
the API, the page and the CLI alike); a whole-number parameter is never rounded (``1.5`` is refused, ``2.0`` is 2);
``True`` is no number. ``ENDPOINTS`` lists every API endpoint's parameters with their checks (data), and
``check_call`` applies them before an endpoint runs; ``rsdemo.decoding.Param.check`` uses the same functions for
the decoding parameters inside ``params``.

>>> whole("8", name="max_new_tokens", minimum=1, maximum=512)
8
>>> whole(1.5, name="Seed", minimum=0, maximum=9)
Traceback (most recent call last):
...
rsdemo.core.errors.InputError: Seed must be a whole number between 0 and 9; got 1.5.
>>> check_call("next_token", {"position": "3", "probes": "Paris", "chat": "no"})
{'position': 3, 'probes': 'Paris', 'chat': False}
>>> check_call("arena", {"methods": ["greedy", None]})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
rsdemo.core.errors.InputError: methods must be a list of decoding method keys, ...; item 2 is None.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any

from .core.errors import EmptyInputError, InputError, InvalidTextError
from .core.settings import parse_bool

__all__ = [
    "ENDPOINTS",
    "MAX_TOKEN_ID",
    "check_call",
    "flag",
    "key",
    "keys",
    "lines",
    "mapping",
    "number",
    "shown",
    "takes_number",
    "takes_whole",
    "text",
    "token_ids",
    "whole",
]

MAX_TOKEN_ID = 2**31 - 1  # no vocabulary is larger; a model's own size is checked where the model is known
_INTEGER = re.compile(r"[+-]?\d{1,30}")


def shown(value: object, *, limit: int = 40) -> str:
    """What a caller sent, as Python writes it, cut to about ``limit`` characters.

    >>> shown(None), shown([10**12, -1]), shown("x" * 50)
    ('None', '[1000000000000, -1]', "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'")
    """
    if isinstance(value, str) and len(value) > limit:
        cut = repr(value[:limit])
        return cut[:-1] + "…" + cut[-1]
    written = repr(value)
    return written if len(written) <= limit else written[:limit] + "…"


def _figure(n: float) -> str:
    """A bound as people read it: ``2,147,483,647``, ``0.05``, ``1e-05``."""
    if isinstance(n, int):
        return f"{n:,}"
    return f"{n:g}"


def _span(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {_figure(minimum)} and {_figure(maximum)}"
    if minimum is not None:
        return f" from {_figure(minimum)} up"
    if maximum is not None:
        return f" up to {_figure(maximum)}"
    return ""


def takes_whole(minimum: int | None = None, maximum: int | None = None, also: str = "") -> str:
    """What a whole-number parameter takes, in words (the messages and the fields' help text say the same).

    >>> takes_whole(0, 2**31 - 1, ", or -1 for a random seed")
    'a whole number between 0 and 2,147,483,647, or -1 for a random seed'
    """
    return f"a whole number{_span(minimum, maximum)}{also}"


def takes_number(minimum: float | None = None, maximum: float | None = None) -> str:
    """What a number parameter takes, in words.

    >>> takes_number(0.05, 2.0)
    'a number between 0.05 and 2'
    """
    return f"a number{_span(minimum, maximum)}"


def _as_number(value: object) -> int | float | None:
    """``value`` as the number it is or spells (``"8"``, ``" 2.5 "``), or None: a bool, None, NaN, infinity, a
    container, or text that spells no number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 60:
        spelled = value.strip()
        if _INTEGER.fullmatch(spelled):
            return int(spelled)
        try:
            parsed = float(spelled)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def whole(
    value: object,
    *,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    special: Collection[int] = (),
    also: str = "",
    field: str = "params",
) -> int:
    """A whole number within ``minimum`` .. ``maximum`` (or one of ``special``, such as -1 for "random").

    Args:
        value: what the caller sent: an int, a float with no fraction, or text that spells one.
        name: how the message names the parameter (the API's name, or the page's label).
        special: values accepted outside the range; ``also`` says what they mean in the message.
        field: the input the error is about, for the page (``RsdemoError.field``).

    Raises:
        InputError: not a whole number (1.5, "ten", None, True), or out of range.

    >>> whole(2.0, name="position", minimum=0), whole(" -1 ", name="Seed", minimum=0, special=(-1,))
    (2, -1)
    >>> whole(-5, name="position", minimum=0, also=" (0: after the whole prompt)")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: position must be a whole number from 0 up (0: after the whole prompt); got -5.
    """
    number_ = _as_number(value)
    if number_ is not None and (isinstance(number_, int) or number_.is_integer()):
        n = int(number_)
        if n in special or ((minimum is None or n >= minimum) and (maximum is None or n <= maximum)):
            return n
    raise InputError(f"{name} must be {takes_whole(minimum, maximum, also)}; got {shown(value)}.", field=field)


def number(
    value: object, *, name: str, minimum: float | None = None, maximum: float | None = None, field: str = "params"
) -> float:
    """A finite number within ``minimum`` .. ``maximum`` (text that spells one counts).

    Raises:
        InputError: not a number ("hot", None, True, NaN), or out of range.

    >>> number("0.5", name="Top-p (top_p)", minimum=0.01, maximum=1.0)
    0.5
    >>> number(7, name="Top-p (top_p)", minimum=0.01, maximum=1.0)
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: Top-p (top_p) must be a number between 0.01 and 1; got 7.
    """
    number_ = _as_number(value)
    if number_ is not None and (minimum is None or number_ >= minimum) and (maximum is None or number_ <= maximum):
        return float(number_)
    raise InputError(f"{name} must be {takes_number(minimum, maximum)}; got {shown(value)}.", field=field)


def flag(value: object, *, name: str, field: str = "") -> bool:
    """True or false: ``true``/``false``, 1/0, yes/no, on/off (never ``bool("false")``).

    >>> flag("false", name="chat"), flag(1, name="chat")
    (False, True)
    >>> flag("maybe", name="chat")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: chat must be true or false; got 'maybe'.
    """
    try:
        return parse_bool(value)
    except ValueError:
        raise InputError(f"{name} must be true or false; got {shown(value)}.", field=field) from None


def text(value: object, *, name: str, blank: str = "", field: str = "") -> str:
    """A string; with ``blank`` (what to do instead), one that is not empty or only whitespace.

    Raises:
        InvalidTextError: not a string.
        EmptyInputError: empty or only whitespace, when ``blank`` is given.

    >>> text(123, name="prompt")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InvalidTextError: prompt must be a string; got 123.
    >>> text("  ", name="prompt", blank="type a text to score")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.EmptyInputError: prompt is empty or only whitespace: type a text to score.
    """
    if not isinstance(value, str):
        raise InvalidTextError(f"{name} must be a string; got {shown(value)}.", field=field)
    if blank and not value.strip():
        raise EmptyInputError(f"{name} is empty or only whitespace: {blank}.", field=field)
    return value


def key(value: object, *, name: str, takes: str, optional: bool = False, field: str = "") -> str:
    """A registry key or a name as a non-empty string (which keys exist is checked where the registry is).

    ``optional``: None and "" stand for "none given" and come back as "".

    >>> key(["greedy"], name="method", takes='a decoding method key such as "greedy"')
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: method must be a decoding method key such as "greedy"; got ['greedy'].
    """
    if optional and value in (None, ""):
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be {takes}; got {shown(value)}.", field=field)
    return value


def keys(value: object, *, name: str, takes: str, example: str, optional: bool = False, field: str = "") -> list[str]:
    """A list of non-empty strings (``optional``: None is an empty list).

    >>> keys("gpt2,char", name="tokenizers", takes="tokenizer keys", example='["gpt2", "char"]')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: tokenizers must be a list of tokenizer keys, ...; got 'gpt2,char'.
    """
    if optional and value is None:
        return []
    what = f"{name} must be a list of {takes}, such as {example}"
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{what}; got {shown(value)}.", field=field)
    for n, item in enumerate(value, 1):
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"{what}; item {n} is {shown(item)}.", field=field)
    return list(value)


def token_ids(value: object, *, name: str, field: str = "params") -> list[int]:
    """A list of token ids: whole numbers from 0 to ``MAX_TOKEN_ID`` (text that spells one counts, as everywhere).

    >>> token_ids(["5", 6.0], name="prefix")
    [5, 6]
    >>> token_ids([10**12, -1], name="prefix")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: prefix must be a list of token ids, ... item 1 is 1000000000000.
    """
    what = f"{name} must be a list of token ids, whole numbers{_span(0, MAX_TOKEN_ID)}"
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{what}; got {shown(value)}.", field=field)
    ids = []
    for n, item in enumerate(value, 1):
        try:
            ids.append(whole(item, name=name, minimum=0, maximum=MAX_TOKEN_ID, field=field))
        except InputError:
            raise InputError(f"{what}; item {n} is {shown(item)}.", field=field) from None
    return ids


def mapping(value: object, *, name: str, example: str, field: str = "params") -> dict[str, Any]:
    """An object of names and values (None: an empty one).

    >>> mapping(["max_new_tokens", 5], name="params", example='{"max_new_tokens": 32}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: params must be an object of names and values, ...; got ['max_new_tokens', 5].
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(
            f"{name} must be an object of names and values, such as {example}; got {shown(value)}.", field=field
        )
    return dict(value)


def lines(value: object, *, name: str, takes: str, field: str = "") -> str | list[str]:
    """Text of one item per line, or a list of strings; None is no items ("").

    >>> lines(["END", 3], name="stop", takes="stop strings")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: stop must be text (stop strings, one per line) or a list of strings; got ['END', 3].
    """
    if value is None:
        return ""
    if isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
        return value if isinstance(value, str) else list(value)
    raise InputError(
        f"{name} must be text ({takes}, one per line) or a list of strings; got {shown(value)}.", field=field
    )


def _ids(value: object) -> str | list[int]:
    """``/decode``'s ids: text such as ``"[15496, 995]"`` (parsed where the tokenizer is) or a list of ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return token_ids(value, name="ids", field="ids")
    raise InputError(
        f'ids must be token ids as text, such as "[15496, 995]", or a list of whole numbers; got {shown(value)}.',
        field="ids",
    )


_partial = functools.partial
_TOKENIZER = _partial(
    key, name="tokenizer", takes='a tokenizer key such as "gpt2" or a Hub repo id owner/name', field="tokenizer"
)
_SPECIAL = _partial(flag, name="add_special_tokens")
_MODEL = _partial(
    key, name="model", takes='a model key such as "smollm2-135m-instruct" or a Hub repo id owner/name', field="model"
)
_METHOD = _partial(key, name="method", takes='a decoding method key such as "greedy" or "top_p"', field="method")
_PARAMS = _partial(mapping, name="params", example='{"max_new_tokens": 32}')
_CHAT = _partial(flag, name="chat")
_ENGINE = _partial(
    key,
    name="engine",
    takes='an engine name such as "transformers", or "" for the fastest',
    optional=True,
    field="engine",
)


def _vocab_query(value: object) -> str:
    """A vocabulary query: text, or a token id sent as a number (``mode="id"``); None is no query."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value, name="query", field="query")


def _prompt(doing: str) -> Callable[[object], str]:
    return _partial(text, name="prompt", blank=f"type a prompt {doing}", field="prompt")


Check = Callable[[object], object]
_LENS: dict[str, Check] = {  # the Layers tab's endpoints (/logit_lens, /lens_probe, /attention) share these
    "prompt": _prompt("to look inside"),
    "model": _MODEL,
    "chat": _CHAT,
    "probes": _partial(lines, name="probes", takes="words or tokens", field="params"),
    "position": _partial(whole, name="position", minimum=-1, also=" (-1: the last token)"),
}
ENDPOINTS: Mapping[str, Mapping[str, Check]] = MappingProxyType(
    {
        "tokenize": {
            "text": _partial(text, name="text", field="text"),
            "tokenizer": _TOKENIZER,
            "add_special_tokens": _SPECIAL,
        },
        "compare": {
            "text": _partial(text, name="text", field="text"),
            "tokenizers": _partial(
                keys,
                name="tokenizers",
                takes="tokenizer keys or Hub repo ids",
                example='["gpt2", "llama3"]',
                field="tokenizer",
            ),
            "add_special_tokens": _SPECIAL,
        },
        "decode": {"ids": _ids, "tokenizer": _TOKENIZER},
        "language_cost": {
            "tokenizers": _partial(
                keys,
                name="tokenizers",
                takes="tokenizer keys or Hub repo ids",
                example='["gpt2", "o200k_base"]',
                field="tokenizer",
            ),
            "text": _partial(text, name="text", field="text"),
        },
        "explain": {
            "text": _partial(text, name="text", field="text"),
            "tokenizer": _TOKENIZER,
            "index": _partial(whole, name="index", minimum=0, also=" (the token's position, from 0)", field="index"),
            "add_special_tokens": _SPECIAL,
        },
        "vocab": {
            "tokenizer": _TOKENIZER,
            "query": _vocab_query,
            "mode": _partial(
                key, name="mode", takes='one of "search", "id", "piece", "longest", "special"', optional=True
            ),
        },
        "generate": {
            "prompt": _prompt("to generate from"),
            "model": _MODEL,
            "method": _METHOD,
            "params": _PARAMS,
            "chat": _CHAT,
            "stop": _partial(lines, name="stop", takes="stop strings", field="stop"),
            "engine": _ENGINE,
        },
        "branch": {
            "prompt": _prompt("to generate from"),
            "model": _MODEL,
            "method": _METHOD,
            "params": _PARAMS,
            "chat": _CHAT,
            "engine": _ENGINE,
            "prefix": _partial(token_ids, name="prefix"),
        },
        "beam_tree": {"prompt": _prompt("to search from"), "model": _MODEL, "params": _PARAMS, "chat": _CHAT},
        "arena": {
            "prompt": _prompt("to generate from"),
            "model": _MODEL,
            "methods": _partial(
                keys, name="methods", takes="decoding method keys", example='["greedy", "top_p"]', field="method"
            ),
            "params": _PARAMS,
            "chat": _CHAT,
            "engines": _partial(
                keys,
                name="engines",
                takes="engine names",
                example='["llama.cpp", "transformers"]',
                optional=True,
                field="engine",
            ),
        },
        "surprisal": {"prompt": _prompt("to score"), "model": _MODEL, "chat": _CHAT},
        "next_token": {
            "prompt": _prompt("to see the next token after"),
            "model": _MODEL,
            "chat": _CHAT,
            "method": _METHOD,
            "params": _PARAMS,
            "probes": _partial(lines, name="probes", takes="words or tokens", field="params"),
            "position": _partial(whole, name="position", minimum=0, also=" (0: after the whole prompt)"),
        },
        "logit_lens": {**_LENS},
        "lens_probe": {
            **_LENS,
            "layer": _partial(whole, name="layer", minimum=-1, also=" (0: the embeddings; -1: the last layer)"),
        },
        "model_diff": {
            "text": _partial(text, name="text", blank="type a text for both models to read", field="prompt"),
            "model_a": _partial(_MODEL, name="model_a"),
            "model_b": _partial(_MODEL, name="model_b"),
            "engine_a": _partial(key, name="engine_a", takes='"transformers" or "llama.cpp"', field="engine"),
            "engine_b": _partial(key, name="engine_b", takes='"transformers" or "llama.cpp"', field="engine"),
        },
        "attention": {
            **{k: v for k, v in _LENS.items() if k != "probes"},
            "layer": _partial(whole, name="layer", minimum=1),
            "head": _partial(whole, name="head", minimum=-1, also=" (-1: the mean of all heads)"),
        },
    }
)


def check_call(endpoint: str, arguments: Mapping[str, object]) -> dict[str, object]:
    """An API call's arguments, each checked (and normalised: ``"3"`` to 3, ``"no"`` to False) by ``ENDPOINTS``.

    Names the table does not list (the request Gradio hands in) pass as they are. Checks stop at the first wrong
    value, in the endpoint's parameter order.

    Raises:
        InputError: a value of the wrong type or out of range (the message names the parameter).
        KeyError: an endpoint the table does not list (a wiring mistake, not a caller's).

    >>> check_call("branch", {"prefix": ["5"], "params": None})
    {'prefix': [5], 'params': {}}
    >>> check_call("generate", {"prompt": 123})
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InvalidTextError: prompt must be a string; got 123.
    """
    checks = ENDPOINTS[endpoint]
    return {name: checks[name](value) if name in checks else value for name, value in arguments.items()}
