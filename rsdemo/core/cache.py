"""The cached pipeline layer: an explicit, locked, single-flight LRU with an injected loader.

Two concurrent requests for the same key load it once; the second waits for the first. A failed load
is not cached, so the next request tries again, and leaves nothing behind. Evicted values are handed
to ``on_evict`` (models free their memory there).

Memory is bounded *before* a load: given the size a value will have (``size_hint``, known up front for
models from their safetensors metadata or catalog entry), the cache first evicts idle values until the
new one fits, so the peak stays within ``max_weight``. A value in use (``with cache.use(key)``) is never
evicted; a load that can only fit once a value in use is released waits for that, up to ``wait_s``.

>>> calls = []
>>> cache = LoadCache(loader=lambda key: calls.append(key) or key.upper(), max_items=2)
>>> cache.get("a"), cache.get("a"), calls
('A', 'A', ['a'])
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from .errors import CapacityError

__all__ = ["LoadCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LoadCache(Generic[K, V]):
    """A bounded LRU of loaded things.

    Args:
        loader: builds the value for a key (called at most once per key while it stays cached).
        max_items: how many values to keep; the least recently used idle value is evicted first.
        on_evict: called with ``(key, value)`` after a value leaves the cache.
        weigh: the weight of a loaded value (a model's bytes).
        max_weight: with ``weigh``: the bound on the total weight, kept before and after each load.
        wait_s: how long a load waits for values in use to be released before giving up.
    """

    def __init__(
        self,
        *,
        loader: Callable[[K], V],
        max_items: int,
        on_evict: Callable[[K, V], None] | None = None,
        weigh: Callable[[V], int] | None = None,
        max_weight: int | None = None,
        wait_s: float = 60.0,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._loader = loader
        self._max = max_items
        self._on_evict = on_evict
        self._weigh = weigh
        self._max_weight = max_weight
        self._wait_s = wait_s
        self._weights: dict[K, int] = {}
        self._items: OrderedDict[K, V] = OrderedDict()
        self._in_use: dict[K, int] = {}
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._key_locks: dict[K, tuple[threading.Lock, int]] = {}  # key -> (lock, how many threads want it)
        self._doomed: set[K] = set()  # discarded while in use: evicted when the last use ends

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def keys(self) -> list[K]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    @property
    def pending(self) -> int:
        """How many keys are being loaded or waited for (0 when idle: nothing is left behind)."""
        with self._lock:
            return len(self._key_locks)

    def get(self, key: K, *, size_hint: Callable[[], int] | None = None) -> V:
        """The value for ``key``, loading it once if needed.

        Args:
            key: what to load.
            size_hint: the weight the value will have, asked only when it must be loaded; room is made
                for it first.

        Raises:
            CapacityError: the value alone is heavier than ``max_weight``, or values in use leave no room
                for it within ``wait_s``.
        """
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock, waiting = self._key_locks.get(key, (threading.Lock(), 0))
            self._key_locks[key] = (key_lock, waiting + 1)
        try:
            with key_lock:
                with self._lock:  # second check: another thread may have loaded it meanwhile
                    if key in self._items:
                        self._items.move_to_end(key)
                        return self._items[key]
                hint = size_hint() if size_hint is not None else 0
                self._evict(self._make_room(key, hint))
                value = self._loader(key)
                weight = self._weigh(value) if self._weigh is not None else 0
                with self._lock:
                    self._items[key] = value
                    self._weights[key] = weight
                    evicted = self._shrink(keep=key)
                self._evict(evicted)
                return value
        finally:
            with self._lock:
                lock, waiting = self._key_locks[key]
                if waiting <= 1:
                    del self._key_locks[key]
                else:
                    self._key_locks[key] = (lock, waiting - 1)

    @contextmanager
    def use(self, key: K, *, size_hint: Callable[[], int] | None = None) -> Iterator[V]:
        """``get`` the value and keep it from eviction until the block ends."""
        while True:
            value = self.get(key, size_hint=size_hint)
            with self._lock:
                if key in self._items:  # not evicted between get and here
                    self._in_use[key] = self._in_use.get(key, 0) + 1
                    break
        try:
            yield value
        finally:
            evicted: list[tuple[K, V]] = []
            with self._released:
                count = self._in_use.pop(key) - 1
                if count:
                    self._in_use[key] = count
                elif key in self._doomed and key in self._items:
                    self._doomed.discard(key)
                    evicted.append(self._pop(key))
                self._released.notify_all()
            self._evict(evicted)

    def discard(self, key: K) -> None:
        """Evict ``key`` now, or when its last use ends (a value that must not be used again: a crashed engine's)."""
        evicted: list[tuple[K, V]] = []
        with self._lock:
            if key in self._items:
                if self._in_use.get(key):
                    self._doomed.add(key)
                else:
                    evicted.append(self._pop(key))
        self._evict(evicted)

    def _fits(self, hint: int) -> bool:
        count_ok = len(self._items) + 1 <= self._max
        weight_ok = self._max_weight is None or self.weight + hint <= self._max_weight
        return count_ok and weight_ok

    def _make_room(self, key: K, hint: int) -> list[tuple[K, V]]:
        """Evict idle values (least recently used first) until a value of weight ``hint`` fits."""
        if self._max_weight is not None and hint > self._max_weight:
            raise CapacityError(
                f"{_shown(key)} needs about {hint / 2**20:,.0f} MiB; this server keeps at most "
                f"{self._max_weight / 2**20:,.0f} MiB of models in memory.",
                field="model",
            )
        evicted: list[tuple[K, V]] = []
        deadline = time.monotonic() + self._wait_s
        with self._released:
            while not self._fits(hint):
                idle = [k for k in self._items if not self._in_use.get(k)]
                if idle:
                    evicted.append(self._pop(idle[0]))
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CapacityError(
                        f"The server is busy: the models other visitors are using leave no room for {_shown(key)} "
                        "right now. Try again in a minute."
                    )
                self._released.wait(min(left, 1.0))
        return evicted

    def _shrink(self, *, keep: K) -> list[tuple[K, V]]:
        """After a load (lock held): evict idle values while over a bound (an estimate may have been low)."""
        evicted: list[tuple[K, V]] = []
        while len(self._items) > self._max or (
            self._max_weight is not None and len(self._items) > 1 and self.weight > self._max_weight
        ):
            idle = [k for k in self._items if k != keep and not self._in_use.get(k)]
            if not idle:
                break
            evicted.append(self._pop(idle[0]))
        return evicted

    def _pop(self, key: K) -> tuple[K, V]:
        value = self._items.pop(key)
        self._weights.pop(key, None)
        return key, value

    def _evict(self, evicted: list[tuple[K, V]]) -> None:
        for old_key, old_value in evicted:
            if self._on_evict is not None:
                self._on_evict(old_key, old_value)

    @property
    def weight(self) -> int:
        """Total weight of the cached values (bytes, for models)."""
        return sum(self._weights.values())

    def clear(self) -> None:
        """Evict everything that is not in use."""
        with self._lock:
            evicted = [self._pop(k) for k in list(self._items) if not self._in_use.get(k)]
        self._evict(evicted)


def _shown(key: object) -> str:
    """A cache key as a visitor should read it: the name in an ``(engine, name)`` key.

    >>> _shown(("transformers", "owner/model")), _shown("gpt2")
    ('owner/model', 'gpt2')
    """
    return str(key[-1]) if isinstance(key, tuple) and key else str(key)
