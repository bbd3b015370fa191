"""llama.cpp's quantizer in a child process (``llamacpp_weights.weights_file``): ``SOURCE TARGET KIND [NICE]``.

It writes the GGUF file ``TARGET`` of ``SOURCE``'s weights stored as ``KIND``, at CPU priority ``NICE`` (its
threads inherit it). A crash here (a signal) costs only the conversion.
"""

from __future__ import annotations

import os
import sys

from ..llamacpp_native import bindings
from ..llamacpp_weights import KINDS

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """The child: ``SOURCE TARGET KIND [NICE]``, with llama.cpp's quantizer (at that CPU priority: its threads
    inherit it)."""
    source, target, kind = argv[:3]
    if len(argv) > 3 and int(argv[3]) > 0 and hasattr(os, "nice"):
        os.nice(int(argv[3]))
    lib = bindings()
    if lib is None:
        print("llama.cpp is not installed", file=sys.stderr)
        return 2
    params = lib.llama_model_quantize_default_params()
    params.ftype = KINDS[kind]
    params.allow_requantize = True
    params.nthread = 0
    if lib.llama_model_quantize(source.encode(), target.encode(), params) != 0:
        print(f"llama_model_quantize failed for {kind}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
