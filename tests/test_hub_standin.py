"""The real huggingface_hub and transformers client code against the Hub stand-in on 127.0.0.1.

One stand-in and its repos serve the module; each test is pointed at it (offline mode off) by the
function-scoped ``hub`` fixture, with its own empty Hub cache, and every test checks that the client
called no route the stand-in does not know.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hub_standin import HubStandin, TestRepos, add_test_repos, hub_standin


@pytest.fixture(scope="module")
def server() -> Iterator[HubStandin]:
    with HubStandin() as server:
        yield server


@pytest.fixture(scope="module")
def repos(server: HubStandin) -> TestRepos:
    return add_test_repos(server)


@pytest.fixture
def hub(server: HubStandin, repos: TestRepos, tmp_path: Path) -> Iterator[HubStandin]:
    with hub_standin(server, hf_cache=tmp_path / "hf-default-cache") as hub:
        hub.reset_log()
        yield hub
    assert hub.unhandled == [], "the client called routes the stand-in does not serve"


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "hf-cache")


def test_tokenizer_loads_and_encodes_like_the_local_one(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(repos.tokenizer, cache_dir=cache, trust_remote_code=False)

    text = "Hello world! Café 東京 🙂"
    assert tok.encode(text) == repos.local_tokenizer.encode(text)
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<s>", "<|im_end|>", "<pad>")
    assert tok.chat_template == repos.local_tokenizer.chat_template
    assert any(path.endswith("/tokenizer.json") for path in hub.downloads())


def test_a_second_load_from_the_same_cache_downloads_nothing(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(repos.tokenizer, cache_dir=cache)
    assert hub.bytes_served > 0
    hub.reset_log()

    AutoTokenizer.from_pretrained(repos.tokenizer, cache_dir=cache)

    assert hub.downloads() == [] and hub.bytes_served == 0
    assert not any(method == "HEAD" for method, _ in hub.requests)  # the commit is pinned: no file is re-checked
    assert hub.requests  # but the revision is resolved again (model info, tree listings)


def test_causal_lm_loads_with_the_local_logits(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(repos.model, cache_dir=cache)
    model = AutoModelForCausalLM.from_pretrained(repos.model, cache_dir=cache, trust_remote_code=False).eval()
    tok = AutoTokenizer.from_pretrained(repos.model, cache_dir=cache)

    assert config.model_type == "llama" and config.num_hidden_layers == 2
    ids = torch.tensor([tok.encode("The quick brown fox")])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, repos.local_model(ids).logits, rtol=0, atol=0)
    assert model.generation_config.top_k == 20  # generation_config.json came along
    assert any(path.endswith("/model.safetensors") for path in hub.downloads())


@pytest.mark.parametrize("which", ["v1", "v1-sha", "main", "default"])
def test_revision_selects_the_files(hub: HubStandin, repos: TestRepos, cache: str, which: str) -> None:
    from transformers import AutoTokenizer

    stored = hub.repos[repos.revisions]
    revision = {"v1": "v1", "v1-sha": stored.sha("v1"), "main": "main", "default": None}[which]
    expected = repos.v1_tokenizer if which.startswith("v1") else repos.main_tokenizer

    tok = AutoTokenizer.from_pretrained(repos.revisions, revision=revision, cache_dir=cache)

    assert len(tok) == len(expected) and len(repos.v1_tokenizer) != len(repos.main_tokenizer)
    assert tok.encode("<extra_3> Hello") == expected.encode("<extra_3> Hello")
    commit = stored.sha("v1" if which.startswith("v1") else "main")
    assert all(f"/resolve/{commit}/" in path for path in hub.downloads())


def test_model_info_reports_the_overridden_size_and_no_file_moves(hub: HubStandin, repos: TestRepos) -> None:
    from huggingface_hub import HfApi

    info = HfApi().model_info(repos.oversized, files_metadata=True)

    assert info.safetensors is not None and info.safetensors.total == repos.OVERSIZED_PARAMS
    assert info.safetensors.parameters == {"BF16": repos.OVERSIZED_PARAMS}
    sizes = {s.rfilename: s.size for s in info.siblings or []}
    assert sizes["tokenizer.json"] == repos.OVERSIZED_TOKENIZER_BYTES
    stored = hub.repos[repos.oversized].commits[info.sha]
    assert sizes["tokenizer_config.json"] == len(stored["tokenizer_config.json"].data)  # the others are real
    assert hub.requests == [("GET", f"/api/models/{repos.oversized}")] and hub.bytes_served == 0


def test_model_info_computes_safetensors_from_the_weights(hub: HubStandin, repos: TestRepos) -> None:
    import huggingface_hub

    info = huggingface_hub.model_info(repos.model, revision="main")  # the module-level client, built at import

    assert info.sha == hub.repos[repos.model].sha("main")
    assert info.safetensors is not None
    assert info.safetensors.parameters == {"F32": repos.local_model.num_parameters()}
    assert info.siblings is not None and {s.rfilename for s in info.siblings} >= {"config.json", "model.safetensors"}


def test_hub_download_snapshot_and_listing(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    files = hub.repos[repos.model].commits[hub.repos[repos.model].sha()]
    path = hf_hub_download(repos.model, "config.json", cache_dir=cache)
    assert Path(path).read_bytes() == files["config.json"].data

    folder = Path(snapshot_download(repos.model, cache_dir=cache))
    assert {p.name for p in folder.iterdir()} == set(files)
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"].data

    api = HfApi()
    assert api.file_exists(repos.model, "tokenizer.json") and not api.file_exists(repos.model, "nope.json")
    assert sorted(api.list_repo_files(repos.model)) == sorted(files)

    default = Path(hf_hub_download(repos.model, "generation_config.json"))  # no cache_dir: the fixture's hf_cache
    assert default.is_relative_to(Path(cache).parent / "hf-default-cache")


def test_resolve_headers_on_the_wire(hub: HubStandin, repos: TestRepos) -> None:
    import urllib.error
    import urllib.request

    stored = hub.repos[repos.model]
    weights = stored.commits[stored.sha()]["model.safetensors"]
    url = f"{hub.url}/{repos.model}/resolve/main/model.safetensors"
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as head:
        assert head.headers["X-Repo-Commit"] == stored.sha()
        assert head.headers["ETag"] == head.headers["X-Linked-Etag"] == f'"{weights.sha256}"'  # LFS: the sha256
        assert int(head.headers["Content-Length"]) == len(weights.data)
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=100-"})) as tail:
        assert tail.status == 206 and tail.read() == weights.data[100:]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{hub.url}/{repos.model}/resolve/main/nope.json")
    assert missing.value.code == 404 and missing.value.headers["X-Error-Code"] == "EntryNotFound"
    assert missing.value.headers["X-Repo-Commit"] == stored.sha()
    assert hub.bytes_served == len(weights.data) - 100


def test_remote_code_is_refused_without_running_it(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    for auto in (AutoTokenizer, AutoConfig, AutoModelForCausalLM):
        with pytest.raises(ValueError, match="contains custom code which must be executed"):
            auto.from_pretrained(repos.remote_code, cache_dir=cache, trust_remote_code=False)

    assert not any(path.endswith(".py") for path in hub.downloads())


def test_unknown_repos_revisions_and_gates_raise_the_hub_errors(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
    from transformers import AutoTokenizer

    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("nobody/nothing")
    with pytest.raises(OSError, match="is not a valid model identifier"):
        AutoTokenizer.from_pretrained("nobody/nothing", cache_dir=cache)
    with pytest.raises(RevisionNotFoundError):
        HfApi().model_info(repos.tokenizer, revision="no-such-branch")
    with pytest.raises(GatedRepoError):
        hf_hub_download(repos.gated, "tokenizer.json", cache_dir=cache)
    assert HfApi().model_info(repos.gated).gated == "manual"
    assert hub.bytes_served == 0


def test_a_repo_without_tokenizer_files(hub: HubStandin, repos: TestRepos, cache: str) -> None:
    from transformers import AutoTokenizer

    with pytest.raises(ValueError, match="Couldn't instantiate the backend tokenizer"):
        AutoTokenizer.from_pretrained(repos.no_tokenizer, cache_dir=cache)

    missing = [path for (method, path), r in zip(hub.requests, hub.log, strict=True) if r.status == 404]
    assert any(path.endswith("/tokenizer.json") for path in missing)
    assert [path.rsplit("/", 1)[1] for path in hub.downloads()] == ["config.json"]


def test_the_fixture_restores_offline_mode_and_the_endpoint(
    server: HubStandin, repos: TestRepos, tmp_path: Path
) -> None:
    import huggingface_hub
    from huggingface_hub import constants
    from transformers import AutoTokenizer
    from transformers.utils import hub as transformers_hub

    def state() -> tuple[object, ...]:
        return (
            constants.ENDPOINT,
            constants.HUGGINGFACE_CO_URL_TEMPLATE,
            constants.HF_HUB_OFFLINE,
            constants.HF_HUB_CACHE,
            huggingface_hub.hf_api.api.endpoint,
            transformers_hub._hf_api,
            os.environ.get("HF_HUB_OFFLINE"),
            os.environ.get("HF_ENDPOINT"),
        )

    before = state()
    assert constants.HF_HUB_OFFLINE and os.environ["HF_HUB_OFFLINE"] == "1"  # as tests/conftest.py set it
    with hub_standin(server, hf_cache=tmp_path / "hf") as hub:
        assert not huggingface_hub.is_offline_mode() and constants.ENDPOINT == hub.url == os.environ["HF_ENDPOINT"]
        AutoTokenizer.from_pretrained(repos.tokenizer, cache_dir=str(tmp_path / "online"))
    assert state() == before and huggingface_hub.is_offline_mode()

    server.reset_log()
    with pytest.raises(OSError):
        AutoTokenizer.from_pretrained(repos.tokenizer, cache_dir=str(tmp_path / "offline"))
    assert server.requests == []  # offline again: nothing reached the stand-in (or the Hub)
