"""The start-up warm-up: a run asked for while it loads the run's model waits for that load (never a second one)
and says what it is doing; a warm-up that fails or loads another model costs a run nothing; the real one leaves
the Generate tab's default model loaded on the engine its default run takes."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo.backend import Backend
from rsdemo.catalog import DEFAULT_MODEL
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.warmup import Step, WarmUp

CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
RUN = {
    "model": TINY_KEY,
    "prompt": "Hello world",
    "method": "greedy",
    "params": {"max_new_tokens": 4},
    "engine": "transformers",
}


@pytest.fixture()
def tiny_backend(settings: Settings) -> Backend:
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    loads = []

    def load(key: str):
        loads.append(key)
        return tiny_bundle(model, tokenizer, key=key)

    backend = Backend(settings=dataclasses.replace(settings), runtime=CPU, model_loader=load)
    backend.loads = loads  # type: ignore[attr-defined]
    return backend


def _run_in_thread(backend: Backend) -> tuple[list, threading.Thread]:
    results: list = []
    thread = threading.Thread(target=lambda: results.extend(backend.generate(**RUN)), daemon=True)
    thread.start()
    return results, thread


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_run_during_the_warm_up_of_its_model_waits_for_it_and_says_how_far_it_is(tiny_backend: Backend) -> None:
    release = threading.Event()

    def convert(report) -> None:
        report("converting the weights… half way")
        release.wait(30)

    warm = WarmUp(
        steps=[
            Step("converting the weights…", convert),
            Step(
                "loading the model…",
                lambda report: tiny_backend.model(TINY_KEY, engine="transformers", progress=report),
            ),
        ],
        target=("transformers", TINY_KEY),
    )
    tiny_backend.warming = warm.start()
    results, thread = _run_in_thread(tiny_backend)
    _wait_for(lambda: results)
    assert results[0].preparing == "converting the weights… half way" and not results[0].tokens
    assert not results[0].done and tiny_backend.loads == []  # it waits: no second load
    release.set()
    thread.join(60)
    final = results[-1]
    assert final.done and final.tokens and final.preparing == ""
    assert final.load_s is not None and final.load_s > 0  # the wait is counted as the model's load
    assert tiny_backend.loads == [TINY_KEY]  # loaded once, by the warm-up
    assert warm.done and warm.error is None and warm.seconds is not None


def test_a_warm_up_of_another_model_or_one_that_fails_costs_a_run_nothing(tiny_backend: Backend) -> None:
    release = threading.Event()
    other = WarmUp(steps=[Step("loading…", lambda report: release.wait(30))], target=("llama.cpp", DEFAULT_MODEL))
    tiny_backend.warming = other.start()
    results, thread = _run_in_thread(tiny_backend)
    thread.join(60)
    assert results[-1].done and not any(r.preparing for r in results)  # not its model: no wait
    release.set()

    def fail(report) -> None:
        raise OSError("disk full")

    failed = WarmUp(steps=[Step("converting the weights…", fail)], target=("transformers", TINY_KEY))
    failed.run()
    tiny_backend.warming = failed
    assert failed.done and isinstance(failed.error, OSError) and failed.stage == ""
    *_, final = tiny_backend.generate(**RUN)
    assert final.done and final.tokens


def test_the_warm_up_is_a_setting(settings: Settings) -> None:
    assert Backend(settings=dataclasses.replace(settings, warm_up=False), runtime=CPU).warm_up() is None
    assert Settings.from_env({"RSDEMO_WARM_UP": "0"}).warm_up is False


@pytest.mark.slow
def test_the_real_warm_up_leaves_the_default_run_ready(backend: Backend) -> None:
    warm = backend.warm_up(start=False)
    assert warm is not None
    warm.run()
    assert warm.error is None and warm.target is not None and warm.target[1] == DEFAULT_MODEL
    engine, _ = backend.choose_engine(model=DEFAULT_MODEL, method="greedy")
    assert warm.target[0] == engine.capabilities.name
    assert backend.model_loaded(DEFAULT_MODEL, engine=engine.capabilities.name)
    *_, final = backend.generate(model=DEFAULT_MODEL, prompt="Hi", method="greedy", params={"max_new_tokens": 2})
    assert final.done and final.load_s is None  # nothing left to load
