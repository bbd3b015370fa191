"""How a named API endpoint is declared: its arguments checked by one table (``rsdemo.arguments.ENDPOINTS``), its
reply typed and named on Gradio's "Use via API" page, and its booleans read strictly.

>>> _flag("no")
False
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from ..arguments import ENDPOINTS as API_ARGUMENTS
from ..arguments import check_call
from ..core.errors import InputError, RsdemoError
from ..core.settings import parse_bool
from .errors import _as_user_error

__all__ = ["_api", "_api_returns", "_checked", "_flag"]

F = TypeVar("F", bound=Callable[..., Any])


def _flag(value: object, name: str = "add_special_tokens") -> bool:
    """A boolean sent to the API: true/false, 1/0, yes/no; anything else is refused (never bool("false"))."""
    try:
        return parse_bool(value)
    except ValueError:
        raise InputError(f"{name} must be true or false, got {str(value)[:40]!r}.") from None


def _api_returns(reply: type, label: str) -> Callable[[F], F]:
    """Declare an endpoint's reply type for Gradio's API page (it reads the signature; a generator's
    ``Iterator[...]`` or a string annotation would show as "Any"), and the name its return value goes by."""

    def mark(fn: F) -> F:
        fn.__signature__ = inspect.signature(fn).replace(return_annotation=reply)  # type: ignore[attr-defined]
        fn._api_return_label = label  # type: ignore[attr-defined]
        return fn

    return mark


def _checked(fn: F, *, endpoint: str) -> F:
    """The endpoint with every argument checked first by ``rsdemo.arguments.ENDPOINTS`` (and normalised: ``"3"`` to
    3): a wrong type or range is one sentence naming the parameter, never an internal error from deeper down."""
    signature = inspect.signature(fn)

    def checked(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        bound = signature.bind(*args, **kwargs)
        try:
            bound.arguments.update(check_call(endpoint, bound.arguments))
        except RsdemoError as err:
            raise _as_user_error(err, endpoint) from err
        return bound

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            bound = checked(args, kwargs)
            yield from fn(*bound.args, **bound.kwargs)

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = checked(args, kwargs)
        return fn(*bound.args, **bound.kwargs)

    return wrapper  # type: ignore[return-value]


def _api(fn: Callable[..., Any], *, api_name: str, blocks: gr.Blocks | None = None, **pool: Any) -> None:
    """``gr.api``, with the arguments checked (``_checked``) and the return value named (Gradio calls it "1st")."""
    if api_name in API_ARGUMENTS:
        fn = _checked(fn, endpoint=api_name)
    dependency = gr.api(fn, api_name=api_name, **pool)
    label = getattr(fn, "_api_return_label", None)
    root = blocks or gr.context.Context.root_block
    if label and root is not None and isinstance(dependency, dict) and "id" in dependency:
        for output in root.fns[dependency["id"]].outputs:
            output.label = label
