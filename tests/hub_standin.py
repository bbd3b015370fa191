"""A Hugging Face Hub stand-in on 127.0.0.1, so tests run the *real* Hub client code with no network.

``HubStandin`` is a threaded HTTP server holding repositories in memory. It answers the part of the Hub
HTTP API that ``huggingface_hub`` 2.4 (``HfApi.model_info``, ``hf_hub_download``, ``snapshot_download``,
``list_repo_tree``, ``file_exists``) and transformers 5.24 (``AutoTokenizer`` / ``AutoConfig`` /
``AutoModelForCausalLM.from_pretrained``) call, with the Hub's headers and error codes::

    GET  /api/models/{repo}[/revision/{rev}][?blobs=true]   model info: sha, siblings (+ sizes), safetensors
    GET  /api/models/{repo}/tree/{rev}[/{path}]             tree listing (recursive=, expand= accepted)
    HEAD /{repo}/resolve/{rev}/{path}                       ETag, X-Repo-Commit, Content-Length (+ X-Linked-*)
    GET  /{repo}/resolve/{rev}/{path}                       the file (Range: bytes=N- honoured)

Errors as the Hub sends them: unknown repo -> 404 ``X-Error-Code: RepoNotFound`` (RepositoryNotFoundError),
unknown revision -> 404 ``RevisionNotFound``, missing file -> 404 ``EntryNotFound`` *with* ``X-Repo-Commit``
(so the client caches the miss in ``.no_exist``), gated repo -> 401 ``GatedRepo`` on file downloads only
(model info and tree listing stay readable, as on the Hub). Any other route answers 404 and is recorded
in ``server.unhandled``. Differences from the Hub, on purpose: no 302 to a CDN (LFS files are served
directly, with ``ETag`` = ``X-Linked-Etag`` = their sha256), no Xet headers (so the plain HTTP download
path runs), 404 instead of 401 for unknown repos (both raise ``RepositoryNotFoundError``).

Usage (``tests/test_hub_standin.py`` keeps one server per module and patches per test)::

    with hub_standin() as hub:                       # starts a stand-in, patches the clients, undoes it all
        repos = add_test_repos(hub)                  # the test repos (see ``TestRepos``), built in < 1 s
        tok = AutoTokenizer.from_pretrained(repos.tokenizer, cache_dir=tmp)
        assert hub.downloads() == [...]              # request log: hub.requests, hub.log, hub.bytes_served

What the clients call (transformers 5.24): every ``from_pretrained`` of a repo id first resolves the revision
to a commit (``GET /api/models/{repo}[/revision/{rev}]``), then HEADs each candidate file at that commit
(404 for the optional ones) and GETs the bodies it lacks. ``AutoTokenizer`` also lists
``tree/{rev}/additional_chat_templates`` (404 when absent) and the whole tree (``recursive=true``), and
HEADs ``config.json``, ``tokenizer_config.json``, ``tokenizer.json``, ``tokenizer.model``, ``added_tokens.json``,
``special_tokens_map.json``, ``chat_template.jinja``. ``snapshot_download`` reads the model info at
``/revision/main``, the recursive tree at the commit, then HEAD + GET per file. A load repeated with the same
``cache_dir`` sends only the model-info and tree requests: no HEAD, no file GET.

How the client is pointed at the stand-in (what was found in huggingface_hub 2.4 / transformers 5.24):

- ``huggingface_hub.constants`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` *once, at import*; the project's
  ``tests/conftest.py`` sets ``HF_HUB_OFFLINE=1`` before anything imports it, so setting environment variables
  later changes nothing. What is read at call time is the module attribute, so ``hub_standin`` patches:
  ``constants.ENDPOINT``; ``constants.HUGGINGFACE_CO_URL_TEMPLATE`` (``hf_hub_url`` formats *this*, not
  ``ENDPOINT``: patching only ``ENDPOINT`` sends downloads to huggingface.co); ``constants.HF_HUB_OFFLINE``
  (``is_offline_mode()``, which transformers calls everywhere, and the request hook that raises
  ``OfflineModeIsEnabled``, both read it at call time; transformers caches no offline flag of its own).
- Objects built at import keep the old endpoint: ``huggingface_hub.hf_api.api`` (behind the module-level
  ``huggingface_hub.model_info``, ``list_repo_tree``, ...) gets its ``endpoint`` attribute patched, and
  transformers' lazily built shared ``transformers.utils.hub._hf_api`` (used for ``resolve_revision``,
  ``list_repo_tree``, ``list_repo_files``, ``model_info``) is reset to None so it is rebuilt against the stand-in.
  An ``HfApi()`` a test built *before* entering keeps its endpoint: build clients inside.
- ``huggingface_hub.utils._detect_agent._registry``: with offline mode off, the first request header built
  in the process would GET ``{ENDPOINT}/api/agent-harnesses`` and write ``~/.cache/huggingface/
  .agent_harnesses.json``; the registry is pinned to the empty one while the stand-in is active.
- Optionally ``constants.HF_HUB_CACHE`` (``hf_cache=``), for code that passes no ``cache_dir``.
- The environment too (``HF_ENDPOINT``, ``HF_HUB_OFFLINE=0``, no ``TRANSFORMERS_OFFLINE``), for code that reads
  it at call time (``rsdemo.core.settings.Settings.from_env``) and for subprocesses.

Everything goes through one ``pytest.MonkeyPatch`` and is undone on exit, in any fixture scope.
Not patched: ``huggingface_hub.constants.HF_URL_HOSTS`` and ``utils._http._HUB_ORIGINS`` (only used to decide
where auth headers follow redirects; the stand-in never redirects).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import struct
import tempfile
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf", ".model", ".msgpack", ".h5")
_TIMESTAMP = "2024-01-01T00:00:00.000Z"
_REPO = r"(?P<repo>[^/]+(?:/[^/]+)?)"  # "owner/name", or a legacy one-part id such as "gpt2"
_ROUTES = {
    "info": re.compile(rf"^/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?$"),
    "tree": re.compile(rf"^/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$"),
    "resolve": re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"),
}


# --- repositories ---------------------------------------------------------------------------------------


def git_blob_sha(data: bytes) -> str:
    """The git object id of a file, which the Hub sends as the ETag of a non-LFS file.

    >>> git_blob_sha(b"")
    'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
    """
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def count_safetensors_parameters(data: bytes) -> dict[str, int]:
    """Count the parameters per dtype in a safetensors file from its header, as the Hub's ``safetensors`` field.

    >>> header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}).encode()
    >>> count_safetensors_parameters(struct.pack("<Q", len(header)) + header + bytes(24))
    {'F32': 6}
    """
    (length,) = struct.unpack("<Q", data[:8])
    counts: dict[str, int] = {}
    for name, tensor in json.loads(data[8 : 8 + length]).items():
        if name != "__metadata__":
            n = 1
            for dim in tensor["shape"]:
                n *= dim
            counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + n
    return counts


@dataclasses.dataclass(frozen=True)
class StoredFile:
    """One file of a commit, with the ids the Hub reports for it."""

    data: bytes
    blob_id: str  # git blob sha1
    sha256: str
    lfs: bool

    @classmethod
    def of(cls, path: str, data: bytes) -> StoredFile:
        return cls(data, git_blob_sha(data), hashlib.sha256(data).hexdigest(), path.endswith(LFS_SUFFIXES))

    @property
    def etag(self) -> str:
        """What the Hub sends as ETag: the sha256 for an LFS file, the git blob id otherwise."""
        return self.sha256 if self.lfs else self.blob_id


@dataclasses.dataclass
class StoredRepo:
    """A model repo: refs (branches and tags) pointing at commits, each commit a set of files.

    Attributes:
        repo_id: ``owner/name``.
        refs: ref name (``main``, a tag, ``refs/pr/1``) -> commit sha.
        commits: commit sha -> {path: file}.
        safetensors: the ``safetensors`` field of the model info, or None for none.
        reported_sizes: sizes to report in the model info and tree listing instead of the real ones.
        gated: file downloads answer 401 ``GatedRepo``.
    """

    repo_id: str
    refs: dict[str, str]
    commits: dict[str, dict[str, StoredFile]]
    safetensors: dict[str, Any] | None
    reported_sizes: dict[str, int]
    gated: bool

    def sha(self, revision: str = "main") -> str:
        """The commit sha of a ref (or of a sha); KeyError for neither."""
        return revision if revision in self.commits else self.refs[revision]

    def resolve(self, revision: str | None) -> str | None:
        """The commit sha of a ref or a full sha, or None when the repo has no such revision."""
        revision = revision or "main"
        if revision in self.refs:
            return self.refs[revision]
        return revision if revision in self.commits else None

    def size(self, path: str, file: StoredFile) -> int:
        return self.reported_sizes.get(path, len(file.data))


def _commit_sha(repo_id: str, files: Mapping[str, StoredFile]) -> str:
    listing = "\n".join(f"{path} {f.blob_id}" for path, f in sorted(files.items()))
    return hashlib.sha1(f"{repo_id}\n{listing}".encode()).hexdigest()


def _default_safetensors(files: Mapping[str, StoredFile]) -> dict[str, Any] | None:
    """The Hub's ``safetensors`` field, computed from the safetensors headers (None when there are none)."""
    counts: dict[str, int] = {}
    for path, f in files.items():
        if path.endswith(".safetensors"):
            for dtype, n in count_safetensors_parameters(f.data).items():
                counts[dtype] = counts.get(dtype, 0) + n
    return {"parameters": counts, "total": sum(counts.values())} if counts else None


# --- the HTTP server ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Closing must not wait for the threads of keep-alive connections that the client's pool still holds."""

    daemon_threads = True
    block_on_close = False


@dataclasses.dataclass(frozen=True)
class LoggedRequest:
    """One request the stand-in answered: ``body_bytes`` counts file bytes sent by a resolve GET."""

    method: str
    path: str
    query: str
    status: int
    body_bytes: int = 0
    handled: bool = True  # False: no such route in the stand-in (the 404 is not the Hub's)


class HubStandin:
    """A Hub on ``http://127.0.0.1:{port}`` serving in-memory repos; start with ``with`` or ``start()``.

    Attributes:
        url: the endpoint, e.g. ``http://127.0.0.1:41234``.
        log: every request, in order (``LoggedRequest``).
        repos: repo id -> ``StoredRepo``.
    """

    def __init__(self) -> None:
        self.repos: dict[str, StoredRepo] = {}
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # lifecycle
    def start(self) -> HubStandin:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="hub-standin")
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HubStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # repos
    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        extra_revisions: Mapping[str, Mapping[str, bytes]] | None = None,
        safetensors_total: int | None = None,
        safetensors_parameters: Mapping[str, int] | None = None,
        reported_sizes: Mapping[str, int] | None = None,
        gated: bool = False,
    ) -> StoredRepo:
        """Publish a repo: ``files`` on ``main``, each of ``extra_revisions`` (a tag or branch name) on its own commit.

        Args:
            repo_id: ``owner/name``.
            files: path -> content of the ``main`` branch.
            extra_revisions: ref name -> files; every ref also resolves by its commit sha (``repo.sha(ref)``).
            safetensors_total: the ``safetensors.total`` the model info claims (e.g. 70e9 without a 70B file).
            safetensors_parameters: the ``safetensors.parameters`` it claims (default ``{"BF16": total}``).
            reported_sizes: path -> size claimed by the model info siblings and the tree listing.
            gated: downloads answer 401 ``GatedRepo``; model info says ``gated: "manual"``.

        Returns:
            The stored repo (its ``sha(ref)`` gives commit shas). Adding an existing id replaces it.
        """
        refs: dict[str, str] = {}
        commits: dict[str, dict[str, StoredFile]] = {}
        for ref, content in {"main": files, **(extra_revisions or {})}.items():
            stored = {path: StoredFile.of(path, data) for path, data in content.items()}
            refs[ref] = _commit_sha(repo_id, stored)
            commits[refs[ref]] = stored
        safetensors = _default_safetensors(commits[refs["main"]])
        if safetensors_total is not None or safetensors_parameters is not None:
            parameters = dict(safetensors_parameters or {"BF16": int(safetensors_total or 0)})
            total = int(safetensors_total) if safetensors_total is not None else sum(parameters.values())
            safetensors = {"parameters": parameters, "total": total}
        repo = StoredRepo(repo_id, refs, commits, safetensors, dict(reported_sizes or {}), gated)
        with self._lock:
            self.repos[repo_id] = repo
        return repo

    # request log
    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request, in order (path without the query string)."""
        with self._lock:
            return [(r.method, r.path) for r in self.log]

    @property
    def bytes_served(self) -> int:
        """File bytes sent by resolve GETs (the bodies of downloads; metadata JSON is not counted)."""
        with self._lock:
            return sum(r.body_bytes for r in self.log)

    def downloads(self) -> list[str]:
        """Paths of the resolve GETs that sent a file body (what was actually downloaded), in order."""
        with self._lock:
            return [r.path for r in self.log if r.method == "GET" and "/resolve/" in r.path and r.status < 300]

    @property
    def unhandled(self) -> list[tuple[str, str]]:
        """Requests to routes the stand-in does not know (a client calling an endpoint it should learn)."""
        with self._lock:
            return [(r.method, r.path) for r in self.log if not r.handled]

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)


@dataclasses.dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    is_file: bool = False


def _error(status: int, code: str | None, message: str, commit: str | None = None) -> _Reply:
    headers = {"Content-Type": "application/json", "X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    if commit:
        headers["X-Repo-Commit"] = commit
    return _Reply(status, headers, json.dumps({"error": message}).encode())


def _json(payload: Any) -> _Reply:
    return _Reply(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())


def _model_info(repo: StoredRepo, sha: str, *, blobs: bool) -> dict[str, Any]:
    files = repo.commits[sha]
    siblings = []
    for path, f in sorted(files.items()):
        sibling: dict[str, Any] = {"rfilename": path}
        if blobs:
            size = repo.size(path, f)
            sibling |= {"blobId": f.blob_id, "size": size}
            if f.lfs:
                sibling["lfs"] = {"size": size, "sha256": f.sha256, "pointerSize": 134}
        siblings.append(sibling)
    config: dict[str, Any] = {}
    if "config.json" in files:
        raw = json.loads(files["config.json"].data)
        config = {k: raw[k] for k in ("architectures", "model_type", "auto_map") if k in raw}
    info: dict[str, Any] = {
        "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
        "id": repo.repo_id,
        "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0],
        "sha": sha,
        "lastModified": _TIMESTAMP,
        "createdAt": _TIMESTAMP,
        "private": False,
        "gated": "manual" if repo.gated else False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "library_name": "transformers",
        "tags": ["transformers", "safetensors"] if repo.safetensors else ["transformers"],
        "config": config,
        "siblings": siblings,
        "usedStorage": sum(repo.size(p, f) for p, f in files.items()),
    }
    if repo.safetensors is not None:
        info["safetensors"] = repo.safetensors
    return info


def _tree(repo: StoredRepo, sha: str, folder: str, *, recursive: bool) -> list[dict[str, Any]] | None:
    """The tree listing of ``folder`` ('' for the root), or None when the folder does not exist."""
    prefix = f"{folder}/" if folder else ""
    entries: dict[str, dict[str, Any]] = {}
    for path, f in sorted(repo.commits[sha].items()):
        if not path.startswith(prefix):
            continue
        parts = PurePosixPath(path[len(prefix) :]).parts
        for depth in range(1, len(parts)):  # the folders on the way
            sub = prefix + "/".join(parts[:depth])
            if depth == 1 or recursive:
                folder_entry = {"type": "directory", "oid": git_blob_sha(sub.encode()), "size": 0, "path": sub}
                entries.setdefault(sub, folder_entry)
        if len(parts) == 1 or recursive:
            entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": repo.size(path, f), "path": path}
            if f.lfs:
                entry["lfs"] = {"oid": f.sha256, "size": repo.size(path, f), "pointerSize": 134}
            entries[path] = entry
    if folder and not entries:
        return None
    return [entries[k] for k in sorted(entries)]


def _route(
    hub: HubStandin, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
) -> _Reply | None:
    """Answer one request, or None for a route the stand-in does not know."""
    if method == "GET" and path == "/api/agent-harnesses":
        # huggingface_hub's user-agent code asks for this once a day (cached in HF_HOME); a child process the
        # app starts (the decode worker) inherits HF_ENDPOINT and asks here: the empty registry, as offline
        return _json({"standardEnvVars": [], "harnesses": {}})
    kind, match = next(((k, m) for k, r in _ROUTES.items() if (m := r.match(path))), (None, None))
    if match is None or (kind != "resolve" and method != "GET"):
        return None
    repo = hub.repos.get(unquote(match["repo"]))
    if repo is None:
        return _error(404, "RepoNotFound", "Repository not found")
    revision = unquote(match["rev"]) if match["rev"] else None
    sha = repo.resolve(revision)
    if sha is None:
        return _error(404, "RevisionNotFound", "Invalid rev id: " + str(revision))
    if kind == "info":
        return _json(_model_info(repo, sha, blobs=query.get("blobs", ["false"])[0].lower() == "true"))
    if kind == "tree":
        folder = unquote(match["path"] or "").strip("/")
        listing = _tree(repo, sha, folder, recursive=query.get("recursive", ["false"])[0].lower() == "true")
        if listing is None:
            return _error(404, "EntryNotFound", f"{folder} does not exist on {revision}", commit=sha)
        return _json(listing)
    # resolve
    if repo.gated:
        message = f"Access to model {repo.repo_id} is restricted. You must have access to it and be authenticated."
        return _error(401, "GatedRepo", message)
    filename = unquote(match["path"])
    f = repo.commits[sha].get(filename)
    if f is None:
        return _error(404, "EntryNotFound", "Entry not found", commit=sha)
    reply_headers = {
        "Content-Type": "application/octet-stream",
        "ETag": f'"{f.etag}"',
        "X-Repo-Commit": sha,
        "Accept-Ranges": "bytes",
    }
    if f.lfs:
        reply_headers |= {"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(len(f.data))}
    start = _range_start(headers.get("Range"))
    if start and start < len(f.data):
        reply_headers["Content-Range"] = f"bytes {start}-{len(f.data) - 1}/{len(f.data)}"
        return _Reply(206, reply_headers, f.data[start:], is_file=True)
    return _Reply(200, reply_headers, f.data, is_file=True)


def _range_start(value: str | None) -> int:
    """The first byte of a ``Range: bytes=N-`` header (0 when absent or of another form)."""
    match = re.fullmatch(r"bytes=(\d+)-", value or "")
    return int(match[1]) if match else 0


def _make_handler(hub: HubStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
        timeout = 60  # an idle kept-alive connection's thread ends after this

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer("POST")

        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            reply = _route(hub, method, parts.path, parse_qs(parts.query), self.headers)
            handled = reply is not None
            if reply is None:
                reply = _error(404, None, f"stand-in: no route for {method} {parts.path}")
            sent = len(reply.body) if method == "GET" and reply.is_file else 0
            hub._record(LoggedRequest(method, parts.path, parts.query, reply.status, sent, handled))
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

    return Handler


# --- pointing the client at it ----------------------------------------------------------------------------


@contextlib.contextmanager
def hub_standin(
    server: HubStandin | None = None, *, hf_cache: str | os.PathLike[str] | None = None
) -> Iterator[HubStandin]:
    """Point huggingface_hub and transformers at a stand-in with offline mode off; undo it all on exit.

    Args:
        server: a running stand-in to use (left running on exit); None starts a fresh one and closes it.
        hf_cache: also make this the default Hub cache (``constants.HF_HUB_CACHE``) for code that passes
            no ``cache_dir``.

    Yields:
        The stand-in. See the module docstring for what is patched and why.
    """
    from huggingface_hub import constants, hf_api
    from huggingface_hub.utils import _detect_agent
    from transformers.utils import hub as transformers_hub

    own = server is None
    hub = (server or HubStandin()).start()
    patch = pytest.MonkeyPatch()
    try:
        patch.setattr(constants, "ENDPOINT", hub.url)
        patch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        patch.setattr(hf_api.api, "endpoint", hub.url)
        patch.setattr(transformers_hub, "_hf_api", None)
        if _detect_agent._registry is None:
            patch.setattr(_detect_agent, "_registry", _detect_agent._EMPTY_REGISTRY)
        if hf_cache is not None:
            patch.setattr(constants, "HF_HUB_CACHE", str(hf_cache))
        patch.setenv("HF_ENDPOINT", hub.url)
        patch.setenv("HF_HUB_OFFLINE", "0")
        patch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        yield hub
    finally:
        patch.undo()
        if own:
            hub.close()


# --- the test repos ---------------------------------------------------------------------------------------


def saved_files(*objects: Any) -> dict[str, bytes]:
    """What ``save_pretrained`` writes for each object (tokenizer, model, config), as {path: bytes}."""
    with tempfile.TemporaryDirectory() as folder:
        for obj in objects:
            obj.save_pretrained(folder)
        paths = sorted(p for p in Path(folder).rglob("*") if p.is_file())
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in paths}


def tokenizer_files(tokenizer: Any) -> dict[str, bytes]:
    """A tokenizer repo: tokenizer.json, tokenizer_config.json, chat_template.jinja and a special_tokens_map.json.

    transformers 5 no longer writes ``special_tokens_map.json``; it is added as older repos have it.
    """
    files = saved_files(tokenizer)
    special = {k: str(v) for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    files.setdefault("special_tokens_map.json", json.dumps(special, indent=2).encode())
    return files


REMOTE_CODE = b'raise RuntimeError("rsdemo tests: remote code was imported, trust_remote_code must stay False")\n'


def remote_code_files() -> dict[str, bytes]:
    """A repo whose config and tokenizer need its own ``.py`` files (``auto_map``, custom ``model_type``)."""
    config = {
        "architectures": ["RsdemoCustomForCausalLM"],
        "model_type": "rsdemo-custom",
        "auto_map": {
            "AutoConfig": "configuration_custom.RsdemoCustomConfig",
            "AutoModelForCausalLM": "modeling_custom.RsdemoCustomForCausalLM",
        },
    }
    tokenizer_config = {
        "tokenizer_class": "RsdemoCustomTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_custom.RsdemoCustomTokenizer", None]},
    }
    return {
        "config.json": json.dumps(config, indent=2).encode(),
        "tokenizer_config.json": json.dumps(tokenizer_config, indent=2).encode(),
        "configuration_custom.py": REMOTE_CODE,
        "modeling_custom.py": REMOTE_CODE,
        "tokenization_custom.py": REMOTE_CODE,
    }


@dataclasses.dataclass(frozen=True)
class TestRepos:
    """The ids of the repos ``add_test_repos`` publishes, and the local objects they were saved from."""

    __test__ = False  # not a pytest test class

    tokenizer: str  # (a) tiny byte-level BPE tokenizer
    model: str  # (b) tiny random Llama + its tokenizer
    remote_code: str  # (c) auto_map to .py files in the repo
    oversized: str  # (d) model info claims 70B parameters and a 2 GB tokenizer.json
    revisions: str  # (e) main and tag "v1" hold different tokenizers
    no_tokenizer: str  # (f) a config and a README, no tokenizer files
    gated: str  # tokenizer files behind a gate
    local_tokenizer: Any
    local_model: Any
    main_tokenizer: Any  # the tokenizer on (e)'s main
    v1_tokenizer: Any  # the tokenizer on (e)'s tag v1
    OVERSIZED_PARAMS: int = 70_000_000_000
    OVERSIZED_TOKENIZER_BYTES: int = 2_000_000_000


def add_test_repos(hub: HubStandin, *, owner: str = "rsdemo-tests") -> TestRepos:
    """Publish the test repos on ``hub`` (about a second after the first build, no network)."""
    import tiny_models  # tests/ is on sys.path, as for the other test modules

    tokenizer = tiny_models.build_tokenizer()
    model = tiny_models.build_model(tokenizer)
    tok_files = tokenizer_files(tokenizer)
    v1 = tiny_models.build_tokenizer()
    main = tiny_models.build_tokenizer(add_bos=True)
    main.add_tokens([f"<extra_{i}>" for i in range(8)])
    repos = TestRepos(
        tokenizer=f"{owner}/tiny-tokenizer",
        model=f"{owner}/tiny-llama",
        remote_code=f"{owner}/needs-remote-code",
        oversized=f"{owner}/oversized-70b",
        revisions=f"{owner}/two-revisions",
        no_tokenizer=f"{owner}/no-tokenizer",
        gated=f"{owner}/gated-tokenizer",
        local_tokenizer=tokenizer,
        local_model=model,
        main_tokenizer=main,
        v1_tokenizer=v1,
    )
    hub.add_repo(repos.tokenizer, tok_files)
    special_tokens_map = {"special_tokens_map.json": tok_files["special_tokens_map.json"]}
    hub.add_repo(repos.model, saved_files(tokenizer, model) | special_tokens_map)
    hub.add_repo(repos.remote_code, remote_code_files())
    config_files = saved_files(model.config)
    hub.add_repo(
        repos.oversized,
        tok_files | config_files,
        safetensors_total=TestRepos.OVERSIZED_PARAMS,
        reported_sizes={"tokenizer.json": TestRepos.OVERSIZED_TOKENIZER_BYTES},
    )
    hub.add_repo(repos.revisions, tokenizer_files(main), extra_revisions={"v1": tokenizer_files(v1)})
    hub.add_repo(repos.no_tokenizer, config_files | {"README.md": b"# No tokenizer here\n"})
    hub.add_repo(repos.gated, tok_files, gated=True)
    return repos
