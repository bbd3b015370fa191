"""Per-run random numbers, so concurrent seeded generations each reproduce their own seed.

torch has one global random generator per device. Two generations that seed it at once would draw each
other's numbers, and the same seed would give a different text depending on who else was sampling. So
each run draws from its own ``torch.Generator``, seeded with the run's seed: transformers samples with
``torch.multinomial(probs, ...)`` and no ``generator`` argument, and while a thread runs inside
:func:`seeded`, rsdemo's thin wrapper around ``torch.multinomial`` hands that thread's generator in.
Calls from any other thread, or with an explicit ``generator``, are untouched.

A generator seeded with ``s`` yields the same numbers as the global one after ``torch.manual_seed(s)``,
so the "reproduce" code that rsdemo shows (``torch.manual_seed(seed)`` then ``generate``) gives the
same text as the run did.

>>> import torch
>>> probs = torch.full((1, 1000), 1e-3)
>>> with seeded(7, device="cpu"):
...     ours = torch.multinomial(probs, 4).tolist()
>>> _ = torch.manual_seed(7)
>>> ours == torch.multinomial(probs, 4).tolist()
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["seeded"]

_local = threading.local()
_install_lock = threading.Lock()
_installed = False


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        import torch

        original = torch.multinomial

        def multinomial(
            input: Any, num_samples: int, replacement: bool = False, *, generator: Any = None, out: Any = None
        ) -> Any:
            if generator is None:
                generator = getattr(_local, "generator", None)
            return original(input, num_samples, replacement, generator=generator, out=out)

        multinomial.__doc__ = original.__doc__
        multinomial.__wrapped__ = original  # type: ignore[attr-defined]
        torch.multinomial = multinomial
        _installed = True


@contextmanager
def seeded(seed: int, *, device: str) -> Iterator[Any]:
    """Inside this block, this thread's sampling draws from its own generator seeded with ``seed``.

    Args:
        seed: the run's seed.
        device: where the probabilities live (``cpu``, ``cuda`` ...): the generator must be on that device.

    Yields:
        The ``torch.Generator``.
    """
    import torch

    _install()
    generator = torch.Generator(device=torch.device(device).type)
    generator.manual_seed(seed)
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous
