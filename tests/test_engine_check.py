"""The fast engine checked before it is trusted, and a crash that costs a visitor nothing but speed.

Pure parts (the check's verdict on hand-made logits, signals, remembered verdicts) run in milliseconds. The
fault-injection tests make llama.cpp's worker or probe process segfault for real (``RSDEMO_FAULT``: a NULL read
in that child, as llama.cpp's AMX crash is) and check that the run goes on on transformers, says so, and that
llama.cpp is set aside: on an AMD machine they are what proves the fallback.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rsdemo.backend import Backend
from rsdemo.catalog import DEFAULT_MODEL, MODELS, EngineCheck
from rsdemo.core.errors import EngineFailedError, InputError
from rsdemo.core.settings import Settings
from rsdemo.generation import engine_check
from rsdemo.generation.engine_check import crash, disagreement, remember, remembered, run_check, signal_name
from rsdemo.generation.llamacpp_native import extra_buffers, installed

needs_llama = pytest.mark.skipif(
    not installed() and not os.environ.get("RSDEMO_FAST_ENGINE_REQUIRED"),
    reason="llama.cpp is not built here (bash scripts/setup.sh --dev builds it)",
)
CHECK = EngineCheck(text="t", ids=(1, 2), steps=(((5, 6, 7, 8, 9), 0.97), ((3, 4, 5, 6, 7), 0.4)))
PROMPT = "What is the capital of France?"


def _logits(*ranked: int, size: int = 12) -> np.ndarray:
    row = np.zeros(size, dtype=np.float32)
    for rank, token in enumerate(ranked):
        row[token] = 10.0 - rank
    return row


# --- the check's verdict, pure -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([_logits(5, 6, 7, 8, 9), _logits(3, 4)], None),
        ([_logits(5), _logits(4, 3)], None),  # an unsure step: its second choice first is a near-tie, allowed
        ([_logits(6, 5), _logits(3)], "step 1: it ranks id 6 first; the model ranks 5 first (97 %)"),  # sure step
        ([_logits(5), _logits(11, 3)], "step 2: it ranks id 11 first; the model ranks 3 first (40 %)"),
        ([_logits(5), _logits(4, 11, 10, 0, 1, 2)], "step 2: it ranks id 4 first; the model ranks 3 first (40 %)"),
        ([_logits(5), np.full(12, np.nan, dtype=np.float32)], "step 2: its logits are not finite numbers"),
        ([_logits(5)], "it gave 1 rows of logits for 2 steps"),
    ],
)
def test_the_check_accepts_near_ties_and_refuses_other_rankings(rows, expected) -> None:
    assert disagreement(CHECK, rows) == expected


def test_signals_and_who_is_to_blame() -> None:
    segv = crash(returncode=-11, when="in its self-check")
    assert str(segv) == "crashed on this CPU (SIGSEGV) in its self-check" and segv.machine and segv.signal == "SIGSEGV"
    assert crash(returncode=-4, when="x").signal == "SIGILL"
    killed = crash(returncode=-9, when="before its first token")
    assert str(killed) == "was killed (SIGKILL) before its first token" and not killed.machine
    assert not crash(returncode=1, when="x").machine and signal_name(0) == ""


def test_a_verdict_is_remembered_per_key_and_a_broken_file_is_no_verdict(tmp_path: Path) -> None:
    assert remembered(tmp_path, engine="llama.cpp", key="k1") is None
    remember(tmp_path, engine="llama.cpp", key="k1", ok=False, why="crashed on this CPU (SIGSEGV) in its self-check")
    verdict = remembered(tmp_path, engine="llama.cpp", key="k1")
    assert verdict is not None and verdict["ok"] is False and "SIGSEGV" in verdict["why"] and verdict["when"]
    assert remembered(tmp_path, engine="llama.cpp", key="k2") is None
    Path(verdict["path"]).write_text("{not json")
    assert remembered(tmp_path, engine="llama.cpp", key="k1") is None


def test_extra_buffers_stay_off_where_the_cpu_has_amx() -> None:
    assert extra_buffers("auto", flags=frozenset({"avx512f", "amx_tile", "amx_int8"})) is False
    assert extra_buffers("auto", flags=frozenset({"avx2"})) is True
    assert extra_buffers("off", flags=frozenset()) is False and extra_buffers("on", flags=frozenset({"amx_int8"}))
    with pytest.raises(ValueError, match="RSDEMO_LLAMACPP_EXTRA_BUFFERS must be off, auto or on, got 'maybe'"):
        Settings.from_env({"RSDEMO_LLAMACPP_EXTRA_BUFFERS": "maybe"})
    with pytest.raises(ValueError, match="RSDEMO_LLAMACPP_WEIGHTS must be f16, q4_1, q8_0 or f32"):
        Settings.from_env({"RSDEMO_LLAMACPP_WEIGHTS": "q2_k"})


# --- the check's data is the model's own ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_catalogs_check_is_what_transformers_ranks_on_the_embedded_model(backend: Backend) -> None:
    """Recomputed with transformers (fp32 on the de-quantised weights) along its own greedy answer."""
    check = MODELS[DEFAULT_MODEL].check
    assert check is not None
    bundle = backend.model(DEFAULT_MODEL)
    assert tuple(bundle.tokenizer(check.text, add_special_tokens=False)["input_ids"]) == check.ids
    ids = list(check.ids)
    with torch.inference_mode():
        for top, p1 in check.steps:
            probs = torch.softmax(bundle.model(torch.tensor([ids])).logits[0, -1].float(), -1)
            values, order = torch.topk(probs, 5)
            assert tuple(order.tolist()) == top and abs(float(values[0]) - p1) < 5e-4
            ids.append(top[0])


# --- llama.cpp checked, and set aside when it crashes -------------------------------------------------------------


@pytest.fixture()
def fresh(tmp_path: Path, settings: Settings, backend: Backend) -> Settings:
    """Settings with a cache of their own (no remembered verdicts) that shares the converted embedded model."""
    backend.model(DEFAULT_MODEL)  # converted once in the session's cache
    models = Path(settings.cache_dir) / "models"
    shutil.copytree(models, tmp_path / "models", copy_function=os.link)  # hard links: no copy, no shared deletes
    return dataclasses.replace(settings, cache_dir=tmp_path)


def _run(backend: Backend, **kwargs):
    *_, final = backend.generate(
        model=DEFAULT_MODEL, prompt=PROMPT, method="greedy", params={"max_new_tokens": 8}, **kwargs
    )
    return final


def _spawns(monkeypatch) -> list[str]:
    """Count the worker processes started from now on (their engine)."""
    from rsdemo.generation.worker import client as decode_worker

    started: list[str] = []
    real = decode_worker.spawn

    def counting(engine: str):
        started.append(engine)
        return real(engine)

    monkeypatch.setattr(decode_worker, "spawn", counting)
    return started


@pytest.mark.slow
@needs_llama
@pytest.mark.parametrize(
    ("fault", "when"), [("first-decode", "before its first token"), ("self-check", "in its self-check")]
)
def test_a_worker_that_segfaults_hands_the_run_to_transformers_and_llama_cpp_is_set_aside(
    fresh: Settings, monkeypatch, caplog, fault: str, when: str
) -> None:
    monkeypatch.setenv("RSDEMO_FAULT", fault)
    own = Backend(settings=fresh)
    started = _spawns(monkeypatch)
    first = _run(own)
    expected = f"llama.cpp crashed on this CPU (SIGSEGV) {when}; this run used transformers."
    assert first.engine == "transformers" and expected in first.notes and expected in first.engine_reason
    assert "Paris" in first.text and first.finish_reason == "end of sequence token"
    assert started[0] == "llamacpp" and "llama.cpp set aside for this process" in caplog.text
    assert ("llama.cpp", DEFAULT_MODEL) not in own.models.cache.keys()  # its dead worker is not kept

    again = _run(own)  # straight to transformers: llama.cpp is not tried again
    assert again.engine == "transformers" and "unavailable on this machine" in again.engine_reason
    assert not again.notes and started.count("llamacpp") == 1
    with pytest.raises(
        InputError,
        match=r"llama.cpp is unavailable on this machine: it crashed on this CPU "
        r"\(SIGSEGV\)",
    ) as refused:
        _run(own, engine="llama.cpp")
    assert refused.value.field == "engine"
    assert caplog.text.count("llama.cpp set aside for this process") == 1  # said once

    # the next process (the CLI's next call, the app's next start) knows at once, and the page says so
    from rsdemo.ui import _engine_choices

    later = Backend(settings=fresh)
    assert "remembered from" in (later.engines["llama.cpp"].missing() or "")
    labels = dict((key, label) for label, key in _engine_choices(later))
    assert labels["llama.cpp"].endswith(
        f"unavailable on this machine: it crashed on this CPU (SIGSEGV) {when} "
        "(remembered from " + labels["llama.cpp"].split("(remembered from ")[1]
    )


@pytest.mark.slow
@needs_llama
def test_in_the_apps_own_process_a_probe_takes_the_crash_and_a_passed_check_is_remembered(
    fresh: Settings, monkeypatch
) -> None:
    in_process = dataclasses.replace(fresh, generation_process=False)
    monkeypatch.setenv("RSDEMO_FAULT", "self-check")  # honoured in the probe's child only
    own = Backend(settings=in_process)
    final = _run(own)  # this test's process is still here: the crash was the probe's
    assert final.engine == "transformers"
    assert "llama.cpp crashed on this CPU (SIGSEGV) in its self-check; this run used transformers." in final.notes

    monkeypatch.delenv("RSDEMO_FAULT")
    healthy = dataclasses.replace(in_process, cache_dir=fresh.cache_dir / "other")
    shutil.copytree(fresh.cache_dir / "models", healthy.cache_dir / "models", copy_function=os.link)
    calls = []
    real = engine_check.probe
    monkeypatch.setattr(engine_check, "probe", lambda **kw: calls.append(kw) or real(**kw))
    good = Backend(settings=healthy)
    assert _run(good, engine="llama.cpp").engine == "llama.cpp" and len(calls) == 1
    key = good.engines["llama.cpp"]._verdict_key(healthy)
    assert remembered(healthy.cache_dir, engine="llama.cpp", key=key)["ok"] is True
    assert _run(Backend(settings=healthy), engine="llama.cpp").engine == "llama.cpp" and len(calls) == 1


@pytest.mark.slow
@needs_llama
def test_wrong_numbers_fail_the_check(settings: Settings) -> None:
    from rsdemo.generation.llamacpp_engine import LlamaCppEngine, LlamaCppModel

    check = MODELS[DEFAULT_MODEL].check
    path = LlamaCppEngine._path(DEFAULT_MODEL)
    loaded = LlamaCppModel(
        key=DEFAULT_MODEL, spec=MODELS[DEFAULT_MODEL], path=path, tokenizer=None, adapter=None, contexts=1
    )
    try:
        run_check(loaded, check)  # the real numbers pass
        (top, p1), *rest = check.steps
        wrong = dataclasses.replace(check, steps=(((top[1], *top[2:], 0), p1), *rest))  # " Paris" is not the model's
        with pytest.raises(
            EngineFailedError,
            match=r"gave other numbers than the model's own in its self-check "
            r"\(step 1: it ranks id 7042 first",
        ):
            run_check(loaded, wrong)
    finally:
        loaded.release()


# --- engines that disagree, shown --------------------------------------------------------------------------------


def test_the_token_view_marks_where_transformers_ranks_another_token_first() -> None:
    from rsdemo.generation import token_segments
    from rsdemo.generation.results import Alternative, GeneratedToken
    from rsdemo.insight.second_opinion import Opinion, SecondOpinion
    from rsdemo.render import render_generation

    def token(tid: int, text: str, p: float) -> GeneratedToken:
        return GeneratedToken(tid, text, p, p, (Alternative(tid, text, p, text),), (), text, text.encode())

    tokens = [token(43, "L", 0.152), token(11, "'", 0.9)]
    second = SecondOpinion("llama.cpp", (Opinion(0, 0.139, 504, "The", 0.152, 43), Opinion(1, 0.91, 11, "'", 0.91, 11)))
    view = render_generation(token_segments(tokens), tokens, second=second)
    assert view.count("rs-disagree") == 1 and "transformers ranks &#x27;The&#x27; first (15.2%)" in view
    assert "this token has 13.9% there" in view and "&quot;differs&quot;: false" in view
    assert second.as_dict()["agree"] == 1 and second.differing == (second.opinions[0],)


@pytest.mark.slow
@needs_llama
def test_a_llama_cpp_run_gets_transformers_view_of_each_token(backend: Backend) -> None:
    run = _run(backend, engine="llama.cpp")
    second = backend.second_opinion(run=run)
    assert second.engine == "llama.cpp" and len(second.opinions) == len(run.tokens)
    bundle = backend.model(DEFAULT_MODEL)
    ids = [*run.prompt.ids, *(t.id for t in run.tokens)]
    with torch.inference_mode():
        probs = torch.softmax(bundle.model(torch.tensor([ids])).logits[0].float(), -1)
    start = len(run.prompt.ids)
    for k, opinion in enumerate(second.opinions):  # the model's own numbers, position by position
        row = probs[start + k - 1]
        assert abs(opinion.prob - float(row[ids[start + k]])) < 1e-4 and opinion.top_id == int(row.argmax())
        assert opinion.engine_top_id == run.tokens[k].raw_top[0].id
    assert len(second.differing) <= 1  # F16 weights: near-ties only, if any
    transformers_run = _run(backend, engine="transformers")
    with pytest.raises(InputError, match="This run is transformers' own"):
        backend.second_opinion(run=transformers_run)


@pytest.mark.slow
@needs_llama
def test_the_arena_puts_two_engines_side_by_side_on_one_method_and_seed(backend: Backend) -> None:
    *_, final = backend.arena(
        model=DEFAULT_MODEL,
        prompt=PROMPT,
        methods=["top_p"],
        engines=["llama.cpp", "transformers"],
        params={"max_new_tokens": 8, "seed": 3},
    )
    assert final.done and final.methods == ("top_p@llama.cpp", "top_p@transformers")
    assert [r.engine for r in final.runs] == ["llama.cpp", "transformers"]
    assert {r.seed for r in final.runs} == {3}
    outputs = final.as_dict()["outputs"]
    assert [(o["method"], o["engine"]) for o in outputs] == [("top_p", "llama.cpp"), ("top_p", "transformers")]
    with pytest.raises(InputError, match="llama.cpp .*runs greedy"):  # refused before anything runs
        list(backend.arena(model=DEFAULT_MODEL, prompt=PROMPT, methods=["beam"], engines=["llama.cpp", "transformers"]))
    with pytest.raises(InputError, match="Pick 2 to 4 method-and-engine pairs"):
        list(
            backend.arena(
                model=DEFAULT_MODEL,
                prompt=PROMPT,
                methods=["greedy", "top_p", "top_k"],
                engines=["llama.cpp", "transformers"],
            )
        )


def test_a_cpu_space_builds_llama_cpp_in_the_background_at_the_lowest_priority(monkeypatch, tmp_path) -> None:
    import importlib.util
    import subprocess

    from rsdemo import bootstrap

    started: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda cmd, **kw: started.append((cmd, kw)))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # llama_cpp not installed yet
    monkeypatch.setattr("shutil.which", lambda name: None)  # no nvidia-smi: a CPU Space
    env = {"SPACE_ID": "someone/rsdemo", "XDG_CACHE_HOME": str(tmp_path)}
    assert bootstrap.start_fast_engine_build(environ=env)
    ((command, options),) = started
    assert command[1].endswith("scripts/low_priority.sh") and command[-1].endswith("scripts/build_fast_engine.sh")
    assert options["start_new_session"] and (tmp_path / "rsdemo" / "fast-engine-build.log").exists()
    assert not bootstrap.start_fast_engine_build(environ={**env, "RSDEMO_FAST_ENGINE_BUILD": "0"})
    assert not bootstrap.start_fast_engine_build(environ={**env, "SPACES_ZERO_GPU": "true"})
    assert len(started) == 1
