"""``app.py`` with Gradio settings changed after ``build_demo``: what soak.py measures the suggestions with.

An experiment, not the app: it builds the same demo and then changes, for the light events (the
``tokenize`` concurrency id: /tokenize, /compare, /decode and their UI triggers), what ``SOAK_VARIANT``
names (comma-separated):

* ``est``     ``demo.queue(status_update_rate=30)``: queue estimations every 30 s, not one message to every
              waiting event each time an event starts (Gradio's ``"auto"``);
* ``nopost``  ``postprocess=False`` for the tokenize and decode events (their outputs are already the plain
              str / dict the components would produce);
* ``nojson``  the tokenize events without the hidden ``gr.JSON`` output (3 outputs: an API change);
* ``limitN``  light concurrency limit N (``limitnone``: no limit); the app uses 8;
* ``noprog``  ``tracks_progress=False`` for the light events.

Gradio's per-event analytics take an environment variable, no flag: ``GRADIO_ANALYTICS_CACHE_FREQUENCY=1000``.

Usage::

    SOAK_VARIANT=est,nopost GRADIO_ANALYTICS_CACHE_FREQUENCY=1000 \\
        python benchmarks/soak.py --clients 32 --generators 0 --duration 40 --app benchmarks/app_variant.py
"""

from __future__ import annotations

import functools
import os
from typing import Any

from rsdemo.backend import Backend
from rsdemo.ui import build_demo, launch_options

flags = set(filter(None, os.environ.get("SOAK_VARIANT", "").split(",")))
demo = build_demo(backend=Backend())
for fn in demo.fns.values():
    if fn.concurrency_id != "tokenize":
        continue
    if "nojson" in flags and len(fn.outputs) == 4:
        fn.outputs = fn.outputs[:3]
        original = fn.fn

        @functools.wraps(original)
        def first_three(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(*args, **kwargs)[:3]

        fn.fn = first_three
    if "nopost" in flags and (fn.name or "").startswith(("tokenize", "decode")):
        fn.postprocess = False
    if "noprog" in flags:
        fn.tracks_progress = False
    for flag in flags:
        if flag.startswith("limit"):
            fn.concurrency_limit = None if flag == "limitnone" else int(flag[len("limit") :])
queue_options: dict[str, Any] = {"max_size": 64, "default_concurrency_limit": 2}
if "est" in flags:
    queue_options["status_update_rate"] = 30
demo.queue(**queue_options)
print(f"app variant: {sorted(flags) or 'none'}", flush=True)

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), **launch_options())
