"""The soak benchmark's own pieces (benchmarks/soak.py): its figures are only as good as its harness."""

from __future__ import annotations

import doctest
import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


@pytest.fixture(scope="module")
def soak():
    spec = importlib.util.spec_from_file_location("rsdemo_soak_under_test", SOAK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    sys.path.insert(0, str(SOAK.parent))  # it imports benchmarks/machine.py as a sibling, as when run as a script
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(SOAK.parent))
        sys.modules.pop(spec.name, None)


def test_the_soak_doctests_hold(soak) -> None:
    """alternating() compares each window with generation against its neighbours, so a steady drift cancels."""
    result = doctest.testmod(soak)
    assert result.attempted >= 4 and result.failed == 0


class _FakeJob:
    """Just what iterate_job reads from a gradio_client Job, fed by a thread the way the client's thread does."""

    def __init__(self) -> None:
        self.communicator = SimpleNamespace(updates=None)
        self._outputs: list[int] = []
        self._done = False
        self.status_reads = 0

    def outputs(self) -> list[int]:
        return list(self._outputs)

    def done(self) -> bool:
        return self._done

    def status(self) -> SimpleNamespace:
        self.status_reads += 1
        return SimpleNamespace(code=SimpleNamespace(name="FINISHED" if self._done else "ITERATING"))

    def feed(self, n: int, every_s: float) -> None:
        for i in range(n):
            time.sleep(every_s)
            self._outputs.append(i)
            self.communicator.updates.put_nowait(("output", i))
        self._done = True
        self.communicator.updates.put_nowait(("status", "FINISHED"))


def test_a_streaming_client_wakes_on_each_update_instead_of_polling(soak) -> None:
    job = _FakeJob()
    stream = soak.iterate_job(job, deadline=time.time() + 30, marks={})
    feeder = threading.Thread(target=job.feed, args=(5, 0.2))
    seen: list[tuple[int, float]] = []
    feeder.start()
    for message in stream:
        seen.append((message, time.monotonic()))
    feeder.join()
    assert [m for m, _ in seen] == [0, 1, 2, 3, 4]
    # one second of streaming: a 5 ms poll would have read the status about 400 times (twice a turn)
    assert job.status_reads < 60, job.status_reads
    gaps = [b - a for (_, a), (_, b) in zip(seen, seen[1:])]
    assert all(0.1 < gap < 0.35 for gap in gaps), gaps  # each message as it came, not late by a poll


def test_after_a_cancel_the_generation_client_waits_for_its_event_stream_to_close(soak) -> None:
    """gradio_client ties an event submitted while its stream closes to that stream: the harness waits it out."""
    client = SimpleNamespace(stream_open=True)
    threading.Timer(0.1, lambda: setattr(client, "stream_open", False)).start()
    t0 = time.monotonic()
    assert soak.wait_stream_closed(client) and 0.09 <= time.monotonic() - t0 < 1.5
    stuck = SimpleNamespace(stream_open=True)  # a stream that stays open (another event pending): bounded
    t0 = time.monotonic()
    assert not soak.wait_stream_closed(stuck, timeout_s=0.2) and time.monotonic() - t0 < 1.0
    assert soak.wait_stream_closed(object())  # a client without the attribute (another gradio_client)
