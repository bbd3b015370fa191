"""The cached pipeline layer: an explicit, locked, single-flight LRU with an injected loader.

Two concurrent requests for the same key load it once; the second waits for the first.
A failed load is not cached, so the next request tries again. Evicted values are handed to
``on_evict`` (models free their memory there).

>>> calls = []
>>> cache = LoadCache(loader=lambda key: calls.append(key) or key.upper(), max_items=2)
>>> cache.get("a"), cache.get("a"), calls
('A', 'A', ['a'])
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LoadCache"]

K = TypeVar("K")
V = TypeVar("V")


class LoadCache(Generic[K, V]):
    """A bounded LRU of loaded things.

    Args:
        loader: builds the value for a key (called at most once per key while it stays cached).
        max_items: how many values to keep; the least recently used is evicted first.
        on_evict: called with ``(key, value)`` after a value leaves the cache.
        weigh: the weight of a value (a model's bytes); with ``max_weight``, least recently used values
            are evicted until the total fits (the newest value always stays).
    """

    def __init__(
        self,
        *,
        loader: Callable[[K], V],
        max_items: int,
        on_evict: Callable[[K, V], None] | None = None,
        weigh: Callable[[V], int] | None = None,
        max_weight: int | None = None,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._loader = loader
        self._max = max_items
        self._on_evict = on_evict
        self._weigh = weigh
        self._max_weight = max_weight
        self._weights: dict[K, int] = {}
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[K, threading.Lock] = {}

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def keys(self) -> list[K]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: K) -> V:
        """The value for ``key``, loading it once if needed."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # second check: another thread may have loaded it meanwhile
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            value = self._loader(key)
            evicted: list[tuple[K, V]] = []
            weight = self._weigh(value) if self._weigh is not None else 0
            with self._lock:
                self._items[key] = value
                self._weights[key] = weight
                self._items.move_to_end(key)
                while len(self._items) > self._max or (
                    self._max_weight is not None and len(self._items) > 1 and self.weight > self._max_weight
                ):
                    old_key, old_value = self._items.popitem(last=False)
                    self._weights.pop(old_key, None)
                    evicted.append((old_key, old_value))
                self._key_locks.pop(key, None)
        for old_key, old_value in evicted:
            if self._on_evict is not None:
                self._on_evict(old_key, old_value)
        return value

    @property
    def weight(self) -> int:
        """Total weight of the cached values (bytes, for models)."""
        return sum(self._weights.values())

    def clear(self) -> None:
        """Evict everything."""
        with self._lock:
            evicted = list(self._items.items())
            self._items.clear()
            self._weights.clear()
        for key, value in evicted:
            if self._on_evict is not None:
                self._on_evict(key, value)
