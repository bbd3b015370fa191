"""The decoding pipeline as named stages: transformers' own logits processors, in transformers' order.

``GenerationMixin._get_logits_processor`` builds the processors from a ``GenerationConfig``; this module
builds the same ones (the same classes, arguments and order, for every field rsdemo's presets set) as a
list of named stages, so an engine that computes logits elsewhere (llama.cpp) applies exactly what
transformers would, and a view can show the distribution after each stage. ``tests/test_processors.py``
checks the list against transformers' own for every preset.

Order (transformers 5): repetition penalty, no-repeat n-gram, then — only when sampling — temperature,
top-k, top-p, min-p, typical, epsilon, eta. A stage at the value that switches it off is left out (transformers
adds a min-p of 0, which keeps every token; the scores are the same without it, tested). (llama.cpp's own sampler
applies temperature last; rsdemo does not use it: it applies these stages to llama.cpp's logits.)

>>> from rsdemo.decoding import generation_config
>>> [name for name, _ in stages(generation_config(method="top_p", params={"repetition_penalty": 1.2}))]
['repetition penalty', 'top-p']
>>> [name for name, _ in stages(generation_config(method="min_p", params={"min_p": 0.1}))]
['min-p']

With the resolved parameters (``values``), rsdemo's own stages join them (``rsdemo.generation.samplers``: DRY,
XTC, Mirostat v2, dynamic temperature, top-nσ, presence/frequency penalties) and the list follows
``sampler_order`` (``rsdemo.decoding.samplers``): transformers' order, llama.cpp's chain, or a custom one.

>>> from rsdemo.decoding import resolve_params
>>> params = {"top_p": 0.9, "xtc_probability": 0.5, "top_n_sigma": 1.0, "temperature": 0.7}
>>> config = generation_config(method="top_p", params=params)
>>> [n for n, _ in stages(config, resolve_params(method="top_p", params=params))]
['temperature', 'top-p', 'top-n-sigma', 'xtc']
>>> params["sampler_order"] = "llama.cpp"
>>> [n for n, _ in stages(config, resolve_params(method="top_p", params=params))]
['top-n-sigma', 'top-p', 'xtc', 'temperature']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..decoding.samplers import breakers, samplers_on, stage_order

__all__ = ["NEEDS_IDS", "apply", "neutral_config", "stages"]

NEEDS_IDS = frozenset({"repetition penalty", "no-repeat n-gram", "penalties", "dry", "mirostat"})  # read the text


def stages(config: Any, values: Mapping[str, Any] | None = None, *, tokenizer: Any = None) -> list[tuple[str, Any]]:
    """``(stage name, logits processor)`` pairs for a ``GenerationConfig``, in the order transformers applies them;
    with ``values`` (``resolve_params``'s), rsdemo's own stages too, all in ``sampler_order``.

    Each call builds new processors: Mirostat's ``mu`` and XTC's random numbers (a generator seeded with the
    run's seed) start afresh for each run. ``tokenizer`` gives DRY's breaker tokens (none without it).
    """
    out = _transformers_stages(config)
    if not values or not samplers_on(values):
        return out
    named = dict(out)
    named.update(_own_stages(config, values, tokenizer))
    if values.get("mirostat_tau"):  # it replaces the truncations (llama.cpp: temperature, then Mirostat)
        for name in ("top-k", "top-p", "min-p", "typical", "epsilon", "eta"):
            named.pop(name, None)
        if values.get("sampler_order") == "llama.cpp":
            named = {k: v for k, v in named.items() if k in ("temperature", "mirostat")}
    order = stage_order(str(values.get("sampler_order", "transformers")))
    return [(_shown(name, values), named[name]) for name in order if name in named]


def _shown(name: str, values: Mapping[str, Any]) -> str:
    return "dynamic temperature" if name == "temperature" and values.get("dynatemp_range") else name


def _own_stages(config: Any, values: Mapping[str, Any], tokenizer: Any) -> dict[str, Any]:
    import torch

    from . import samplers as s

    own: dict[str, Any] = {}
    if values.get("presence_penalty") or values.get("frequency_penalty"):
        own["penalties"] = s.PresenceFrequencyPenalty(
            values["presence_penalty"], values["frequency_penalty"], int(values["penalty_last_n"])
        )
    if values.get("dry_multiplier"):
        ids = s.breaker_tokens(tokenizer, breakers(str(values["dry_sequence_breakers"])))
        own["dry"] = s.DRY(values["dry_multiplier"], values["dry_base"], int(values["dry_allowed_length"]), ids)
    if not config.do_sample:
        return own
    if values.get("top_n_sigma"):
        own["top-n-sigma"] = s.TopNSigma(values["top_n_sigma"])
    if values.get("dynatemp_range"):
        own["temperature"] = s.DynamicTemperature(
            config.temperature or 1.0, values["dynatemp_range"], values["dynatemp_exponent"]
        )
    if values.get("xtc_probability"):
        seed = int(values.get("seed", 0))
        generator = torch.Generator().manual_seed(seed if seed >= 0 else int(torch.seed() % 2**31))
        own["xtc"] = s.XTC(values["xtc_probability"], values["xtc_threshold"], generator)
    if values.get("mirostat_tau"):
        own["mirostat"] = s.MirostatV2(values["mirostat_tau"], values["mirostat_eta"])
    return own


def neutral_config(config: Any) -> Any:
    """A copy of ``config`` whose own stages are all off, for ``generate`` when the stages travel in its
    ``logits_processor=`` instead (rsdemo's order, rsdemo's stages): transformers builds none of them twice."""
    import copy

    neutral = copy.deepcopy(config)
    neutral.repetition_penalty, neutral.no_repeat_ngram_size = 1.0, 0
    if neutral.do_sample:
        neutral.temperature, neutral.top_k, neutral.top_p, neutral.min_p = 1.0, 0, 1.0, None
        neutral.typical_p, neutral.epsilon_cutoff, neutral.eta_cutoff = 1.0, 0.0, 0.0
    return neutral


def _transformers_stages(config: Any) -> list[tuple[str, Any]]:
    from transformers.generation import logits_process as lp

    out: list[tuple[str, Any]] = []
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        out.append(("repetition penalty", lp.RepetitionPenaltyLogitsProcessor(penalty=config.repetition_penalty)))
    if config.no_repeat_ngram_size is not None and config.no_repeat_ngram_size > 0:
        out.append(("no-repeat n-gram", lp.NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size)))
    if not config.do_sample:
        return out
    keep = 1
    if config.temperature is not None and config.temperature != 1.0:
        out.append(("temperature", lp.TemperatureLogitsWarper(config.temperature)))
    if config.top_k is not None and config.top_k != 0:
        out.append(("top-k", lp.TopKLogitsWarper(top_k=config.top_k, min_tokens_to_keep=keep)))
    if config.top_p is not None and config.top_p < 1.0:
        out.append(("top-p", lp.TopPLogitsWarper(top_p=config.top_p, min_tokens_to_keep=keep)))
    if config.min_p is not None and config.min_p > 0:  # transformers also adds it at 0, where it removes nothing
        out.append(("min-p", lp.MinPLogitsWarper(min_p=config.min_p, min_tokens_to_keep=keep)))
    if config.typical_p is not None and config.typical_p < 1.0:
        out.append(("typical", lp.TypicalLogitsWarper(mass=config.typical_p, min_tokens_to_keep=keep)))
    if config.epsilon_cutoff is not None and 0.0 < config.epsilon_cutoff < 1.0:
        out.append(("epsilon", lp.EpsilonLogitsWarper(epsilon=config.epsilon_cutoff, min_tokens_to_keep=keep)))
    if config.eta_cutoff is not None and 0.0 < config.eta_cutoff < 1.0:
        out.append(("eta", lp.EtaLogitsWarper(epsilon=config.eta_cutoff, min_tokens_to_keep=keep, device="cpu")))
    return out


def apply(pipeline: list[tuple[str, Any]], input_ids: Any, scores: Any) -> Any:
    """Run the stages over one step's scores (``(1, vocab)`` float tensor); ``input_ids`` is the text so far."""
    for _name, processor in pipeline:
        scores = processor(input_ids, scores)
    return scores
