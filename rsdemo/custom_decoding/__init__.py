"""Contrastive search and diverse (group) beam search, offline, as ``custom_generate`` callables.

transformers 5 moved both methods out of its core into Hub repositories
(``transformers-community/contrastive-search`` and ``transformers-community/group-beam-search``), so a
machine without the Hub cannot run them. This module implements them from the published algorithms as
local decoding loops that ``model.generate`` runs after its usual preparation (logits processors,
stopping criteria, cache, attention mask, input expansion)::

    model.generate(input_ids, custom_generate=contrastive_search, penalty_alpha=0.6, top_k=4,
                   do_sample=False, max_new_tokens=32)
    model.generate(input_ids, custom_generate=group_beam_search, num_beams=6, num_beam_groups=3,
                   diversity_penalty=1.0, do_sample=False, num_return_sequences=3, max_new_tokens=32)

What transformers 5.24 does with these settings (checked against the installed version, offline):

- ``GenerationConfig(penalty_alpha=..., top_k=...)`` and ``GenerationConfig(num_beams=...,
  num_beam_groups=..., diversity_penalty=...)`` are still accepted: the fields exist, marked
  "deprecated (moved to the Hub)", and ``get_generation_mode()`` still answers ``CONTRASTIVE_SEARCH``
  (needs ``penalty_alpha > 0`` and ``top_k > 1`` and ``do_sample`` not true) and ``GROUP_BEAM_SEARCH``
  (needs ``num_beam_groups > 1``). Their values are no longer validated: ``penalty_alpha=1.5`` passes,
  and so does ``num_beams=4, num_beam_groups=3`` even under ``validate(strict=True)``. Both functions
  here check their own parameters and raise ``ValueError`` (see :func:`check_contrastive_params` and
  :func:`check_group_beam_params`).
- ``validate(strict=True)`` rejects ``top_k != 50`` together with ``do_sample=False`` ("only used in
  sample-based generation modes"); the non-strict validation inside ``generate`` only logs it. Passing
  ``top_k`` as a keyword of ``generate`` avoids both (see below).
- Without ``custom_generate`` those modes fail offline: ``generate`` raises ``ValueError`` ("requires
  ``trust_remote_code=True``"), and with ``trust_remote_code=True`` an ``OSError`` (no
  ``custom_generate/generate.py`` can be fetched). With a callable ``custom_generate`` the Hub lookup is skipped
  and the callable is called as
  ``fn(model, input_ids, logits_processor=..., stopping_criteria=..., generation_config=...,
  **extra_kwargs, **model_kwargs)``; ``input_ids`` is already expanded to ``batch * max(num_beams,
  num_return_sequences)`` rows, the stopping criteria hold ``MaxLengthCriteria`` (from
  ``max_new_tokens``) and, when an eos token is set, ``EosTokenCriteria``, and ``generation_config`` carries
  ``_pad_token_tensor`` and ``_eos_token_tensor``.
- ``generate`` forwards to the callable every keyword argument that names a parameter of the callable's
  own signature that ``GenerationMixin._sample`` does not have (``_extract_generation_mode_kwargs``).
  So ``penalty_alpha``, ``top_k``, ``num_beam_groups`` and ``diversity_penalty`` are declared here as
  keyword-only parameters: given to ``generate`` as keywords they reach the function directly (and never
  touch the deprecated config fields, so they keep working once transformers deletes them); left out,
  the function reads them from ``generation_config``. A keyword wins over the config.
- That same helper *replaces* the usual mode kwargs by the callable's own ones, so a callable never gets
  ``streamer``, ``tokenizer`` or ``synced_gpus`` from ``generate``: ``generate(streamer=s)`` still puts the
  prompt into ``s`` but the callable sees ``streamer=None`` (and nobody calls ``s.end()``, so a
  ``TextIteratorStreamer`` would wait until its timeout). Stream contrastive search with
  ``generate(..., token_streamer=s)`` instead (and no ``streamer=``): the function puts the prompt, each
  new token and ``end()``, exactly like ``_sample``. Likewise ``stop_strings`` cannot be used (the
  tokenizer is dropped before the stopping criteria are built, so ``generate`` raises "could not locate a
  tokenizer"); pass ``stopping_criteria=StoppingCriteriaList([StopStringCriteria(tokenizer,
  stop_strings)])`` instead, which works.
- ``generate`` refuses ``streamer=`` with plain beam search, but not with a callable (the streamer is
  dropped first). :func:`group_beam_search` raises ``ValueError`` when it is handed a streamer.

Where each setting goes: ``num_beams`` (``generate`` expands the inputs by it), ``length_penalty``,
``early_stopping``, ``num_return_sequences``, ``max_new_tokens``, ``eos_token_id``/``pad_token_id``,
``do_sample=False`` and the ``output_*`` flags stay ordinary ``generate`` keywords or ``GenerationConfig``
fields; ``penalty_alpha``, ``top_k``, ``num_beam_groups``, ``diversity_penalty`` can be either, and
``token_streamer`` is a keyword only.

Both functions also run when called directly with the same arguments (``synced_gpus`` and ``streamer``
included), which is how transformers' own ``_sample`` and ``_beam_search`` are called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .common import check_contrastive_params, check_group_beam_params
from .contrastive import contrastive_search
from .group_beam import group_beam_search

__all__ = [
    "CUSTOM_METHODS",
    "check_contrastive_params",
    "check_group_beam_params",
    "contrastive_search",
    "group_beam_search",
]

CUSTOM_METHODS: Mapping[str, Callable[..., Any]] = {
    "contrastive": contrastive_search,
    "diverse_beam": group_beam_search,
}
"""The offline replacements for the decoding methods transformers 5 moved to the Hub, by rsdemo key."""
