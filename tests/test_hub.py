"""The Hub path for real: rsdemo's loading code and the real huggingface_hub / transformers clients against
the Hub stand-in on 127.0.0.1 (``tests/hub_standin.py``), with repos built in the test session.

Loading, the size guards (checked before any byte is downloaded), the remote-code refusal, ``@rev``, the
on-disk cache, eviction from memory, the disk budget and the operator's switch all run through the real
client code; only the network is a loopback server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hub_standin import HubStandin, TestRepos, add_test_repos, hub_standin, saved_files

from rsdemo.backend import Backend
from rsdemo.core.errors import CapacityError, HubLoadError, HubUnavailableError
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.loading import hub_cache_dir

CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)
LEAKS = ("http://", "https://", "127.0.0.1", "/tmp", "Traceback", "Error:")


@pytest.fixture(scope="module")
def server() -> Iterator[HubStandin]:
    with HubStandin() as server:
        yield server


@pytest.fixture(scope="module")
def repos(server: HubStandin) -> TestRepos:
    repos = add_test_repos(server)
    files = saved_files(repos.local_tokenizer, repos.local_model)
    config = json.loads(files["config.json"])
    remote = dict(
        config,
        model_type="rsdemo-custom",
        auto_map={"AutoConfig": "custom.Config", "AutoModelForCausalLM": "custom.Model"},
    )
    params = sum(p.numel() for p in repos.local_model.parameters())
    server.add_repo(
        "rsdemo-tests/remote-code-model",
        files | {"config.json": json.dumps(remote).encode(), "custom.py": b"raise RuntimeError('ran')\n"},
        safetensors_total=params,
    )
    unknown = dict(config, model_type="rsdemo-unknown")
    server.add_repo(
        "rsdemo-tests/unknown-architecture",
        files | {"config.json": json.dumps(unknown).encode()},
        safetensors_total=params,
    )
    return repos


@pytest.fixture
def hub(server: HubStandin, repos: TestRepos, tmp_path: Path) -> Iterator[HubStandin]:
    with hub_standin(server, hf_cache=tmp_path / "default-hf-cache") as hub:
        hub.reset_log()
        yield hub
    assert hub.unhandled == []
    assert not (tmp_path / "default-hf-cache").exists()  # rsdemo downloads into its own cache only


def _backend(tmp_path: Path, **overrides) -> Backend:
    settings = Settings(cache_dir=tmp_path / "rsdemo-cache", hub_offline=False, **overrides)
    return Backend(settings=settings, runtime=CPU)


def _clear(message: str) -> None:
    assert not any(leak in message for leak in LEAKS), message


# --- tokenizers -------------------------------------------------------------------------------------------


def test_a_hub_tokenizer_tokenizes_like_the_local_one(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    text = "Hello world! Café 東京 🙂"
    result = backend.tokenize(text=text, tokenizer=repos.tokenizer)
    assert result.ids == repos.local_tokenizer.encode(text)
    assert "".join(s.text for s in result.segments) == text
    assert any(p.endswith("/tokenizer.json") for p in hub.downloads())
    assert (hub_cache_dir(backend.settings) / "models--rsdemo-tests--tiny-tokenizer").is_dir()


def test_a_revision_selects_its_files(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    main = backend.tokenize(text="hi", tokenizer=repos.revisions)
    v1 = backend.tokenize(text="hi", tokenizer=f"{repos.revisions}@v1")
    assert main.info.vocab_size == len(repos.main_tokenizer) and v1.info.vocab_size == len(repos.v1_tokenizer)
    plain = {"add_special_tokens": False}
    assert main.ids == repos.main_tokenizer.encode("hi", **plain) and v1.ids == repos.v1_tokenizer.encode("hi", **plain)
    with pytest.raises(HubLoadError, match="has no revision 'nope'") as err:
        backend.tokenize(text="hi", tokenizer=f"{repos.revisions}@nope")
    _clear(str(err.value))


def test_an_oversized_tokenizer_is_refused_before_any_download(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(HubLoadError, match="at most 64 MiB") as err:
        backend.tokenize(text="hi", tokenizer=repos.oversized)
    _clear(str(err.value))
    assert hub.downloads() == [] and hub.bytes_served == 0


@pytest.mark.parametrize(
    ("repo", "message"),
    [
        ("remote_code", "never runs code"),
        ("no_tokenizer", "has no tokenizer files"),
        ("gated", "is gated"),
    ],
)
def test_unusable_tokenizer_repos_get_clear_messages(hub, repos, tmp_path, repo: str, message: str) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(HubLoadError, match=message) as err:
        backend.tokenize(text="hi", tokenizer=getattr(repos, repo))
    _clear(str(err.value))
    assert not any(p.endswith(".py") for p in hub.downloads())
    assert backend.tokenize(text="still serving", tokenizer="gpt2").ids  # and the backend keeps serving


def test_an_unknown_repo_says_so(hub, tmp_path) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(HubLoadError, match="no repository 'nobody/nothing'") as err:
        backend.tokenize(text="hi", tokenizer="nobody/nothing")
    _clear(str(err.value))


def test_a_tokenizer_evicted_from_memory_reloads_from_disk(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path, max_tokenizers=1)
    backend.tokenize(text="hi", tokenizer=repos.tokenizer)
    backend.tokenize(text="hi", tokenizer="byte")  # evicts the Hub tokenizer from memory
    assert repos.tokenizer not in backend.tokenization.cache.keys()
    hub.reset_log()
    assert backend.tokenize(text="hi", tokenizer=repos.tokenizer).ids == repos.local_tokenizer.encode("hi")
    assert hub.downloads() == [] and hub.bytes_served == 0  # from rsdemo's Hub cache on disk


def test_the_disk_budget_deletes_the_least_recently_used_downloads(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path, max_tokenizers=2, max_disk_mb=0)  # every new download needs room
    backend.tokenize(text="hi", tokenizer=repos.tokenizer)
    first = hub_cache_dir(backend.settings) / "models--rsdemo-tests--tiny-tokenizer"
    assert first.is_dir()
    backend.tokenize(text="hi", tokenizer=repos.revisions)  # the first is still loaded: kept
    assert first.is_dir()
    backend.tokenize(text="hi", tokenizer=f"{repos.revisions}@v1")  # the first left memory for it: deleted
    assert not first.is_dir()
    assert (hub_cache_dir(backend.settings) / "models--rsdemo-tests--two-revisions").is_dir()  # in use


def test_the_operator_can_switch_the_hub_off(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path, hub=False)
    for call in (
        lambda: backend.tokenize(text="hi", tokenizer=repos.tokenizer),
        lambda: list(backend.generate(model=repos.model, prompt="hi")),
    ):
        with pytest.raises(HubUnavailableError, match="switched off on this server"):
            call()
    assert hub.requests == []  # not even a metadata request
    assert backend.tokenize(text="hi", tokenizer="gpt2").ids == [5303]


# --- models -------------------------------------------------------------------------------------------------


def test_a_hub_model_generates_like_the_local_one(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    *_, final = backend.generate(model=repos.model, prompt="Hello world", method="greedy", params={"max_new_tokens": 5})
    prompt_ids = torch.tensor([list(final.prompt.ids)])
    with torch.inference_mode():
        expected = repos.local_model.generate(
            prompt_ids, attention_mask=torch.ones_like(prompt_ids), do_sample=False, max_new_tokens=5
        )
    assert [t.id for t in final.tokens] == expected[0, prompt_ids.shape[1] :].tolist()
    assert any(p.endswith("model.safetensors") for p in hub.downloads())
    assert "revision" not in final.code and repr(repos.model) in final.code


def test_an_oversized_model_is_refused_before_any_download(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(HubLoadError, match="at most 1,600M") as err:
        list(backend.generate(model=repos.oversized, prompt="hi"))
    _clear(str(err.value))
    assert hub.downloads() == [] and hub.bytes_served == 0


def test_a_model_over_the_memory_bound_is_refused_before_any_download(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path, max_model_mb=0)
    with pytest.raises(CapacityError, match="keeps at most 0 MiB"):
        list(backend.generate(model=repos.model, prompt="hi"))
    assert hub.downloads() == []


def test_a_model_that_needs_remote_code_is_refused(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(HubLoadError, match="never runs code") as err:
        list(backend.generate(model="rsdemo-tests/remote-code-model", prompt="hi"))
    _clear(str(err.value))
    assert not any(p.endswith(".py") for p in hub.downloads())


def test_an_unknown_architecture_says_so(hub, repos, tmp_path) -> None:
    backend = _backend(tmp_path)
    with pytest.raises(HubLoadError, match="of type 'rsdemo-unknown'") as err:
        list(backend.generate(model="rsdemo-tests/unknown-architecture", prompt="hi"))
    _clear(str(err.value))


def test_a_model_at_a_revision_reproduces_with_revision_keyword(hub, repos, tmp_path, server) -> None:
    files = saved_files(repos.local_tokenizer, repos.local_model)
    params = sum(p.numel() for p in repos.local_model.parameters())
    server.add_repo(
        "rsdemo-tests/llama-at-rev",
        {"README.md": b"main has no weights\n"},
        extra_revisions={"v2": files},
        safetensors_total=params,
    )
    backend = _backend(tmp_path)
    *_, final = backend.generate(model="rsdemo-tests/llama-at-rev@v2", prompt="hi", params={"max_new_tokens": 2})
    assert len(final.tokens) == 2
    assert "from_pretrained('rsdemo-tests/llama-at-rev', revision='v2'" in final.code
    assert "@v2" not in final.code
