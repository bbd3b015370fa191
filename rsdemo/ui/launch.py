"""How the app is served: ``demo.launch``'s options (CSS, theme, head), the queue's bounds, the page's assets.

Usage (this is what ``app.py`` does)::

    demo = build_demo(backend=backend)
    configure_queue(demo, backend.settings).launch(**launch_options())
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from ..core.settings import Settings
from .lang import head_html, page_i18n

__all__ = ["ASSETS", "asset_text", "configure_queue", "launch_options", "skip_absent_matplotlib"]

ASSETS = Path(__file__).resolve().parents[2] / "assets"

# Outside the app's container, where Gradio does not prefix (or reach) ``css``: its footer. Gradio hides "Use via
# API" under 640 px; the API is as much a part of rsdemo on a phone.
_HEAD = (
    "<style>@media (max-width: 640px) { footer .show-api, footer .show-api-divider "
    "{ display: flex !important; } }</style>"
)


def asset_text(name: str) -> str:
    """A file of ``assets/`` as text (the page's CSS, the token views' script)."""
    return (ASSETS / name).read_text(encoding="utf-8")


def launch_options() -> dict[str, Any]:
    """Keyword arguments for ``demo.launch`` (Gradio 6 takes css/theme there); after ``build_demo`` (``i18n``)."""
    return {
        "css": asset_text("style.css"),
        "theme": gr.themes.Soft(),
        "head": _HEAD + head_html(),
        "i18n": page_i18n(),
    }


def skip_absent_matplotlib() -> bool:
    """When matplotlib is not installed, make ``import matplotlib`` fail at once instead of searching for it.

    Gradio wraps every event call, and every step of a streaming one, in ``MatplotlibBackendMananger``, which
    tries ``import matplotlib`` on the way in and on the way out. Without matplotlib each try searches every
    ``sys.path`` entry again: 55 µs a try on a quiet machine, and 6 % of the app's busy py-spy samples under
    load (light requests and streamed generation). ``None`` in ``sys.modules`` is Python's own way to say a
    module cannot be imported: the same ``ImportError``, without the search. Returns whether it is set
    (False when matplotlib is installed: then nothing changes).

    >>> import sys
    >>> skip_absent_matplotlib() == (sys.modules.get("matplotlib", "installed") is None)
    True
    """
    if "matplotlib" in sys.modules:
        return sys.modules["matplotlib"] is None
    if importlib.util.find_spec("matplotlib") is not None:
        return False
    sys.modules["matplotlib"] = None  # type: ignore[assignment]
    return True


def configure_queue(demo: gr.Blocks, settings: Settings) -> gr.Blocks:
    """Set up the queue: every bound explicitly, from ``Settings`` (``app.py`` and the tests' server call this).

    Explicit on purpose: on a ZeroGPU Space Gradio sets ``max_size`` to 1 unless it is given. Each event
    also names its own pool (``light`` for tokenize / compare / decode, ``generate`` for generation), so
    fast requests never wait behind a generation; the default covers the rest (page-load wiring).
    Queue positions go out every ``queue_status_s`` seconds rather than to every waiting visitor each time
    a request starts, and Gradio's per-event statistics are summarised every 1,000 events, not after each
    one (``benchmarks/README.md``: together +44 % light throughput, and no slowdown over time).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "2000")
    skip_absent_matplotlib()
    return demo.queue(
        max_size=settings.queue_max_size,
        default_concurrency_limit=settings.light_concurrency,
        status_update_rate=settings.queue_status_s,
    )
