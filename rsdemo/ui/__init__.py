"""The Gradio UI: built from the catalog, calling the backend; the only package that imports gradio.

Callbacks are thin adapters: they call ``Backend``, render with ``rsdemo.render`` and turn
``RsdemoError`` into ``gr.Error`` here, at the edge (``errors``).

Usage (this is what ``app.py`` does)::

    demo = build_demo(backend=backend)
    configure_queue(demo, backend.settings).launch(**launch_options())

The modules: ``app`` (``build_demo``: the tabs composed), ``launch`` (queue and launch settings), ``errors``
(the ``gr.Error`` edge), ``api`` and ``endpoints`` (the named API endpoints), ``serving`` (pools, pacing),
``params`` (the method-parameter panel), ``hub``, and one module per tab: ``tokenize_tab``, ``compare_tab``,
``generate_tab`` (with ``generate_branch``, ``generate_tree``, ``generate_arena``), ``inside_tab``, ``about_tab``.
"""

from __future__ import annotations

# the tests reach these private names here too
from ..render.page import ids_note as _ids_note  # noqa: F401
from ..render.page import ids_text as _ids_text  # noqa: F401
from ..render.page import notice as _notice  # noqa: F401
from .app import build_demo
from .generate_tab import _engine_choices  # noqa: F401
from .launch import configure_queue, launch_options
from .serving import _STREAM_EVERY_S, _paced  # noqa: F401

__all__ = ["build_demo", "configure_queue", "launch_options"]
