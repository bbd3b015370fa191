"""Two models (or one model on two engines) on one text: each one's teacher-forced log-probabilities, compared.

``model_diff`` checks the request before anything is loaded (both models usable, the text not empty, the engines
known and able to run the models), then runs the model work (``model_diff_pass``: one generation slot, each model
in turn). As ``rsdemo.insight.views``, it takes ``service``: the ``InsightService`` or anything holding one as
``.insight`` (the ``Backend``); on ZeroGPU pass ``run=`` the model work wrapped in ``spaces.GPU``.

Each side reads the text with its own tokenizer, after the model's start-of-document token where it has one (the
catalog's ``document_start``, else the BOS its tokenizer adds), so every token of the text is scored; a model with
neither cannot score the text's first token (``rsdemo.insight.model_diff`` says how that is counted).

* ``transformers``: one forward pass (``rsdemo.insight.scoring.score``).
* ``llama.cpp``: the GGUF weights' next-token logits after every prefix (``LlamaCppModel.logits``: the text read as a
  prompt, then a token at a time), turned into log-probabilities here, ``_LLAMA_ROWS`` positions at a time.

>>> _byte_of("<0x0A>"), _byte_of("▁a")
(b'\\n', None)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..catalog import MODELS
from ..core.errors import InputError, UnknownKeyError
from ..generation.results import make_token
from ..generation.transformers_engine import bundle_adapter
from ..tokenization.adapters import byte_to_unicode
from .model_diff import Comparison, TokenSpan, char_spans, compare, spans_from_ends
from .scoring import score

__all__ = ["ENGINES", "ModelDiffResult", "ScoredText", "model_diff", "model_diff_pass"]

ENGINES = ("transformers", "llama.cpp")
_LLAMA_ROWS = 64  # llama.cpp logits rows turned into log-probabilities at a time (a row is the vocabulary)
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ScoredText:
    """One side: a model on an engine, the context it read first, the text's ids, each token's text as the token
    views show it (``pieces``), its character span and log-probability (``spans``), and the seconds it took."""

    model: str
    engine: str
    context: tuple[int, ...]
    ids: tuple[int, ...]
    pieces: tuple[str, ...]
    spans: tuple[TokenSpan, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class ModelDiffResult:
    """Both sides and their char-aligned comparison (``comparison.spans_a`` are ``a.spans``)."""

    text: str
    a: ScoredText
    b: ScoredText
    comparison: Comparison


def _insight(service: Any) -> Any:
    return getattr(service, "insight", service)


def _engine(insight: Any, engine: str, model: str) -> str:
    """The engine's name, once it is known to run ``model`` here (nothing loaded)."""
    if engine not in ENGINES:
        raise UnknownKeyError(kind="engine", key=str(engine), known=ENGINES)
    if engine == "transformers":
        insight._precheck(model)  # an unusable Hub fails now, not after waiting for a slot
        return engine
    runner = insight.generation.engines.get(engine)
    if runner is None:  # a backend built with other engines
        raise UnknownKeyError(kind="engine", key=engine, known=insight.generation.engines)
    why = runner.missing() or runner.serves(model)
    if why:
        raise InputError(why, field="engine")
    return engine


def model_diff(
    *,
    service: Any,
    model_a: str,
    model_b: str,
    text: str,
    engine_a: str = "transformers",
    engine_b: str = "transformers",
    progress: Progress | None = None,
    run: Callable[..., ModelDiffResult] | None = None,
) -> ModelDiffResult:
    """Two models (or one model on two engines) on one text: per-token log-probabilities, aligned by characters.

    Raises:
        InputError: an empty text, one over ``max_prompt_chars`` characters or ``max_scored_tokens`` tokens for
            either model, a model only a server has, an engine that cannot run a model here.
        UnknownKeyError: an unknown model or engine; HubError, AssetMissingError, CapacityError: as for generation.
    """
    insight = _insight(service)
    names = []
    for model, engine in ((model_a, engine_a), (model_b, engine_b)):
        name = insight.usable_model(model=model, prompt=text, doing="to score", what="Two models on one text")
        names.append((name, _engine(insight, engine, name)))
    (name_a, on_a), (name_b, on_b) = names
    return (run or model_diff_pass)(
        service=insight, model_a=name_a, model_b=name_b, text=text, engine_a=on_a, engine_b=on_b, progress=progress
    )


def model_diff_pass(
    *,
    service: Any,
    model_a: str,
    model_b: str,
    text: str,
    engine_a: str,
    engine_b: str,
    progress: Progress | None,
) -> ModelDiffResult:
    """The model work of ``model_diff`` (models resolved, engines checked): one slot, each model in turn.

    A text that may be over ``max_scored_tokens`` for either model is counted with both tokenizers first, so the
    second model's count does not come after the first's forward pass.
    """
    insight = _insight(service)
    limit = insight.settings.max_scored_tokens
    sides = ((model_a, engine_a), (model_b, engine_b))
    with insight.admission.slot():
        if len(text.encode("utf-8")) + 2 > limit:  # a token holds at least a byte: shorter texts always fit
            for model, engine in sides:
                with insight.models.in_use(engine, model, progress) as loaded:
                    _tokens(loaded.tokenizer, text, model=model, limit=limit)
        scored = []
        for model, engine in sides:
            with insight.models.in_use(engine, model, progress) as loaded:
                scored.append(_side(loaded, model=model, engine=engine, text=text, limit=limit))
    a, b = scored
    return ModelDiffResult(text, a, b, compare(text, a.spans, b.spans))


def _side(loaded: Any, *, model: str, engine: str, text: str, limit: int) -> ScoredText:
    """One model's tokens of the text and their log-probabilities."""
    context, ids, spans = _tokens(loaded.tokenizer, text, model=model, limit=limit)
    sequence = [*context, *ids]
    started = time.perf_counter()
    if engine == "transformers":
        values = score(model=loaded.model, ids=sequence, top=1).logprobs  # values[k]: sequence[k + 1]
        adapter = bundle_adapter(loaded)
    else:
        values = _llama_logprobs(loaded, sequence)
        adapter = loaded.adapter
    seconds = time.perf_counter() - started
    first = len(context) - 1  # values[first + j] scores the text's token j (none before the first with no context)
    scored = tuple(
        TokenSpan(start, end, None if first + j < 0 else float(values[first + j]))
        for j, (start, end) in enumerate(spans)
    )
    pieces = tuple(make_token(adapter, int(i), 0.0).text for i in ids)
    return ScoredText(model, engine, tuple(context), tuple(ids), pieces, scored, seconds)


def _llama_logprobs(loaded: Any, ids: Sequence[int]) -> np.ndarray:
    """``log p(ids[k] | ids[:k])`` for ``k`` from 1, from llama.cpp's logits (``_LLAMA_ROWS`` rows at a time)."""
    out = []
    for start in range(1, len(ids), _LLAMA_ROWS):
        end = min(len(ids), start + _LLAMA_ROWS)
        rows = np.asarray(loaded.logits(list(ids[:end]), start=start), dtype=np.float32)[: end - start]
        top = rows.max(axis=1, keepdims=True)
        norm = top[:, 0].astype(np.float64) + np.log(np.exp(rows - top).sum(axis=1, dtype=np.float64))
        out.append(rows[np.arange(end - start), np.asarray(ids[start:end])].astype(np.float64) - norm)
    return np.concatenate(out) if out else np.zeros(0)


def _tokens(
    tokenizer: Any, text: str, *, model: str, limit: int
) -> tuple[list[int], list[int], tuple[tuple[int, int], ...]]:
    """The context (the start-of-document token, or none), the text's ids and their character spans.

    Raises:
        InputError: more than ``limit`` tokens in all.
    """
    ids = list(tokenizer(text, add_special_tokens=False).input_ids)
    context = _context(tokenizer, text, ids, spec=MODELS.get(model, None))
    if len(context) + len(ids) > limit:
        raise InputError(
            f"The prompt is {len(context) + len(ids):,} tokens; the most this view reads is {limit:,}. Shorten it.",
            field="prompt",
        )
    spans = char_spans(text, _token_bytes(tokenizer, ids))
    if spans is None:  # the pieces do not spell the text (a normaliser): the tokenizer's own offsets
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        spans = spans_from_ends(len(text), [end for _, end in offsets])
    return context, ids, spans


def _context(tokenizer: Any, text: str, ids: list[int], *, spec: Any) -> list[int]:
    """What the model reads before the text: the catalog's start-of-document token, else the tokenizer's own BOS."""
    start = getattr(spec, "document_start", "") if spec is not None else ""
    if start:
        start_id = tokenizer.convert_tokens_to_ids(start)
        if isinstance(start_id, int) and tokenizer.convert_ids_to_tokens(start_id) == start:
            return [start_id]
    special = list(tokenizer(text).input_ids)
    extra = len(special) - len(ids)
    return special[:extra] if extra > 0 and special[extra:] == ids else []


def _byte_of(piece: str) -> bytes | None:
    """A byte-fallback piece's byte (``<0x0A>``), or None."""
    match = _BYTE_PIECE.fullmatch(piece)
    return bytes([int(match.group(1), 16)]) if match else None


def _token_bytes(tokenizer: Any, ids: Sequence[int]) -> list[bytes]:
    """Each token's bytes of the text, read from its vocabulary piece (empty bytes where it cannot be read: then
    the pieces do not spell the text and ``_tokens`` takes the tokenizer's offsets instead)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return []
    added = backend.get_added_tokens_decoder()
    byte_level = "ByteLevel" in repr(backend.decoder)
    table = {c: b for b, c in byte_to_unicode().items()}
    out = []
    for i in ids:
        piece = backend.id_to_token(int(i)) or ""
        if int(i) in added:
            out.append(added[int(i)].content.encode("utf-8"))
        elif byte_level:
            out.append(bytes(table[c] for c in piece) if all(c in table for c in piece) else b"")
        else:
            out.append(_byte_of(piece) or piece.replace("\u2581", " ").encode("utf-8"))
    return out
