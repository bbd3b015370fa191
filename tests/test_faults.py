"""Faults: visitors who leave or press Stop, runs past the time limit, loads that fail, damaged or half-built
cache entries, a cache directory that cannot be written. After each, the next request works."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from gradio_client import Client
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo.backend import Backend
from rsdemo.core import disk as disk_module
from rsdemo.core.disk import DiskBudget, build_entry, verify_entry
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.loading import gguf as loading
from rsdemo.loading import load_model_bundle, load_tokenizer
from rsdemo.tokenization.adapters import CharAdapter

pytestmark = pytest.mark.slow
CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)


def _wait(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# --- a server of its own, with a slow tokenizer and the tiny model ------------------------------------------


class SlowChar(CharAdapter):
    """A character tokenizer that takes 0.4 s per text and counts its calls."""

    calls: list[float] = []

    def encode_with_offsets(self, text, *, add_special_tokens, limit=None):
        SlowChar.calls.append(time.monotonic())
        time.sleep(0.4)
        return super().encode_with_offsets(text, add_special_tokens=add_special_tokens, limit=limit)


@pytest.fixture(scope="module")
def model():
    return build_model(build_tokenizer())


@pytest.fixture(scope="module")
def app(settings: Settings, model) -> Iterator[tuple[str, Backend]]:
    from rsdemo.ui import build_demo, configure_queue, launch_options

    tokenizer = build_tokenizer()
    limits = dataclasses.replace(settings, run_time_limit_s=3.0, generation_slots=2)
    backend = Backend(
        settings=limits,
        runtime=CPU,
        tokenizer_loader=lambda name: SlowChar(),
        model_loader=lambda key: tiny_bundle(model, tokenizer, key=key),
    )
    demo = build_demo(backend=backend)
    configure_queue(demo, limits)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, ssr_mode=False, **launch_options()
    )
    yield url.rstrip("/"), backend
    demo.close()


@pytest.fixture
def slow_model(model):
    handle = model.register_forward_hook(lambda *_: time.sleep(0.05))
    yield model
    handle.remove()


def _open_stream(url: str, api: str, data: list) -> tuple[httpx.Client, httpx.Response]:
    """Start an event through Gradio's REST API and open its event stream (closing it is a visitor leaving)."""
    http = httpx.Client(timeout=30)
    event = http.post(f"{url}/gradio_api/call/{api}", json={"data": data}).json()["event_id"]
    stream = http.send(http.build_request("GET", f"{url}/gradio_api/call/{api}/{event}"), stream=True)
    return http, stream


def test_a_visitor_who_leaves_a_comparison_stops_it(app) -> None:
    url, _backend = app
    SlowChar.calls.clear()
    names = ["gpt2", "cl100k_base", "o200k_base", "llama3", "qwen", "byte"]  # all served by SlowChar here
    http, stream = _open_stream(url, "compare", ["a" + " " * 100_000 + "b", names, False])
    lines = stream.iter_lines()
    assert any(line.startswith("event: generating") for line in lines)  # the first tokenizer's view arrived
    stream.close()  # the tab is closed
    http.close()
    left_at = time.monotonic()
    time.sleep(2.0)
    assert 1 <= len(SlowChar.calls) < len(names)  # it stopped between tokenizers instead of running all six
    assert all(t < left_at + 0.6 for t in SlowChar.calls[1:])
    assert Client(url, verbose=False).predict("ok", "char", False, api_name="/tokenize")["ids"]


def test_a_visitor_who_leaves_a_generation_frees_its_worker(app, slow_model) -> None:
    url, backend = app
    http, stream = _open_stream(
        url, "generate", ["Hello world", TINY_KEY, "greedy", {"max_new_tokens": 100}, True, "", ""]
    )
    lines = stream.iter_lines()
    assert any(line.startswith("event: generating") for line in lines)
    assert backend.running == 1
    stream.close()
    http.close()
    assert _wait(lambda: backend.running == 0), "the generation kept running after its visitor left"
    assert _wait(lambda: not [t for t in threading.enumerate() if t.name == "rsdemo-generate"])
    final = (
        Client(url, verbose=False)
        .submit("hi", TINY_KEY, "greedy", {"max_new_tokens": 3}, True, "", api_name="/generate")
        .result()
    )
    assert final["done"] and len(final["tokens"]) == 3


def test_cancel_through_the_api_frees_the_worker(app, slow_model) -> None:
    url, backend = app
    client = Client(url, verbose=False)
    job = client.submit("Hello world", TINY_KEY, "greedy", {"max_new_tokens": 100}, True, "", api_name="/generate")
    assert _wait(lambda: backend.running == 1)
    time.sleep(0.3)
    job.cancel()
    assert _wait(lambda: backend.running == 0), "cancel left the generation running"
    final = client.submit("hi", TINY_KEY, "greedy", {"max_new_tokens": 3}, True, "", api_name="/generate").result()
    assert final["done"] and len(final["tokens"]) == 3


def test_the_time_limit_ends_a_run_and_frees_the_worker(app, slow_model) -> None:
    url, backend = app
    final = (
        Client(url, verbose=False)
        .submit("Hello", TINY_KEY, "greedy", {"max_new_tokens": 120}, True, "", api_name="/generate")
        .result()
    )
    assert final["finish_reason"].startswith("time limit") and 0 < len(final["tokens"]) < 120
    assert _wait(lambda: backend.running == 0)


# --- loads that fail --------------------------------------------------------------------------------------


def test_a_model_that_fails_to_load_leaves_the_cache_consistent(settings: Settings, model) -> None:
    tokenizer = build_tokenizer()
    attempts: list[str] = []

    def flaky(key: str):
        attempts.append(key)
        if len(attempts) == 1:
            raise OSError("the disk went away")
        return tiny_bundle(model, tokenizer, key=key)

    backend = Backend(settings=settings, runtime=CPU, model_loader=flaky)
    with pytest.raises(OSError):
        list(backend.generate(model=TINY_KEY, prompt="hi"))
    assert backend.running == 0 and backend.models.cache.pending == 0 and not backend.model_loaded(TINY_KEY)
    *_, final = backend.generate(model=TINY_KEY, prompt="hi", params={"max_new_tokens": 2})
    assert len(final.tokens) == 2 and attempts == [TINY_KEY, TINY_KEY]


# --- the cache on disk ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gguf_tokenizer_json(settings: Settings) -> str:
    """The SmolLM2 tokenizer read out of its GGUF once (the real path); tests below reread it from this."""
    return load_tokenizer(key="smollm2", settings=settings).tokenizer.to_str()


@pytest.fixture
def quick_gguf(monkeypatch, gguf_tokenizer_json: str) -> list[str]:
    """Reading the tokenizer out of the GGUF file (10 s) stands in with the same tokenizer from memory."""
    import tokenizers

    reads: list[str] = []

    def read(source: Path):
        reads.append(source.name)
        return tokenizers.Tokenizer.from_str(gguf_tokenizer_json)

    monkeypatch.setattr(loading, "_read_gguf_tokenizer", read)
    return reads


def test_a_damaged_built_tokenizer_is_detected_and_rebuilt(tmp_path: Path, quick_gguf: list[str]) -> None:
    settings = Settings(cache_dir=tmp_path, hub_offline=True)
    first = load_tokenizer(key="smollm2", settings=settings)
    built = tmp_path / "tokenizers" / "smollm2" / "tokenizer.json"
    size = built.stat().st_size
    built.write_bytes(built.read_bytes()[: size // 2])  # truncated
    assert not verify_entry(built.parent)
    messages: list[str] = []
    again = load_tokenizer(key="smollm2", settings=settings, progress=messages.append)
    assert messages and "first time" in messages[0] and len(quick_gguf) == 2  # it was built again
    assert built.stat().st_size == size and verify_entry(built.parent)
    assert again.encode("Hello world", add_special_tokens=False) == first.encode(
        "Hello world", add_special_tokens=False
    )
    raw = bytearray(built.read_bytes())  # same size, one byte changed: the hash catches it
    raw[100] ^= 0x01
    built.write_bytes(bytes(raw))
    assert not verify_entry(built.parent)


def test_a_damaged_converted_checkpoint_is_converted_again(tmp_path: Path, model, monkeypatch) -> None:
    settings = Settings(cache_dir=tmp_path, hub_offline=True)
    tokenizer = build_tokenizer()
    conversions: list[str] = []

    def fake_gguf(source):  # stands for the 30 s dequantisation of the real GGUF file
        conversions.append(source.name)
        return model, tokenizer

    monkeypatch.setattr(loading, "_load_gguf", fake_gguf)
    bundle = load_model_bundle(key="smollm2-135m-instruct", runtime=CPU, settings=settings)
    ids = torch.tensor([[5, 6, 7]])
    with torch.inference_mode():
        expected = bundle.model(ids).logits
    del bundle  # its weights may be mapped from the file that is damaged below
    folder = tmp_path / "models" / "smollm2-135m-instruct"
    assert conversions == ["SmolLM2-135M-Instruct.Q4_1.gguf"] and verify_entry(folder)
    load_model_bundle(key="smollm2-135m-instruct", runtime=CPU, settings=settings)
    assert len(conversions) == 1  # a good entry is reused
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated by a full disk, say
    again = load_model_bundle(key="smollm2-135m-instruct", runtime=CPU, settings=settings)
    assert len(conversions) == 2 and verify_entry(folder)
    with torch.inference_mode():
        torch.testing.assert_close(again.model(ids).logits, expected)


_KILLED_BUILD = """
import sys, time
from pathlib import Path
from rsdemo.core.disk import build_entry

def slow(folder):
    (folder / "model.safetensors").write_bytes(b"x" * 1_000_000)
    print("writing", flush=True)
    time.sleep(60)

build_entry(Path(sys.argv[1]), slow)
"""


def test_a_build_killed_halfway_leaves_no_entry_and_the_next_build_is_clean(tmp_path: Path) -> None:
    target = tmp_path / "models" / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert not target.exists()  # never half an entry under the real name
    debris = [p for p in target.parent.iterdir() if p.name.endswith(".staging")]
    assert len(debris) == 1
    budget = DiskBudget(tmp_path, max_bytes=10**9)
    assert budget.clean_debris(older_than_s=0) == debris and not debris[0].exists()
    build_entry(target, lambda folder: (folder / "model.safetensors").write_bytes(b"ok"))
    assert verify_entry(target) and json.loads((target / "manifest.json").read_text())["files"]


@pytest.mark.parametrize("failure", [errno.EROFS, errno.ENOSPC], ids=["read-only", "full"])
def test_a_cache_that_cannot_be_written_only_costs_speed(
    tmp_path: Path, model, monkeypatch, failure: int, quick_gguf: list[str]
) -> None:
    settings = Settings(cache_dir=tmp_path, hub_offline=True)

    def refuse(target, build):
        raise OSError(failure, os.strerror(failure), str(target))

    monkeypatch.setattr(loading, "build_entry", refuse)
    engine = load_tokenizer(key="smollm2", settings=settings)  # built in memory
    assert engine.encode("Hello world", add_special_tokens=False) == [19556, 905]
    monkeypatch.setattr(loading, "_load_gguf", lambda source: (model, build_tokenizer()))
    bundle = load_model_bundle(key="smollm2-135m-instruct", runtime=CPU, settings=settings)
    assert bundle.model is model
    assert not (tmp_path / "models" / "smollm2-135m-instruct").exists()
    assert not list(tmp_path.rglob("manifest.json"))


def test_the_disk_budget_deletes_least_recently_used_entries_not_in_use(tmp_path: Path) -> None:
    for n, name in enumerate(["old", "mid", "new"]):
        entry = build_entry(tmp_path / "models" / name, lambda f: (f / "w.bin").write_bytes(b"x" * 1000))
        os.utime(entry, (1000 + n, 1000 + n))
    in_use = [tmp_path / "models" / "old"]
    budget = DiskBudget(tmp_path, max_bytes=3500, in_use=lambda: in_use)  # about 1,150 bytes an entry
    removed = budget.make_room(1000)
    assert removed == [tmp_path / "models" / "mid"]  # "old" is in use; "mid" is the least recently used idle one
    assert {p.name for p in (tmp_path / "models").iterdir()} == {"old", "new"}
    assert disk_module.verify_entry(tmp_path / "models" / "new")
