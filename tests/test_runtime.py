"""Where models run: runtime detection from plain dicts, the ZeroGPU entry point, and app.py's import order.

ZeroGPU is simulated: a fake ``spaces`` module in ``sys.modules`` (in process) or first on ``PYTHONPATH``
(in a subprocess) records what the app asks of it.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from rsdemo.backend import Backend
from rsdemo.catalog import MODELS
from rsdemo.core.runtime import Runtime, detect_runtime, gpu_entry_point, on_zerogpu
from rsdemo.core.settings import Settings
from rsdemo.decoding import METHODS

REPO_ROOT = Path(__file__).resolve().parent.parent
ZEROGPU = Runtime("zerogpu", "cuda", "bfloat16", True)
CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
ZEROGPU_MAX_S = 300  # the most a ZeroGPU call may ask for (a few minutes; 60 s is the default)

# --- detection ------------------------------------------------------------------------------------------

DETECTION = [
    # environ, cuda, mps, bf16 -> kind, device, dtype, preload
    ({}, False, False, True, ("cpu", "cpu", "float32", False)),
    ({}, True, False, True, ("cuda", "cuda", "bfloat16", False)),
    ({}, True, False, False, ("cuda", "cuda", "float16", False)),
    ({}, True, True, True, ("cuda", "cuda", "bfloat16", False)),
    ({}, False, True, True, ("mps", "mps", "float16", False)),
    ({"SPACES_ZERO_GPU": "1"}, False, False, True, ("zerogpu", "cuda", "bfloat16", True)),
    ({"SPACES_ZERO_GPU": "true"}, True, False, False, ("zerogpu", "cuda", "bfloat16", True)),
    ({"SPACES_ZERO_GPU": " True "}, False, False, True, ("zerogpu", "cuda", "bfloat16", True)),
    ({"SPACES_ZERO_GPU": "0"}, False, False, True, ("cpu", "cpu", "float32", False)),
    ({"SPACES_ZERO_GPU": "false"}, True, False, True, ("cuda", "cuda", "bfloat16", False)),
    ({"SPACES_ZERO_GPU": ""}, False, False, True, ("cpu", "cpu", "float32", False)),
    ({"RSDEMO_DEVICE": "cpu"}, True, True, True, ("cpu", "cpu", "float32", False)),
    ({"RSDEMO_DEVICE": " CPU "}, True, False, True, ("cpu", "cpu", "float32", False)),
    ({"RSDEMO_DEVICE": "mps"}, True, True, True, ("mps", "mps", "float16", False)),
    ({"RSDEMO_DEVICE": "cuda"}, False, True, True, ("cuda", "cuda", "bfloat16", False)),
    ({"RSDEMO_DEVICE": "cuda"}, True, False, False, ("cuda", "cuda", "float16", False)),
    # ZeroGPU wins over the override: the Space decides where models run
    ({"SPACES_ZERO_GPU": "1", "RSDEMO_DEVICE": "cpu"}, False, False, True, ("zerogpu", "cuda", "bfloat16", True)),
]


@pytest.mark.parametrize(("environ", "cuda", "mps", "bf16", "expected"), DETECTION)
def test_detect_runtime(environ, cuda, mps, bf16, expected) -> None:
    rt = detect_runtime(environ=environ, cuda_available=cuda, mps_available=mps, bf16_supported=bf16)
    assert (rt.kind, rt.device, rt.dtype_name, rt.preload) == expected
    assert rt.on_zerogpu == (expected[0] == "zerogpu") == on_zerogpu(environ)


def test_runtime_dtype_is_a_torch_dtype() -> None:
    import torch

    assert CPU.torch_dtype() is torch.float32
    assert ZEROGPU.torch_dtype() is torch.bfloat16
    assert (
        detect_runtime(environ={}, cuda_available=True, mps_available=False, bf16_supported=False).torch_dtype()
        is torch.float16
    )


# --- the GPU entry point -------------------------------------------------------------------------------


def _fake_spaces() -> types.ModuleType:
    """A ``spaces`` stand-in: ``GPU(duration=...)`` records the function and the duration, returns a wrapper."""
    module = types.ModuleType("spaces")
    module.decorated = []  # type: ignore[attr-defined]

    def GPU(fn=None, *, duration=60):  # noqa: N802 - the real name
        def decorate(func):
            record = {"fn": func, "duration": duration, "calls": []}

            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                record["calls"].append(kwargs)
                return func(*args, **kwargs)

            record["wrapper"] = wrapper
            module.decorated.append(record)  # type: ignore[attr-defined]
            return wrapper

        return decorate(fn) if fn is not None else decorate

    module.GPU = GPU  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fake_spaces(monkeypatch) -> types.ModuleType:
    module = _fake_spaces()
    monkeypatch.setitem(sys.modules, "spaces", module)
    return module


@pytest.fixture(scope="module")
def tiny():
    from tiny_models import build_model, build_tokenizer

    tokenizer = build_tokenizer()
    return build_model(tokenizer), tokenizer


def test_gpu_entry_point_is_a_no_op_off_zerogpu(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "spaces", None)  # importing spaces would fail: it must not be needed

    def fn(**kwargs):
        return kwargs

    assert gpu_entry_point(fn, duration=lambda **_: 10, zerogpu=False) is fn


def test_backend_off_zerogpu_wraps_nothing(settings: Settings, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "spaces", None)
    backend = Backend(settings=settings, runtime=CPU, model_loader=lambda key: None)
    assert backend._run_on_gpu == backend.generation.run


def test_gpu_entry_point_decorates_on_zerogpu(fake_spaces) -> None:
    def fn(*, x):
        return x * 2

    def duration(**_):
        return 30

    wrapped = gpu_entry_point(fn, duration=duration, zerogpu=True)
    assert wrapped is not fn and wrapped(x=21) == 42
    [record] = fake_spaces.decorated
    assert record["fn"] is fn and record["duration"] is duration and record["calls"] == [{"x": 21}]


def test_only_model_work_asks_for_a_gpu(settings: Settings, fake_spaces, tiny) -> None:
    from tiny_models import TINY_KEY, tiny_bundle

    model, tokenizer = tiny
    backend = Backend(settings=settings, runtime=ZEROGPU, model_loader=lambda key: tiny_bundle(model, tokenizer))
    record, forward, tree, scorer = fake_spaces.decorated
    assert (record["fn"], forward["fn"], tree["fn"], scorer["fn"]) == (
        backend.generation.run,
        backend.insight.forward_pass,
        backend.insight.record_beam_tree,
        backend.insight.raw_logprob_pass,
    )
    assert backend.insight.forward is forward["wrapper"] and backend.insight.beam_tree is tree["wrapper"]
    assert backend.insight.raw_logprob is scorer["wrapper"]
    assert backend._run_on_gpu is record["wrapper"]
    for name in ("tokenize", "compare", "decode", "token_info", "model", "preload_models"):
        assert getattr(backend, name).__func__ is getattr(Backend, name), name
    # tokenizer work runs without a GPU call
    assert backend.tokenize(text="hi", tokenizer="char").ids == [104, 105]
    assert backend.compare(text="hi", tokenizers=["char", "byte"]).results[1].ids == [104, 105]
    assert backend.decode(ids=[104, 105], tokenizer="byte").text == "hi"
    assert record["calls"] == []
    # generation goes through the GPU wrapper, streaming, with its keyword arguments
    kwargs = {"model": TINY_KEY, "prompt": "Hello", "method": "greedy", "params": {"max_new_tokens": 3}}
    results = list(backend.generate(**kwargs))
    assert results[-1].done and len(results[-1].tokens) == 3
    assert record["calls"] == [kwargs]
    # the duration callable takes exactly what generate took
    seconds = record["duration"](**kwargs)
    assert isinstance(seconds, int) and 1 <= seconds <= ZEROGPU_MAX_S
    # the insight views: a forward pass asks for the GPU once; re-reading the kept numbers does not
    backend.next_token(model=TINY_KEY, prompt="Hello there", chat=False, method="top_p", params={"top_p": 0.9})
    backend.next_token(model=TINY_KEY, prompt="Hello there", chat=False, method="top_p", params={"top_p": 0.5})
    backend.surprisal(model=TINY_KEY, prompt="Hello there", chat=False)
    assert len(forward["calls"]) == 1 and forward["duration"](**forward["calls"][0]) >= 1
    tree_result = backend.beam_tree(model=TINY_KEY, prompt="Hello", chat=False, params={"max_new_tokens": 3})
    assert tree_result.tree.returned and len(tree["calls"]) == 1


def test_gpu_duration_follows_max_new_tokens(settings: Settings, fake_spaces) -> None:
    Backend(settings=settings, runtime=ZEROGPU, model_loader=lambda key: None)
    duration = fake_spaces.decorated[0]["duration"]

    def ask(model: str = "smollm2-135m-instruct", **params) -> int:
        seconds = duration(
            model=model,
            prompt="hi",
            method="greedy",
            params=params,
            chat=True,
            stop=None,
            cancel=None,
            progress=None,
            details=True,
        )
        assert isinstance(seconds, int) and 1 <= seconds <= ZEROGPU_MAX_S, (model, params, seconds)
        return seconds

    series = [ask(max_new_tokens=n) for n in (1, 16, 64, 128, 256, 512)]
    assert series == sorted(series) and series[-1] > series[0]
    assert ask(max_new_tokens=512, num_beams=8) > ask(max_new_tokens=512)
    # the worst case of every model (and an unknown Hub model) stays within ZeroGPU's limits
    most_beams = next(p.maximum for p in METHODS["beam"].params if p.name == "num_beams")
    most_tokens = max(spec.max_new_tokens or settings.max_new_tokens for spec in MODELS.values())
    for key in [*MODELS, "someone/unknown-model"]:
        assert ask(key, max_new_tokens=most_tokens, num_beams=most_beams) >= ask(key)
    # junk parameters never break the request for a GPU (validation reports them inside the call)
    assert ask(max_new_tokens="lots") == ask()
    assert duration(model=None, prompt="hi") >= 1


def test_preload_loads_the_embedded_models_through_the_loader(settings: Settings) -> None:
    loaded: list[str] = []

    def loader(key: str):
        loaded.append(key)
        return types.SimpleNamespace(key=key, nbytes=0, release=lambda: None)

    backend = Backend(settings=settings, runtime=CPU, model_loader=loader)
    keys = backend.preload_models()
    embedded = [key for key, spec in MODELS.items() if spec.source == "gguf"]
    assert keys == embedded == loaded
    assert "smollm2-135m-instruct" in keys
    assert all(backend.model_loaded(key) for key in keys)
    backend.preload_models()
    assert loaded == embedded  # cached: not loaded twice


# --- app.py import order ---------------------------------------------------------------------------------

FAKE_SPACES_SOURCE = '''
"""A fake ``spaces`` package: reports who imported it and what was already imported, then acts as told."""
import json, os, sys, traceback

_importer = None
for frame in reversed(traceback.extract_stack()[:-1]):
    if "importlib" not in frame.filename and not frame.filename.startswith("<frozen"):
        _importer = frame.filename
        break
with open(os.environ["FAKE_SPACES_MARKER"], "a", encoding="utf-8") as out:
    out.write(json.dumps({
        "event": "import",
        "importer": _importer,
        "torch": "torch" in sys.modules,
        "transformers": "transformers" in sys.modules,
        "gradio": "gradio" in sys.modules,
    }) + "\\n")
if os.environ.get("FAKE_SPACES_EXIT") == "1":
    raise SystemExit(0)


def GPU(fn=None, *, duration=60):
    with open(os.environ["FAKE_SPACES_MARKER"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"event": "GPU", "fn": getattr(fn, "__name__", None)}) + "\\n")
    return fn if fn is not None else (lambda f: f)
'''


def _run_app_import(
    tmp_path: Path, cache_dir, *, zerogpu: bool, code: str
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    fake = tmp_path / "fake"
    (fake / "spaces").mkdir(parents=True)
    (fake / "spaces" / "__init__.py").write_text(FAKE_SPACES_SOURCE, encoding="utf-8")
    marker = tmp_path / "marker.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in {"SPACES_ZERO_GPU", "SPACE_ID", "PYTHONPATH"}}
    env.update(
        PYTHONPATH=os.pathsep.join([str(fake), str(REPO_ROOT)]),
        FAKE_SPACES_MARKER=str(marker),
        RSDEMO_CACHE_DIR=str(cache_dir),
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    if zerogpu:
        env.update(SPACES_ZERO_GPU="1", FAKE_SPACES_EXIT="1")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    events = [json.loads(line) for line in marker.read_text(encoding="utf-8").splitlines()] if marker.exists() else []
    return proc, events


def test_on_zerogpu_spaces_is_imported_before_torch(tmp_path, cache_dir) -> None:
    proc, events = _run_app_import(tmp_path, cache_dir, zerogpu=True, code="import app\nprint('app imported')")
    assert proc.returncode == 0, proc.stderr
    assert "app imported" not in proc.stdout  # the fake spaces stopped the app right there
    assert len(events) == 1, events
    [event] = events
    assert event["event"] == "import"
    assert Path(event["importer"]).name == "app.py"
    assert event["torch"] is False, "torch was imported before spaces"
    assert event["transformers"] is False, "transformers was imported before spaces"
    assert event["gradio"] is False


def test_off_zerogpu_the_app_never_asks_spaces_for_anything(tmp_path, cache_dir) -> None:
    code = (
        "import app\n"
        "from rsdemo.backend import Backend\n"
        "assert app.backend._run_on_gpu == app.backend.generation.run\n"
        "assert not app.backend.runtime.preload\n"
        "print('app imported', app.backend.runtime.kind)\n"
    )
    proc, events = _run_app_import(tmp_path, cache_dir, zerogpu=False, code=code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "app imported" in proc.stdout
    # gradio itself tries ``import spaces`` (and only uses it on a Space); the app and rsdemo never do
    for event in events:
        assert event["event"] == "import", events  # spaces.GPU is never called
        importer = Path(event["importer"])
        assert importer.name != "app.py" and "rsdemo" not in importer.parts, events
