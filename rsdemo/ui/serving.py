"""What the page's events and the API share while serving: the two concurrency pools, a run's paced updates,
who asks, and a progress message as a toast.

>>> from rsdemo.core.settings import Settings
>>> _light_pool(Settings.from_env({}))["concurrency_id"], _generation_pool(Settings.from_env({}))["concurrency_id"]
('light', 'generate')
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from ..core.settings import Settings
from ..generation import GenerationResult

__all__ = ["_STREAM_EVERY_S", "_generation_pool", "_light_pool", "_paced", "_tell", "_visitor"]

_STREAM_EVERY_S = 0.08  # the most often a streaming run updates the page (and an API client)


def _light_pool(settings: Settings) -> dict[str, Any]:
    """The pool of tokenize / compare / decode: fast requests never wait behind a generation."""
    return {"concurrency_limit": settings.light_concurrency, "concurrency_id": "light"}


def _generation_pool(settings: Settings) -> dict[str, Any]:
    """The pool of everything that runs a model: runs beyond the slots wait inside the app, told their place;
    beyond that, in Gradio's queue."""
    return {"concurrency_limit": settings.generation_slots + settings.generation_waiting, "concurrency_id": "generate"}


def _paced(results: Iterator[GenerationResult]) -> Iterator[GenerationResult]:
    """A run's updates at most every ``_STREAM_EVERY_S`` (the page's and the API's): the first token, then the
    newest one each time, and the end; places in line always. Each update carries the whole run so far, so a
    skipped one loses nothing; rendering or sending every token of a long run would cost quadratic time."""
    shown_at = 0.0
    try:
        for result in results:
            now = time.monotonic()
            if (
                not result.done
                and result.waiting is None
                and len(result.tokens) > 1
                and now - shown_at < _STREAM_EVERY_S
            ):
                continue
            shown_at = now
            yield result
    finally:  # a visitor who leaves closes this generator: the run stops at once
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _visitor(request: gr.Request | None) -> str:
    """Who asks: the browser session or API client (Gradio's session hash)."""
    return getattr(request, "session_hash", None) or "anonymous"


def _tell(message: str) -> None:
    """A slow first-time step (a model's first load), said to the visitor as a toast."""
    gr.Info(message)
