"""The logit lens: every layer's residual stream read through the model's own final norm and unembedding.

One forward pass with ``output_hidden_states`` gives the residual stream at every position after every decoder
layer; each is put through the model's final norm and ``lm_head`` (``norm(h) @ W_U.T``) as if the model stopped
there. The rows are numbered as the layers' outputs:

- row 0 is the **embeddings** (``norm(embed(ids))``: mostly the input token itself when the embeddings are tied);
- row ``k`` (1 to ``N``) is the stream **after decoder layer k**;
- row ``N`` is the model's own output: its logits exactly as a plain forward pass returns them (transformers
  hands back the last hidden state with the final norm already applied, so it is not normed twice).

What is kept (numpy only: results are pickled on ZeroGPU) is small: per position and row the top ``TOP_K``
tokens with their log-probabilities, the rank and log-probability of the last row's choice, and for the last
position every row's whole log-probability row (float32: 6 MB for this model; float16 would tie tokens in the
tail and misstate their ranks), so a probe word typed later is read there without another forward pass.

>>> import numpy as np
>>> top_ids = np.array([[[5, 7], [7, 5]]], dtype=np.int32)          # 1 position, 2 rows, top 2
>>> top_lp = np.log(np.array([[[0.6, 0.3], [0.9, 0.05]]], dtype=np.float32))
>>> last = np.full((2, 8), 0.1 / 6)                                  # a vocabulary of 8
>>> last[0, [5, 7]], last[1] = (0.6, 0.3), 0.05 / 6
>>> last[1, [5, 7]] = (0.05, 0.9)
>>> result = LensResult("m", (1,), ("emb", "1"), top_ids, top_lp, np.array([7], dtype=np.int32),
...     np.array([[2, 1]], dtype=np.int32), np.log(np.array([[0.3, 0.9]], dtype=np.float32)),
...     np.log(last).astype(np.float32), {5: "a", 7: "b"})
>>> [(i, round(p, 2)) for i, p in cell(result, position=0, layer=1)]
[(7, 0.9), (5, 0.05)]
>>> probs, ranks, exact = probe_curve(result, token_id=7)
>>> [round(p, 2) for p in probs], ranks, exact
([0.3, 0.9], (2, 1), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError

__all__ = [
    "TOP_K",
    "LensArrays",
    "LensProbe",
    "LensResult",
    "cell",
    "final_norm",
    "lens_arrays",
    "probe",
    "probe_curve",
    "rises_at",
]

TOP_K = 10  # tokens kept per cell ("click a cell: its top 10")
_CHUNK = 256  # positions put through the unembedding at a time (a (chunk, vocabulary) float32 block)


@dataclass(frozen=True, slots=True, eq=False)
class LensResult:
    """The logit lens over a prompt: ``P`` positions by ``L = N + 1`` rows (the embeddings, then each layer).

    Position ``p`` is the prediction of the token after ``ids[: p + 1]``.

    Attributes:
        model: the model key.
        ids: the prompt's token ids (``P``).
        layers: the rows' labels, ``("emb", "1", ..., "N")``.
        top_ids, top_logprobs: ``(P, L, TOP_K)`` int32 / float32, each cell's most probable tokens, best first.
        final_ids: ``(P,)`` the last row's top token (the model's own greedy choice) at each position.
        final_rank: ``(P, L)`` the rank of that choice in each row (1: it is the row's top token).
        final_logprob: ``(P, L)`` its log-probability in each row.
        last_logprobs: ``(L, vocabulary)`` float32, every row's log-probabilities at the last position (probes).
        pieces: the text of every token id in ``ids`` and ``top_ids``.
    """

    model: str
    ids: tuple[int, ...]
    layers: tuple[str, ...]
    top_ids: np.ndarray
    top_logprobs: np.ndarray
    final_ids: np.ndarray
    final_rank: np.ndarray
    final_logprob: np.ndarray
    last_logprobs: np.ndarray
    pieces: Mapping[int, str]

    @property
    def top_probs(self) -> np.ndarray:
        """``(P, L)`` each cell's top token's probability."""
        return np.exp(self.top_logprobs[:, :, 0].astype(np.float64))


def cell(result: LensResult, *, position: int, layer: int) -> tuple[tuple[int, float], ...]:
    """A cell's kept top tokens, ``(id, probability)``, best first (no model call)."""
    _check_cell(result, position, layer)
    ids = result.top_ids[position, layer]
    probs = np.exp(result.top_logprobs[position, layer].astype(np.float64))
    return tuple((int(i), float(p)) for i, p in zip(ids, probs))


def probe_curve(
    result: LensResult, *, token_id: int, position: int | None = None
) -> tuple[tuple[float | None, ...], tuple[int | None, ...], bool]:
    """A token's probability and rank at each row at one position (default: the last), from the kept numbers.

    At the last position every row's whole distribution is kept, so
    the answer is complete (``exact`` True). At any other position only each cell's top ``TOP_K`` is kept: a
    row where the token is outside it reads ``None`` (rank over ``TOP_K``), and ``exact`` is False.

    Returns:
        ``(probabilities, ranks, exact)``, one value per row.
    """
    last = len(result.ids) - 1
    position = last if position is None else position
    _check_cell(result, position, 0)
    if position == last and 0 <= token_id < result.last_logprobs.shape[1]:
        rows = result.last_logprobs
        values = rows[:, token_id]
        ranks = (rows > values[:, None]).sum(axis=1) + 1
        return tuple(float(np.exp(v)) for v in values), tuple(int(r) for r in ranks), True
    probs: list[float | None] = []
    ranks_kept: list[int | None] = []
    for row in range(len(result.layers)):
        found = np.nonzero(result.top_ids[position, row] == token_id)[0]
        probs.append(float(np.exp(result.top_logprobs[position, row, found[0]])) if found.size else None)
        ranks_kept.append(int(found[0]) + 1 if found.size else None)
    return tuple(probs), tuple(ranks_kept), False


@dataclass(frozen=True, slots=True)
class LensProbe:
    """A probed token through the rows at one position: what was typed, its token, each row's probability and rank.

    ``exact``: every row is known (the last position); otherwise ``None`` where the token is outside a cell's
    top ``TOP_K``. ``rises_at``: the first row from which it stays the top token (None: it never does).
    """

    text: str
    token_id: int
    piece: str
    position: int
    probs: tuple[float | None, ...]
    ranks: tuple[int | None, ...]
    exact: bool
    rises_at: int | None


def probe(result: LensResult, *, text: str, token_id: int, piece: str, position: int | None = None) -> LensProbe:
    """``probe_curve`` as a ``LensProbe`` (no model call)."""
    where = len(result.ids) - 1 if position is None else position
    probs, ranks, exact = probe_curve(result, token_id=token_id, position=where)
    return LensProbe(text, token_id, piece, where, probs, ranks, exact, rises_at(ranks))


def rises_at(ranks: Sequence[int | None], *, within: int = 1) -> int | None:
    """The first row from which a token stays at rank ``within`` or better to the last row (None: it never does).

    >>> rises_at([900, 40, 3, 1, 2, 1, 1]), rises_at([900, 40, 3, 1, 2, 1, 1], within=3), rises_at([1, None])
    (5, 2, None)
    """
    first = None
    for row, rank in enumerate(ranks):
        if rank is not None and rank <= within:
            first = row if first is None else first
        else:
            first = None
    return first


def _check_cell(result: LensResult, position: int, layer: int) -> None:
    if not (isinstance(position, int) and 0 <= position < len(result.ids)):
        raise InputError(
            f"Pick a position from 0 to {len(result.ids) - 1} (the prompt has {len(result.ids)} tokens).",
            field="params",
        )
    if not (isinstance(layer, int) and 0 <= layer < len(result.layers)):
        raise InputError(
            f"Pick a layer from 0 (the embeddings) to {len(result.layers) - 1}.",
            field="params",
        )


@dataclass(frozen=True, slots=True, eq=False)
class LensArrays:
    """What ``lens_arrays`` computes: ``LensResult``'s arrays, before token texts are looked up."""

    top_ids: np.ndarray
    top_logprobs: np.ndarray
    final_ids: np.ndarray
    final_rank: np.ndarray
    final_logprob: np.ndarray
    last_logprobs: np.ndarray


def final_norm(model: Any) -> Any:
    """The model's final norm (the one before ``lm_head``): ``norm`` (Llama, Mistral, Qwen) or ``ln_f`` (GPT-2).

    Raises:
        InputError: a model of an architecture whose final norm this view does not know.
    """
    base = getattr(model, "base_model", model)
    for name in ("norm", "ln_f", "final_layernorm"):
        module = getattr(base, name, None)
        if module is not None:
            return module
    raise InputError(
        f"The logit lens needs the model's final norm; {type(model).__name__} has none this view knows "
        "(norm, ln_f, final_layernorm).",
        field="model",
    )


def lens_arrays(*, model: Any, ids: Sequence[int], top: int = TOP_K) -> LensArrays:
    """One forward pass over ``ids`` with ``output_hidden_states``; every row through the final norm and ``lm_head``.

    The last row is the model's own logits (see the module docstring); rows ``0 .. N-1`` are
    ``lm_head(norm(hidden_states[k]))``, in chunks of positions, so no ``(positions, layers, vocabulary)`` block
    is ever held.
    """
    import torch

    norm, head = final_norm(model), model.get_output_embeddings()
    device = next(model.parameters()).device
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_hidden_states=True)
        logits = out.logits[0]
        rows, (n, vocab) = len(out.hidden_states), logits.shape
        final_ids = logits.float().argmax(dim=-1)
        # (row, position) pairs flattened, row-major: one matmul reads lm_head's weights once per chunk of pairs
        flat = torch.cat([norm(h[0]) for h in out.hidden_states[:-1]], dim=0)
        k = min(top, vocab)
        top_ids = torch.zeros((rows * n, k), dtype=torch.int32)
        top_lp = torch.zeros((rows * n, k), dtype=torch.float32)
        final_rank = torch.zeros(rows * n, dtype=torch.int32)
        final_lp = torch.zeros(rows * n, dtype=torch.float32)
        last = torch.zeros((rows, vocab), dtype=torch.float32)
        chosen_ids = final_ids.repeat(rows)
        for start in range(0, rows * n, _CHUNK):
            end = min(start + _CHUNK, rows * n)
            logprobs = torch.log_softmax(_unembedded(head, flat, logits, start, end).float(), dim=-1)
            values, indices = torch.topk(logprobs, k, dim=-1)
            top_ids[start:end], top_lp[start:end] = indices.to(torch.int32).cpu(), values.cpu()
            chosen = logprobs.gather(-1, chosen_ids[start:end, None])
            final_lp[start:end] = chosen[:, 0].cpu()
            final_rank[start:end] = ((logprobs > chosen).sum(dim=-1) + 1).to(torch.int32).cpu()
            for pair in range(start, end):
                if pair % n == n - 1:  # the last position of a row: keep its whole distribution, for probes
                    last[pair // n] = logprobs[pair - start].cpu()
    return LensArrays(
        top_ids.view(rows, n, k).transpose(0, 1).contiguous().numpy(),
        top_lp.view(rows, n, k).transpose(0, 1).contiguous().numpy(),
        final_ids.to(torch.int32).cpu().numpy(),
        final_rank.view(rows, n).T.contiguous().numpy(),
        final_lp.view(rows, n).T.contiguous().numpy(),
        last.numpy(),
    )


def _unembedded(head: Any, flat: Any, logits: Any, start: int, end: int) -> Any:
    """The logits of the flattened (row, position) pairs ``start:end``: ``lm_head`` over the normed hidden states,
    and for the last row the model's own logits (its hidden state is already normed: see the module docstring)."""
    import torch

    cut = flat.shape[0]  # (rows - 1) * positions pairs come from hidden states
    parts = []
    if start < cut:
        parts.append(head(flat[start : min(end, cut)]))
    if end > cut:
        parts.append(logits[max(start, cut) - cut : end - cut])
    return parts[0] if len(parts) == 1 else torch.cat(parts)
