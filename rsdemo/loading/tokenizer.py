"""Tokenizers: the catalog's (from their packages, a GGUF one built once into the cache) and a Hub repo's.

>>> load_tokenizer(key="char").encode("hi", add_special_tokens=False)
[104, 105]
"""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from typing import Any

from ..catalog import get_tokenizer_spec
from ..core.disk import DiskBudget, verify_entry
from ..core.errors import AssetMissingError, HubLoadError
from ..core.settings import Settings, get_settings
from ..tokenization.adapters import (
    ByteAdapter,
    CharAdapter,
    HFAdapter,
    NFCAdapter,
    SentencePieceAdapter,
    TiktokenAdapter,
    TokenizerAdapter,
)
from .files import Progress, _entry, _source_path
from .gguf import _gguf_tokenizer, converted_model_dir, gguf_tokenizer, gguf_tokenizer_dir
from .hub import HubRef, _hub_error, _repo_files, hub_cache_dir

__all__ = ["load_hub_tokenizer", "load_tokenizer", "needs_build"]


def needs_build(*, key: str, settings: Settings | None = None) -> bool:
    """Whether loading ``key`` will first build an artefact into the cache (the UI says so)."""
    spec = get_tokenizer_spec(key)
    settings = settings or get_settings()
    if spec.model is not None:  # an embedded model's own: read once with the model's (its checkpoint or saved copy)
        found = (
            converted_model_dir(key=spec.model, settings=settings),
            gguf_tokenizer_dir(key=spec.model, settings=settings),
        )
        return not any(verify_entry(folder) for folder in found)
    entry = _entry(spec, settings)
    return entry is not None and not verify_entry(entry)


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

    if spec.model is not None:  # Gemma 3's: transformers' tokenizer from the model's GGUF file, read with the model's
        shared: Any = gguf_tokenizer(key=spec.model, settings=settings, progress=progress)
        # the same tokenizers.Tokenizer (no copy: 5 s); the adapter's no_padding / no_truncation are transformers'
        # defaults too, and it sets them again on every call
        return _check_size(HFAdapter(shared.backend_tokenizer, lossless=spec.lossless), spec.key, 256)

    if _entry(spec, settings) is not None:
        backend = _gguf_tokenizer(spec, settings, progress, budget)
    else:
        backend = tokenizers.Tokenizer.from_file(str(_source_path(spec)))
    return _check_size(HFAdapter(backend, lossless=spec.lossless), spec.key, 256)  # type: ignore[arg-type]


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
