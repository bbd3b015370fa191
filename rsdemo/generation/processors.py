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
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply", "stages"]


def stages(config: Any) -> list[tuple[str, Any]]:
    """``(stage name, logits processor)`` pairs for a ``GenerationConfig``, in the order transformers applies them."""
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
