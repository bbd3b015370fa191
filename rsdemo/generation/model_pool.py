"""The loaded models: one ``LoadCache`` keyed ``(engine, model)``, bounded by count and by bytes before a load.

A model is loaded inside the run that needs it, once room is made for it (its size is known before loading:
catalog data or the Hub's safetensors metadata), and is never evicted while a run uses it (``in_use``). Who to
tell in words about a slow first load (``progress``) is an argument of the call that may load, handed to the
loader with the cache key.

>>> from rsdemo.core.disk import DiskBudget
>>> from rsdemo.core.settings import Settings
>>> from rsdemo.generation import TransformersEngine
>>> class Bundle:
...     nbytes = 10
...     def release(self): pass
>>> settings = Settings.from_env({})
>>> pool = ModelPool(settings=settings, engines={"transformers": TransformersEngine()},
...                  disk=DiskBudget(settings.cache_dir, max_bytes=0), model_loader=lambda name: Bundle())
>>> seen = []
>>> with pool.in_use("transformers", "tiny", progress=seen.append):
...     pool.loaded("transformers", "tiny"), pool.cache.weight
(True, 10)
>>> seen
['Loading tiny on transformers (PyTorch)…']
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..core.cache import LoadCache
from ..core.disk import DiskBudget
from ..core.runtime import Runtime, current_runtime
from ..core.settings import Settings
from .engine import GenerationEngine

__all__ = ["ModelPool", "Progress"]

Progress = Callable[[str], None]


class _Wanted(tuple):
    """``(engine, model)``, the cache key, carrying the progress callback of the request that asks for it.

    Equal to and hashed as the plain tuple, so the cache keeps one entry whichever request loaded it; the loader
    runs in the asking request's thread with that request's key, so the callback reaches exactly that load.
    """

    progress: Progress | None

    def __new__(cls, engine: str, name: str, progress: Progress | None) -> _Wanted:
        key = super().__new__(cls, (engine, name))
        key.progress = progress
        return key


class ModelPool:
    """Models loaded by the engines, kept while they fit.

    Args:
        settings: ``max_models``, ``max_model_bytes``, ``run_time_limit_s`` (how long a load waits for room).
        engines: the generation engines by name; an engine loads its own models.
        disk: the disk budget downloads and conversions go through.
        runtime: the device policy (default: detected on first use, so tokenizer-only use never imports torch).
        model_loader: builds a ``ModelBundle`` for a model key, instead of the transformers engine (tests).
        model_size: the parameter bytes a model key will take once loaded, instead of the transformers engine's
            answer (0 when only ``model_loader`` is given).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        engines: Mapping[str, GenerationEngine],
        disk: DiskBudget,
        runtime: Runtime | None = None,
        model_loader: Callable[[str], Any] | None = None,
        model_size: Callable[[str], int] | None = None,
    ) -> None:
        self.settings = settings
        self.engines = engines
        self.disk = disk
        self._runtime = runtime
        self._model_loader = model_loader
        self._model_size = (
            model_size if model_size is not None else ((lambda _key: 0) if model_loader is not None else None)
        )
        self.cache: LoadCache[tuple[str, str], Any] = LoadCache(
            loader=self._load,
            max_items=settings.max_models,
            weigh=lambda bundle: int(getattr(bundle, "nbytes", 0)),
            max_weight=settings.max_model_bytes,
            on_evict=lambda _key, bundle: bundle.release(),
            wait_s=settings.run_time_limit_s,
        )

    @property
    def runtime(self) -> Runtime:
        """The device policy (detected on first use, so tokenizer-only use never imports torch)."""
        if self._runtime is None:
            self._runtime = current_runtime()
        return self._runtime

    def injected(self, engine: str) -> bool:
        """Whether ``engine``'s models come from the injected ``model_loader`` (tests), not the engine."""
        return engine == "transformers" and self._model_loader is not None

    def _load(self, key: tuple[str, str]) -> Any:
        engine_name, name = key
        progress = getattr(key, "progress", None)
        if progress is not None:
            progress(f"Loading {name} on {self.engines[engine_name].capabilities.label}…")
        if self.injected(engine_name):
            return self._model_loader(name)  # type: ignore[misc]
        return self.engines[engine_name].load(
            name, runtime=self.runtime, settings=self.settings, progress=progress, budget=self.disk
        )

    def size_of(self, engine_name: str, name: str) -> int:
        """The bytes ``name`` will take once ``engine_name`` has loaded it (asked before loading it)."""
        if engine_name == "transformers" and self._model_size is not None:
            return self._model_size(name)
        return self.engines[engine_name].model_size(name, runtime=self.runtime, settings=self.settings)

    def get(self, engine: str, name: str, *, progress: Progress | None = None) -> Any:
        """The loaded model (once, then cached; room is made for it first).

        Raises:
            CapacityError: the model does not fit the memory bound.
        """
        key = _Wanted(engine, name, progress)
        try:
            return self.cache.get(key, size_hint=lambda: self.size_of(engine, name))
        finally:
            key.progress = None  # the cache keeps the key: not the caller's callback

    @contextlib.contextmanager
    def in_use(self, engine: str, name: str, progress: Progress | None) -> Iterator[Any]:
        """The loaded model, kept from eviction until the block ends."""
        key = _Wanted(engine, name, progress)
        try:
            with self.cache.use(key, size_hint=lambda: self.size_of(engine, name)) as bundle:
                key.progress = None
                yield bundle
        finally:
            key.progress = None

    def loaded(self, engine: str, name: str) -> bool:
        """Whether ``engine`` has ``name`` loaded now."""
        return (engine, name) in self.cache

    def loaded_names(self) -> list[str]:
        """The models loaded now (by any engine), least recently used first."""
        return [name for _engine, name in self.cache.keys()]

    def discard(self, engine: str, name: str) -> None:
        """Drop a model that must not be used again (a crashed engine's), now or when its last use ends."""
        self.cache.discard((engine, name))
