"""The ``gr.Error`` edge: rsdemo's typed errors become short messages for the visitor, anything else a logged
internal error with a reference; and where the page shows an error (beside the field it is about).

>>> import gradio as gr
>>> from rsdemo.core.errors import InputError
>>> isinstance(_as_user_error(InputError("n must be <= 3"), "tokenize"), gr.Error)
True
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from ..core.errors import (
    AssetMissingError,
    EmptyInputError,
    HubError,
    InputTooLargeError,
    InvalidTextError,
    RsdemoError,
)
from ..render.page import field_note

__all__ = ["_as_user_error", "_field_of", "_generation_field", "_generation_notes", "_user_errors"]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def _as_user_error(err: Exception, name: str) -> Exception:
    """``err`` as the ``gr.Error`` the visitor sees (``name``: the callback or endpoint, for the log)."""
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, RsdemoError):
        # Gradio renders an error's message as HTML: what the user typed (a name, a value) must stay text
        return gr.Error(html.escape(str(err), quote=False), print_exception=False)
    reference = uuid.uuid4().hex[:8]
    log.exception("internal error %s in %s", reference, name)  # keep serving: report, log, move on
    return gr.Error(
        f"Something went wrong on the server (reference {reference}); the details are in its log. "
        "Try again, or try other input.",
        print_exception=False,
    )


def _user_errors(fn: F) -> F:
    """Turn rsdemo's typed errors into ``gr.Error``; anything else into a short, logged internal error.

    Works for plain callbacks and for generator callbacks (streaming), whose errors surface while iterating.
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                raise _as_user_error(err, fn.__name__) from err

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise _as_user_error(err, fn.__name__) from err

    return wrapper  # type: ignore[return-value]


def _field_of(err: RsdemoError) -> str:
    """Which input an error is about: ``text`` (what was typed in the text box) or ``name`` (a tokenizer or model)."""
    if isinstance(err, (EmptyInputError, InputTooLargeError, InvalidTextError)):
        return "text"
    return "name"


def _generation_field(err: RsdemoError) -> str:
    """Where the Generate tab shows an error: beside the ``prompt``, the ``model``, the method's ``settings``,
    or over the output (``run``: the server is busy, the run was stopped before it started).

    >>> from rsdemo.core.errors import HubUnavailableError, InputError
    >>> _generation_field(InputError("x", field="stop")), _generation_field(HubUnavailableError("offline"))
    ('settings', 'model')
    """
    field = err.field
    if field in {"prompt", "model"}:
        return field
    if field in {"params", "stop", "method", "engine"}:
        return "settings"
    if isinstance(err, (HubError, AssetMissingError)):
        return "model"
    return "run"


def _generation_notes(err: RsdemoError, *, run_beside_settings: bool = False) -> tuple[str, str, str]:
    """The prompt, model and settings notes for an error: the message beside its field, the others empty.

    ``run_beside_settings``: a page without a run area shows "run" errors (busy server) beside the settings.
    """
    where = _generation_field(err)
    if run_beside_settings and where == "run":
        where = "settings"
    return tuple(field_note(err) if where == f else "" for f in ("prompt", "model", "settings"))  # type: ignore[return-value]
