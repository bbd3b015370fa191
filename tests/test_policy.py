"""The serving policy on the tiny model: concurrent runs without cross-talk, slots, one run per visitor,
the time limit, and the model memory bound checked before a load (never evicting a model in use)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
import torch
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo.backend import Backend
from rsdemo.core.cache import LoadCache
from rsdemo.core.errors import CapacityError, InputError
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.generation import GenerationResult
from rsdemo.loading import ModelBundle

CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
PROMPT = "Hello world"


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer):
    return build_model(tokenizer)


def _backend(settings: Settings, model, tokenizer, **overrides) -> Backend:
    limits = dataclasses.replace(settings, **overrides)
    return Backend(settings=limits, model_loader=lambda key: tiny_bundle(model, tokenizer, key=key), runtime=CPU)


def _final(backend: Backend, **kwargs) -> GenerationResult:
    kwargs.setdefault("model", TINY_KEY)
    kwargs.setdefault("prompt", PROMPT)
    *_, final = backend.generate(**kwargs)
    return final


def _slowed(model, seconds: float):
    return model.register_forward_hook(lambda *_: time.sleep(seconds))


REQUESTS = [
    {"method": "top_p", "params": {"max_new_tokens": 12, "seed": 1, "top_p": 0.95}},
    {"method": "sample", "params": {"max_new_tokens": 12, "seed": 2, "temperature": 1.5}},
    {"method": "top_k", "params": {"max_new_tokens": 12, "seed": 3, "top_k": 40}},
    {"method": "beam_sample", "params": {"max_new_tokens": 8, "seed": 4, "num_beams": 2}},
    {"method": "greedy", "params": {"max_new_tokens": 12}},
]


def test_concurrent_runs_give_what_each_gives_alone(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer, generation_slots=len(REQUESTS))
    alone = [_final(backend, **r) for r in REQUESTS]
    together: list[GenerationResult | None] = [None] * len(REQUESTS)
    barrier = threading.Barrier(len(REQUESTS))

    def go(n: int) -> None:
        barrier.wait()
        together[n] = _final(backend, visitor=f"v{n}", **REQUESTS[n])

    handle = _slowed(model, 0.002)  # interleave the runs' steps
    try:
        threads = [threading.Thread(target=go, args=(n,)) for n in range(len(REQUESTS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        handle.remove()
    for a, b in zip(alone, together):
        assert b is not None
        assert [t.id for t in a.tokens] == [t.id for t in b.tokens], a.method
        # the live probabilities come from each run's own forward passes, not a neighbour's
        assert [t.raw_prob for t in a.tokens] == pytest.approx([t.raw_prob for t in b.tokens]), a.method


def test_a_seeded_run_repeats_and_matches_the_global_seed(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer)
    first = _final(backend, **REQUESTS[0])
    torch.manual_seed(12345)  # someone else's seed does not leak in
    assert [t.id for t in _final(backend, **REQUESTS[0]).tokens] == [t.id for t in first.tokens]
    # the reproduce code's torch.manual_seed(seed) + generate gives the same tokens
    ids = torch.tensor([list(first.prompt.ids)])
    from rsdemo.decoding import generation_config

    config = generation_config(method="top_p", params=REQUESTS[0]["params"])
    torch.manual_seed(1)
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    assert out[0, ids.shape[1] :].tolist()[: len(first.tokens)] == [t.id for t in first.tokens]


@pytest.mark.parametrize("slots", [1, 2])
def test_slots_bound_the_runs_at_once(settings: Settings, model, tokenizer, slots: int) -> None:
    backend = _backend(settings, model, tokenizer, generation_slots=slots)
    inside, peak = [0], [0]
    lock = threading.Lock()

    def enter(*_):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])

    def leave(*_):
        time.sleep(0.01)
        with lock:
            inside[0] -= 1

    handles = [model.register_forward_pre_hook(enter), model.register_forward_hook(leave)]
    try:
        threads = [
            threading.Thread(
                target=_final, args=(backend,), kwargs={"visitor": f"v{n}", "params": {"max_new_tokens": 6}}
            )
            for n in range(3)
        ]
        for t in threads:
            t.start()
        time.sleep(0.05)
        assert backend.running == 3  # registered: some generating, the rest waiting for a slot
        for t in threads:
            t.join(60)
    finally:
        for h in handles:
            h.remove()
    assert peak[0] == slots
    assert backend.running == 0 and backend.admission.free_slots == slots


def test_a_visitors_new_run_stops_their_older_one(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer, generation_slots=2)
    handle = _slowed(model, 0.02)
    try:
        older = backend.generate(
            model=TINY_KEY, prompt=PROMPT, method="greedy", visitor="alice", params={"max_new_tokens": 100}
        )
        next(older)  # streaming
        newer = _final(backend, method="greedy", visitor="alice", params={"max_new_tokens": 3})
        *_, old_final = older
    finally:
        handle.remove()
    assert len(newer.tokens) == 3
    assert old_final.stopped and len(old_final.tokens) < 100


def test_stop_stops_only_that_visitor(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer, generation_slots=2)
    handle = _slowed(model, 0.02)
    try:
        alice = backend.generate(
            model=TINY_KEY, prompt=PROMPT, method="greedy", visitor="alice", params={"max_new_tokens": 40}
        )
        bob = backend.generate(
            model=TINY_KEY, prompt=PROMPT, method="greedy", visitor="bob", params={"max_new_tokens": 40}
        )
        next(alice), next(bob)
        assert backend.stop(visitor="alice") == 1
        *_, a = alice
        *_, b = bob
    finally:
        handle.remove()
    assert a.stopped and a.finish_reason == "stopped by you"
    assert not b.stopped and len(b.tokens) == 40


def test_a_run_past_the_time_limit_stops_and_says_so(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer, run_time_limit_s=0.3)
    handle = _slowed(model, 0.05)
    try:
        final = _final(backend, method="greedy", params={"max_new_tokens": 100})
        beams = _final(backend, method="beam", params={"max_new_tokens": 100, "num_beams": 2})
    finally:
        handle.remove()
    for result in (final, beams):
        assert result.finish_reason.startswith("time limit") and not result.stopped
        assert 0 < len(result.tokens) < 100
    assert backend.running == 0


def test_a_run_stopped_while_waiting_for_a_slot_never_starts(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer, generation_slots=1)
    handle = _slowed(model, 0.02)
    try:
        busy = backend.generate(
            model=TINY_KEY, prompt=PROMPT, method="greedy", visitor="a", params={"max_new_tokens": 30}
        )
        next(busy)
        cancel = threading.Event()
        waiting = backend.generate(model=TINY_KEY, prompt=PROMPT, method="greedy", visitor="b", cancel=cancel)
        threading.Timer(0.3, cancel.set).start()
        first = next(waiting)
        assert first.waiting == 0 and not first.tokens  # told it is next in line
        with pytest.raises(InputError, match="stopped before it started"):
            list(waiting)
        list(busy)
    finally:
        handle.remove()


# --- the model memory bound ------------------------------------------------------------------------------


class _Sized(ModelBundle):
    released: list[str] = []

    def release(self) -> None:
        _Sized.released.append(self.key)
        super().release()


def _sized_backend(
    settings: Settings, model, tokenizer, sizes: dict[str, int], loads: list[str], **overrides
) -> Backend:
    limits = dataclasses.replace(settings, **overrides)

    def loader(key: str) -> ModelBundle:
        loads.append(key)
        bundle = _Sized(key=key, model=model, tokenizer=tokenizer, spec=None, device="cpu", dtype=torch.float32)
        bundle.nbytes = sizes[key]
        return bundle

    return Backend(settings=limits, model_loader=loader, model_size=lambda key: sizes[key], runtime=CPU)


MIB = 1024 * 1024


def test_a_model_larger_than_the_bound_is_refused_before_loading(settings: Settings, model, tokenizer) -> None:
    loads: list[str] = []
    backend = _sized_backend(settings, model, tokenizer, {"big/model": 900 * MIB}, loads, max_model_mb=512)
    with pytest.raises(CapacityError, match="at most 512 MiB"):
        _final(backend, model="big/model")
    assert loads == []
    with pytest.raises(CapacityError):
        backend.model("big/model")
    assert loads == [] and backend.models.cache.pending == 0


def test_room_is_made_before_a_load_so_the_peak_stays_bounded(settings: Settings, model, tokenizer) -> None:
    loads: list[str] = []
    _Sized.released = []
    sizes = {"a/one": 300 * MIB, "b/two": 300 * MIB}
    backend = _sized_backend(settings, model, tokenizer, sizes, loads, max_model_mb=512, max_models=4)
    _final(backend, model="a/one", params={"max_new_tokens": 2})
    peak: list[int] = []

    def loader_sees(key: str) -> ModelBundle:  # what is loaded at the moment the next load starts
        peak.append(backend.models.cache.weight)
        return original(key)

    original = backend.models.cache._loader
    backend.models.cache._loader = loader_sees
    _final(backend, model="b/two", params={"max_new_tokens": 2})
    assert _Sized.released == ["a/one"] and peak == [0]  # evicted first: never 600 MiB at once
    assert backend.models.cache.weight == 300 * MIB


def test_a_model_in_use_is_never_evicted(settings: Settings, model, tokenizer) -> None:
    loads: list[str] = []
    _Sized.released = []
    sizes = {"a/one": 300 * MIB, "b/two": 300 * MIB}
    backend = _sized_backend(
        settings, model, tokenizer, sizes, loads, max_model_mb=512, generation_slots=2, run_time_limit_s=20
    )
    handle = _slowed(model, 0.02)
    try:
        first = backend.generate(
            model="a/one", prompt=PROMPT, method="greedy", visitor="x", params={"max_new_tokens": 15}
        )
        next(first)  # a/one is in use
        second_done: list[GenerationResult] = []
        waiter = threading.Thread(
            target=lambda: second_done.append(_final(backend, model="b/two", visitor="y", params={"max_new_tokens": 2}))
        )
        waiter.start()
        time.sleep(0.2)
        assert "b/two" not in loads and _Sized.released == []  # waiting, not evicting what a/one's run uses
        *_, done = first
        waiter.join(30)
    finally:
        handle.remove()
    assert len(done.tokens) == 15 and second_done and _Sized.released == ["a/one"]


def test_a_failed_load_leaves_the_cache_consistent(tmp_path: Path) -> None:
    calls: list[str] = []

    def loader(key: str) -> str:
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return key.upper()

    cache: LoadCache[str, str] = LoadCache(loader=loader, max_items=2)
    with pytest.raises(RuntimeError):
        cache.get("a")
    assert cache.pending == 0 and cache.keys() == []
    assert cache.get("a") == "A" and calls == ["a", "a"]
    failing: LoadCache[str, str] = LoadCache(loader=lambda k: {}[k], max_items=1)
    for n in range(50):  # names that fail leave nothing behind either
        with pytest.raises(KeyError):
            failing.get(f"name-{n}")
    assert failing.pending == 0 and failing.keys() == []


def test_alternatives_after_the_filters_are_the_survivors_only(settings: Settings, model, tokenizer) -> None:
    backend = _backend(settings, model, tokenizer)
    final = _final(backend, method="top_p", params={"max_new_tokens": 8, "seed": 3, "top_p": 0.3})
    for token in final.tokens:
        assert token.top and all(a.prob > 0 for a in token.top)  # no filler at 0.00 %
        assert len(token.raw_top) == 10  # the raw model's view keeps its ten
        assert sum(a.prob for a in token.top) == pytest.approx(1.0, abs=1e-4) or len(token.top) == 10


def test_the_disk_budget_sees_the_cache_entries_of_loaded_models(settings: Settings, model, tokenizer) -> None:
    """Model cache keys are ``(engine, name)``: the disk budget's list of entries in use must still resolve
    (a fresh cache converting the embedded model while another engine's copy was loaded used to crash here)."""
    from rsdemo.catalog import DEFAULT_MODEL
    from rsdemo.loading import converted_model_dir

    backend = _backend(settings, model, tokenizer)
    _final(backend, params={"max_new_tokens": 2})
    backend.models.cache.get(("llama.cpp", DEFAULT_MODEL), size_hint=lambda: 1)  # the tiny loader answers any key
    in_use = backend._entries_in_use()
    assert converted_model_dir(key=DEFAULT_MODEL, settings=settings) in in_use
    assert all(isinstance(p, Path) for p in in_use)
