"""llama.cpp's library as rsdemo loads it: the bindings, the CPU code chosen for this CPU, the load options.

``scripts/build_fast_engine.sh`` builds llama.cpp the way its own releases are built: ggml's CPU code once per
instruction-set level (``GGML_BACKEND_DL`` with ``GGML_CPU_ALL_VARIANTS``: ``libggml-cpu-haswell.so``,
``-skylakex``, ``-zen4``, ``-sapphirerapids``, ... beside ``libllama.so``). ``load_cpu_backend`` asks ggml to
score them against this CPU and load the best, so a wheel built on one machine (a pip cache, a Docker layer, a
Space's builder) runs on another without an illegal instruction. An older native build has its CPU code linked
in, and nothing is loaded.

Nothing here runs llama.cpp's code in the calling process until ``bindings()`` is called: the app asks
``installed()`` (a file check), and with ``generation_process`` only the worker process loads the library.

>>> extra_buffers("auto", flags=frozenset({"avx2", "amx_int8", "amx_tile"}))
False
>>> extra_buffers("auto", flags=frozenset({"avx2", "avx512f"})), extra_buffers("on", flags=frozenset({"amx_int8"}))
(True, True)
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "bindings",
    "cpu_flags",
    "cpu_model",
    "cpu_variant",
    "extra_buffers",
    "installed",
    "library_dir",
    "load_error",
    "model_params",
]

_lock = threading.Lock()
_state: dict[str, Any] = {}
AMX_FLAGS = frozenset({"amx_int8", "amx_bf16", "amx_tile"})


def library_dir() -> Path | None:
    """Where the installed ``llama_cpp`` package keeps its shared libraries (None: not installed)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    lib = Path(spec.origin).parent / "lib"
    return lib if lib.is_dir() else None


def installed() -> bool:
    """``llama_cpp`` and its libraries are installed (a file check: no native code is loaded or run)."""
    lib = library_dir()
    return lib is not None and any(lib.glob("*llama.*"))


def bindings() -> Any:
    """``llama_cpp.llama_cpp`` (the ctypes bindings), with a CPU backend loaded and logging silenced; None if absent.

    A failed import is tried again after a minute: the demo builds llama.cpp in the background at first start.
    """
    with _lock:
        if _state.get("lib") is None and time.monotonic() >= _state.get("retry_at", 0.0):
            try:
                importlib.invalidate_caches()
                import llama_cpp.llama_cpp as lib  # noqa: PLC0415 - optional, heavy
            except Exception as err:  # noqa: BLE001 - not installed, or a broken install
                _state["lib"], _state["error"] = None, f"{type(err).__name__}: {err}"
                _state["retry_at"] = time.monotonic() + 60.0
                return None
            quiet = lib.llama_log_callback(lambda level, text, data: None)
            _state["quiet"] = quiet  # kept alive: llama.cpp calls it from C
            lib.llama_log_set(quiet, ctypes.c_void_p(0))
            load_cpu_backend()
            lib.llama_backend_init()
            _state["lib"] = lib
        return _state["lib"]


def load_error() -> str | None:
    """Why the last ``bindings()`` import failed (None: it did not)."""
    return _state.get("error")


def load_cpu_backend() -> int:
    """Load the best CPU variant a portable build ships (none with a native build); returns ggml's backend count.

    ggml scores each ``libggml-cpu-*`` file against this CPU's features and loads the highest that it can run.
    Asked of the ``libggml`` that ``libllama`` itself loaded: a wheel holds copies (no links) of
    ``libggml.so`` and ``libggml.so.0``, and the package's own ``_ggml`` handle may be the other copy, whose
    backends libllama would never see.
    """
    lib = _linked_ggml()
    lib.ggml_backend_reg_count.restype = ctypes.c_size_t
    if lib.ggml_backend_reg_count() == 0:  # a portable build: nothing is linked in
        lib.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        lib.ggml_backend_load_all_from_path(str(library_dir()).encode())
    return int(lib.ggml_backend_reg_count())


def _linked_ggml() -> Any:
    """The ``libggml`` already loaded as libllama's dependency (by its SONAME, without loading another)."""
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_GLOBAL", 0)
    for name in ("libggml.so.0", "libggml.0.dylib", "ggml.dll"):
        try:
            return ctypes.CDLL(name, mode=mode)
        except OSError:
            continue
    import llama_cpp._ggml as ggml  # noqa: PLC0415 - elsewhere: the package's own handle

    return ggml.libggml


def cpu_variant() -> str:
    """The CPU code this process runs: ``haswell``, ``zen4``, ... (a portable build's variant), or ``native``.

    Read from the libraries mapped into this process, so it names what ggml actually loaded.
    """
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    for line in maps.splitlines():
        name = line.rsplit("/", 1)[-1]
        if name.startswith("libggml-cpu-"):
            return name[len("libggml-cpu-") :].split(".so")[0]
    return "native" if "libggml-cpu.so" in maps else "unknown"


@cache
def cpu_flags() -> frozenset[str]:
    """This CPU's feature flags as ``/proc/cpuinfo`` lists them (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@cache
def cpu_model() -> str:
    """This CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def extra_buffers(setting: str, *, flags: frozenset[str] | None = None) -> bool:
    """Whether llama.cpp may repack the weights into its "extra buffer types" (``llamacpp_extra_buffers``).

    ``off`` (the default): never; on the AMD EPYC measured it was no slower (``benchmarks/README.md``), and on a
    CPU with AMX llama.cpp's AMX buffer (quantised weights such as Q4_1; F16 is not repacked) stops the process at
    the first decode (llama.cpp issue 20824: SIGSEGV, or SIGILL on the Xeon with AMX measured). ``auto``: only on
    a CPU without AMX. ``on``: always.
    """
    if setting in ("on", "off"):
        return setting == "on"
    return not (AMX_FLAGS & (cpu_flags() if flags is None else flags))


def model_params(lib: Any, *, extra: bool) -> Any:
    """llama.cpp's default model parameters with ``use_extra_bufts`` set."""
    params = lib.llama_model_default_params()
    params.use_extra_bufts = extra
    return params


def threads() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
