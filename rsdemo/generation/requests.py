"""Checking a generation request before a slot is taken or anything is loaded.

>>> from rsdemo.core.settings import Settings
>>> values, stops = check_request(prompt="Hi", method="top_p", params={"top_p": 0.5}, stop="END",
...                               limits=Settings(cache_dir=None))
>>> values["top_p"], stops
(0.5, ['END'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..arguments import text
from ..core.errors import InputError
from ..core.inputs import utf8
from ..core.settings import Settings
from ..decoding import resolve_params

__all__ = ["check_request"]


def _stop_strings(raw: str | Sequence[str] | None, *, limits: Settings) -> list[str]:
    if not raw:
        return []
    items = raw.split("\n") if isinstance(raw, str) else list(raw)
    if not all(isinstance(x, str) for x in items):
        raise InputError("Stop strings must be text, one per line.", field="stop")
    items = [s for s in (x.replace("\\n", "\n") for x in items) if s]
    for item in items:
        utf8(item, what="stop string", field="stop")
    if len(items) > limits.max_stop_strings or any(len(s) > limits.max_stop_chars for s in items):
        raise InputError(
            f"Use at most {limits.max_stop_strings} stop strings of at most {limits.max_stop_chars} characters each.",
            field="stop",
        )
    return items


def check_request(
    *,
    prompt: object,
    method: str,
    params: Any,
    stop: Any,
    limits: Settings,
    model_cap: int | None = None,
    doing: str = "to generate from",
) -> tuple[dict[str, Any], list[str]]:
    """Validate a generation request before anything is loaded; returns the resolved parameters and stops.

    ``doing``: what the prompt is for, in the message for an empty one ("to score" for the Inside views).

    Raises:
        InputError: empty, too long or invalid (a lone surrogate) prompt, unknown or out-of-range parameters,
            too many new tokens, too many, too long or invalid stop strings.
        UnknownKeyError: an unknown method.
    """
    text(prompt, name="The prompt", field="prompt")  # not a string: says what it got
    if not prompt.strip():  # type: ignore[union-attr]
        raise InputError(f"Type a prompt {doing} (it is empty or only whitespace).", field="prompt")
    if len(prompt) > limits.max_prompt_chars:
        raise InputError(
            f"The prompt has {len(prompt):,} characters; the limit is {limits.max_prompt_chars:,}.", field="prompt"
        )
    utf8(prompt, what="prompt", field="prompt")  # a lone surrogate would fail inside the tokenizer
    values = resolve_params(method=method, params=params)
    limit = min(model_cap or limits.max_new_tokens, limits.max_new_tokens)
    if values["max_new_tokens"] > limit:
        raise InputError(
            f"Max new tokens must be at most {limit} for this model (got {values['max_new_tokens']}).", field="params"
        )
    if stop is not None and not isinstance(stop, (str, list, tuple)):
        raise InputError("Stop strings must be text, one per line.", field="stop")
    return values, _stop_strings(stop, limits=limits)
