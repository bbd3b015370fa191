"""How many threads a llama.cpp run decodes with: every core while they are free, one while others want them.

A decode step splits its work across a team of threads that meet at a barrier after each operation, hundreds
of times per token. On cores nothing else wants, every core helps (85 tokens/s here with 2 threads, 63 with 1).
Beside a build at normal priority the team's threads are often off their cores and the others wait for them at
every barrier: 2 threads gave 2.3 tokens/s where 1 kept 63 (``benchmarks/README.md``). llama.cpp's numbers do
not depend on the thread count (each dot product is one thread's; ``tests/test_engines.py`` checks it), so a run
may change it between tokens, and ``ThreadCount`` does, from the run's own token times. A run's first token
after its prompt takes one thread and its second every core: every core stays only if that token was clearly
faster (``faster``). With every core, two tokens in a row ``slower`` times the fastest one seen mean the cores
have become contended: back to one thread. At one thread it tries every core again for a token after ``probe``
tokens, and after each failed try waits four times as long. A try costs one slow token when the cores are
contended (0.45 s beside a build here), so none is made while the machine already runs as many other tasks as
it has cores (``machine_full``: ``/proc/loadavg``). Nothing here is tuned to one CPU: it measures what this run
meets.

>>> import itertools
>>> clock = {"t": 0.0}
>>> speed = {"free": {2: 0.012, 1: 0.016}, "busy": {2: 0.4, 1: 0.016}}  # seconds per token
>>> count = ThreadCount(most=2, probe=8, now=lambda: clock["t"], full=lambda: False)
>>> seen = []
>>> for state in ["free"] * 6 + ["busy"] * 50 + ["free"] * 140:  # a build runs for a while, then ends
...     seen.append(count.threads()); clock["t"] += speed[state][seen[-1]]
>>> [(n, len(list(run))) for n, run in itertools.groupby(seen)]  # the build starts: two slow tokens; tries fail
[(1, 1), (2, 7), (1, 8), (2, 1), (1, 32), (2, 1), (1, 128), (2, 18)]
>>> busy = ThreadCount(most=2, probe=8, now=lambda: clock["t"], full=lambda: False)
>>> seen = []
>>> for _ in range(20):  # a run that starts beside the build: one slow token tells
...     seen.append(busy.threads()); clock["t"] += speed["busy"][seen[-1]]
>>> "".join(map(str, seen))
'12111111112111111111'
>>> full = ThreadCount(most=2, probe=8, now=lambda: clock["t"], full=lambda: True)  # no try while it is full
>>> "".join(str(full.threads()) for _ in range(20))
'11111111111111111111'
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from collections.abc import Callable

__all__ = ["ThreadCount", "machine_full"]


def machine_full() -> bool:
    """The machine runs at least as many other tasks as it has cores (``/proc/loadavg``; False where unknown)."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return running - 1 >= (os.cpu_count() or 1)


class ThreadCount:
    """The threads of a run's next token (call ``threads()`` once per token): ``most`` or 1, by its token times.

    Args:
        most: every core this process may use.
        start: the count to begin with (the last run's, so a run beside a long build starts where it should).
        probe: tokens at one thread before every core is tried again (four times as long after each failed try).
        slower: a token this many times the fastest with every core is a sign of contention (two in a row: drop).
        faster: a try with every core holds when its token takes less than this share of a one-thread token.
        now, full: the clock and ``machine_full`` (tests pass their own).
    """

    def __init__(
        self,
        *,
        most: int,
        start: int | None = None,
        probe: int = 32,
        slower: float = 2.5,
        faster: float = 0.85,
        now: Callable[[], float] = time.monotonic,
        full: Callable[[], bool] = machine_full,
    ) -> None:
        self.most = max(1, most)
        self._probe = max(1, probe)
        # one thread first; every core on trial at the next token, unless the last run ended at one thread
        self.current = 1
        self._every = 1 if start is None or start > 1 else self._probe
        self._slower, self._faster, self._now, self._full = slower, faster, now, full
        self._last: float | None = None
        self._ran = self.current  # the count the token now being timed ran with
        self._best: float | None = None  # the fastest token with every core
        self._single: deque[float] = deque(maxlen=8)  # the latest one-thread tokens
        self._strikes = 0
        self._since = 0  # one-thread tokens since the count last dropped or a try failed
        self._trying = False

    def threads(self) -> int:
        at = self._now()
        if self._last is not None and self.most > 1:
            self._observe(at - self._last)
        self._last = at
        self._ran = self.current
        return self.current

    def _observe(self, took: float) -> None:
        if self._ran == 1:
            self._single.append(took)
            self._since += 1
            if self._since >= self._every and len(self._single) >= min(4, self._every) and not self._full():
                self.current, self._trying = self.most, True
            return
        if self._trying:
            self._trying = False
            if took < self._faster * statistics.median(self._single):
                self._every = self._probe  # the cores are free again
            else:
                self._every = min(max(self._every * 4, self._probe), self._probe * 256)
                self.current, self._since = 1, 0
                return
        self._best = took if self._best is None else min(self._best, took)
        self._strikes = self._strikes + 1 if took > self._slower * self._best else 0
        if self._strikes >= 2:
            self.current, self._strikes, self._since = 1, 0, 0
