"""The end of a run, as every engine reports it: the time to the first token, tokens per second, the finish reason.

One clock per run (``RunClock``): started when the run starts, the first token noted as it arrives, stopped at
the end. Tokens per second count the tokens after the first over the time after the first (the prompt's reading
is in the first-token time). ``finish_reason`` is the sentence a view shows: the visitor's Stop, the time limit,
else what ended the run by itself.

>>> ticks = iter([10.0, 10.5, 11.0, 12.5])
>>> clock = RunClock(now=lambda: next(ticks))
>>> clock.first(), clock.elapsed()
(0.5, 1.0)
>>> clock.end()
>>> clock.ttft_s, clock.elapsed_s, clock.tokens_per_s(5)
(0.5, 2.5, 2.0)
>>> finish_reason(stopped=False, timed_out=True, time_limit_s=60.0, natural=END_OF_SEQUENCE)
'time limit (60 s)'
>>> finish_reason(stopped=False, timed_out=False, time_limit_s=60.0, natural=None)
'stopped'
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["END_OF_SEQUENCE", "MAX_NEW_TOKENS", "STOPPED_BY_YOU", "STOP_STRING", "RunClock", "finish_reason"]

STOPPED_BY_YOU = "stopped by you"
END_OF_SEQUENCE = "end of sequence token"
MAX_NEW_TOKENS = "max new tokens"
STOP_STRING = "stop string"


class RunClock:
    """A run's times, in seconds from its start (``time.perf_counter``; tests pass their own ``now``)."""

    def __init__(self, *, now: Callable[[], float] = time.perf_counter) -> None:
        self._now = now
        self.started = now()
        self._firsts: dict[str, float] = {}
        self.ended: float | None = None

    def first(self, what: str = "token") -> float:
        """The time to the first ``what`` (noted now if this is the first): a streamed update's ``ttft_s``."""
        if not self._firsts.get(what):
            self._firsts[what] = self._now()
        return self._firsts[what] - self.started

    def elapsed(self) -> float:
        """The time since the start, now: a streamed update's ``elapsed_s``."""
        return self._now() - self.started

    def end(self) -> None:
        """Stop the clock (a run without a token has its first-token time at its end)."""
        self.ended = self._now()
        if not self._firsts.get("token"):
            self._firsts["token"] = self.ended

    @property
    def first_at(self) -> float:
        assert self.ended is not None, "end() the clock first"
        return self._firsts["token"]

    @property
    def ttft_s(self) -> float:
        """The final result's time to the first token."""
        return self.first_at - self.started

    @property
    def elapsed_s(self) -> float:
        """The final result's whole time."""
        assert self.ended is not None, "end() the clock first"
        return self.ended - self.started

    def tokens_per_s(self, n_new: int) -> float | None:
        """The tokens after the first over the time after the first (None for a single token)."""
        assert self.ended is not None, "end() the clock first"
        return (n_new - 1) / (self.ended - self.first_at) if n_new > 1 and self.ended > self.first_at else None


def finish_reason(*, stopped: bool, timed_out: bool, time_limit_s: float, natural: str | None) -> str:
    """Why a run ended, as a view says it: the visitor's Stop, the time limit, else ``natural`` (what ended it by
    itself: ``END_OF_SEQUENCE``, ``MAX_NEW_TOKENS``, ``STOP_STRING``, a server's own word) or "stopped"."""
    if stopped:
        return STOPPED_BY_YOU
    if timed_out:
        return f"time limit ({time_limit_s:g} s)"
    return natural or "stopped"
