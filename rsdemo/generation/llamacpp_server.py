"""llama.cpp's own server (``llama_cpp.server``) as ``scripts/serve.sh llamacpp`` starts it: loaded as rsdemo loads.

The server loads its model with llama.cpp's defaults, which crash on a CPU with AMX (the extra buffer types) and,
with the portable build, find no CPU backend at all. This entry point first loads the CPU variant for this CPU
(``llamacpp_native.bindings``) and makes every model load use rsdemo's ``llamacpp_extra_buffers``, then runs the
server's own ``main`` with the same arguments::

    python -m rsdemo.generation.llamacpp_server --model FILE.gguf --port 8000 ...
"""

from __future__ import annotations

import sys


def main() -> None:
    import llama_cpp.llama_cpp as lib

    from ..core.settings import get_settings
    from .llamacpp_native import bindings, extra_buffers

    if bindings() is None:
        sys.exit("llama.cpp is not installed here (bash scripts/build_fast_engine.sh builds it).")
    extra = extra_buffers(get_settings().llamacpp_extra_buffers)
    defaults = lib.llama_model_default_params

    def model_params():  # the server reads llama.cpp's defaults through this name at every load
        params = defaults()
        params.use_extra_bufts = extra
        return params

    lib.llama_model_default_params = model_params
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
