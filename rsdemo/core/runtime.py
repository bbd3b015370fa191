"""Where models run: cpu, cuda, mps or ZeroGPU, as a pure function of the environment.

>>> detect_runtime(environ={}, cuda_available=False, mps_available=False).device
'cpu'
>>> rt = detect_runtime(environ={"SPACES_ZERO_GPU": "true"}, cuda_available=False, mps_available=False)
>>> (rt.kind, rt.device, rt.dtype_name, rt.preload)
('zerogpu', 'cuda', 'bfloat16', True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .settings import env_flag

__all__ = ["Runtime", "current_runtime", "detect_runtime", "gpu_entry_point", "on_zerogpu"]

Kind = Literal["cpu", "cuda", "mps", "zerogpu"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Runtime:
    """The device policy.

    Attributes:
        kind: ``cpu``, ``cuda``, ``mps`` or ``zerogpu`` (a Hugging Face ZeroGPU Space).
        device: the torch device models are moved to.
        dtype_name: ``float32`` on CPU (greedy output identical to the reference), ``bfloat16`` or
            ``float16`` on GPUs.
        preload: load the catalog models at start-up (ZeroGPU asks for models on ``cuda`` at import time).
    """

    kind: Kind
    device: str
    dtype_name: str
    preload: bool

    @property
    def on_zerogpu(self) -> bool:
        return self.kind == "zerogpu"

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype_name)


def on_zerogpu(environ: Mapping[str, str]) -> bool:
    """Whether this process runs on a ZeroGPU Space (the ``spaces`` package sets ``SPACES_ZERO_GPU``)."""
    return env_flag(environ, "SPACES_ZERO_GPU")


def detect_runtime(
    *, environ: Mapping[str, str], cuda_available: bool, mps_available: bool, bf16_supported: bool = True
) -> Runtime:
    """Decide the runtime from plain facts (tests pass dicts; the app passes ``os.environ`` and torch's answers).

    ``RSDEMO_DEVICE`` (cpu, cuda, mps) overrides detection outside ZeroGPU.
    """
    if on_zerogpu(environ):
        return Runtime("zerogpu", "cuda", "bfloat16", True)
    forced = environ.get("RSDEMO_DEVICE", "").strip().lower()
    if forced == "cpu" or (not forced and not cuda_available and not mps_available):
        return Runtime("cpu", "cpu", "float32", False)
    if forced == "mps" or (not forced and not cuda_available and mps_available):
        return Runtime("mps", "mps", "float16", False)
    return Runtime("cuda", "cuda", "bfloat16" if bf16_supported else "float16", False)


_runtime: Runtime | None = None


def current_runtime() -> Runtime:
    """The process's runtime (asks torch once; on ZeroGPU it never touches CUDA here)."""
    global _runtime
    if _runtime is None:
        environ = os.environ
        if on_zerogpu(environ):
            _runtime = detect_runtime(environ=environ, cuda_available=True, mps_available=False)
        else:
            import torch

            cuda = torch.cuda.is_available()
            mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
            bf16 = cuda and torch.cuda.is_bf16_supported()
            _runtime = detect_runtime(environ=environ, cuda_available=cuda, mps_available=mps, bf16_supported=bf16)
    return _runtime


def gpu_entry_point(fn: F, *, duration: Callable[..., int], zerogpu: bool) -> F:
    """Wrap a generation entry point in ``spaces.GPU(duration=...)`` on ZeroGPU; elsewhere return it unchanged.

    ``duration`` gets the same arguments as ``fn`` so the requested GPU time can follow ``max_new_tokens``.
    Tokenizer-only work is never wrapped (it would spend the user's GPU quota for nothing).
    """
    if not zerogpu:
        return fn
    import spaces

    return spaces.GPU(duration=duration)(fn)
