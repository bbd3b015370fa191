"""The GGUF file llama.cpp runs: the one a package ships, or the same weights stored another way, built once.

The embedded model ships as Q4_1 (4-bit weights). llama.cpp's quantizer turns that file into Q8_0, F16 or
F32 files of the very same de-quantised weights (``allow_requantize``: Q4_1 to F16 keeps each weight to f16
precision; F32 keeps it exactly, as transformers holds it). They live in the cache directory as entries of their
own (``models/<key>.<kind>.gguf/``, under the disk budget) and are built in a child process
(``rsdemo.generation.child.quantize``): llama.cpp's code runs there, so a crash costs nothing but the conversion
(``EngineFailedError``).

>>> shipped_kind("SmolLM2-135M-Instruct.Q4_1.gguf")
'q4_1'
>>> sorted(KINDS)
['f16', 'f32', 'q4_1', 'q8_0']
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from ..core.children import python_module
from ..core.errors import EngineFailedError, InputError
from ..core.settings import Settings
from .crashes import crash

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
    from ..loading import model_file

    if kind not in KINDS:
        raise InputError(f"Unknown GGUF weights {kind!r}; known: {', '.join(KINDS)}.", field="engine")
    spec = get_model_spec(key)
    assert spec.path is not None
    source = model_file(spec, settings=settings, budget=budget)
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
    """Build ``target`` in a child process (``rsdemo.generation.child.quantize``)."""
    env = dict(os.environ)
    done = subprocess.run(
        python_module("rsdemo.generation.child.quantize", str(source), str(target), kind, str(nice)),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode < 0:
        raise crash(returncode=done.returncode, when=f"building the {kind} weights")
    if done.returncode != 0 or not target.is_file():
        raise EngineFailedError(f"could not build the {kind} weights ({done.stderr.strip()[-300:]})", machine=False)
