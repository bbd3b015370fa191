"""The GGUF file llama.cpp runs: the one a package ships, or the same weights stored another way, built once.

The embedded model ships as Q4_1 (4-bit weights). llama.cpp's quantizer turns that file into Q8_0, F16 or
F32 files of the very same de-quantised weights (``allow_requantize``: Q4_1 to F16 keeps each weight to f16
precision; F32 keeps it exactly, as transformers holds it). They live in the cache directory as entries of their
own (``models/<key>.<kind>.gguf/``, under the disk budget) and are built in a child process: llama.cpp's code
runs there, so a crash costs nothing but the conversion (``EngineFailedError``).

>>> shipped_kind("SmolLM2-135M-Instruct.Q4_1.gguf")
'q4_1'
>>> sorted(KINDS)
['f16', 'f32', 'q4_1', 'q8_0']
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ..core.children import python_module
from ..core.errors import InputError
from ..core.settings import Settings

__all__ = ["BYTES_PER_PARAM", "KINDS", "shipped_kind", "weights_built", "weights_file"]

KINDS = {"q4_1": 3, "q8_0": 7, "f16": 1, "f32": 0}  # llama.cpp's LLAMA_FTYPE_* for each
BYTES_PER_PARAM = {"q4_1": 0.625, "q8_0": 1.07, "f16": 2.0, "f32": 4.0}
_BUILDING = threading.Lock()  # one build at a time in a process: a second caller waits, then finds the file built


def shipped_kind(path: str) -> str:
    """The kind of a shipped GGUF file, from its name (``...Q4_1.gguf``)."""
    return Path(path).suffixes[-2].lstrip(".").lower() if len(Path(path).suffixes) >= 2 else ""


def _entry(key: str, kind: str, settings: Settings) -> Path:
    return Path(settings.cache_dir) / "models" / f"{key}.{kind}.gguf"


def weights_built(*, key: str, kind: str, settings: Settings) -> bool:
    """Whether ``weights_file`` has nothing to build (the shipped kind, or an entry already in the cache)."""
    from ..catalog import get_model_spec
    from ..core.disk import verify_entry

    return kind == shipped_kind(get_model_spec(key).path or "") or verify_entry(_entry(key, kind, settings))


def weights_file(*, key: str, kind: str, settings: Settings, budget: Any = None, nice: int = 0) -> Path:
    """The GGUF file of ``key`` stored as ``kind``: the shipped file, or one built from it into the cache once.

    ``nice``: the CPU priority of the child process that builds it (Linux nice; 0: the caller's).

    Raises:
        InputError: an unknown kind.
        EngineFailedError: llama.cpp's quantizer crashed or failed.
    """
    from ..catalog import get_model_spec
    from ..core.disk import build_entry, verify_entry
    from ..loading import package_dir

    if kind not in KINDS:
        raise InputError(f"Unknown GGUF weights {kind!r}; known: {', '.join(KINDS)}.", field="engine")
    spec = get_model_spec(key)
    assert spec.package is not None and spec.path is not None
    source = package_dir(spec.package) / spec.path
    if kind == shipped_kind(spec.path):
        return source
    entry = _entry(key, kind, settings)
    with _BUILDING:  # the app's warm-up and a visitor's run never build (and rename into place) the same entry twice
        if not verify_entry(entry):
            if budget is not None:
                budget.make_room(int(spec.params_m * 1e6 * BYTES_PER_PARAM[kind]), keep=[entry])
            build_entry(entry, lambda folder: _quantize(source, folder / "model.gguf", kind, nice))
    if budget is not None:
        budget.touch(entry)
    return entry / "model.gguf"


def _quantize(source: Path, target: Path, kind: str, nice: int = 0) -> None:
    from .engine_check import crash

    env = dict(os.environ)
    done = subprocess.run(
        python_module("rsdemo.generation.llamacpp_weights", str(source), str(target), kind, str(nice)),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode < 0:
        raise crash(returncode=done.returncode, when=f"building the {kind} weights")
    if done.returncode != 0 or not target.is_file():
        from ..core.errors import EngineFailedError

        raise EngineFailedError(f"could not build the {kind} weights ({done.stderr.strip()[-300:]})", machine=False)


def _main(argv: list[str]) -> int:
    """The child: ``SOURCE TARGET KIND [NICE]``, with llama.cpp's quantizer (at that CPU priority: its threads
    inherit it)."""
    from .llamacpp_native import bindings

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
    sys.exit(_main(sys.argv[1:]))
