"""The samplers local-LLM users set today, as parameters: DRY, XTC, Mirostat v2, dynamic temperature, top-nσ,
presence and frequency penalties — and the order the stages run in (``sampler_order``).

Each is off at its default, so a request that names none of them runs as before. They are rsdemo's own logits
processors (``rsdemo.generation.samplers``), built into the same named stage list as transformers' own
(``rsdemo.generation.processors``), so both engines run them and the Inside tab shows them. Defaults and ranges
follow llama.cpp's ``common_params_sampling``; where a switch llama.cpp spells differently is a value here
(``top_n_sigma`` -1, ``mirostat`` 0/2), rsdemo takes 0 as off.

>>> parse_order("llama.cpp"), parse_order(" Top_K, temp ,XTC")
('llama.cpp', 'top-k, temperature, xtc')
>>> stage_order("top-p, temperature")[:4]
('top-p', 'temperature', 'repetition penalty', 'no-repeat n-gram')
>>> parse_order("top-k, nucleus")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
rsdemo.core.errors.InputError: Sampler order has no stage 'nucleus'; the stages are: repetition penalty, ...
>>> breakers(parse_breakers('"\\\\n", ":"'))
('\\n', ':')
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..core.errors import InputError
from .param import Param

__all__ = [
    "LLAMACPP_ORDER",
    "SAMPLER_PARAMS",
    "SAMPLING_ONLY",
    "STAGES",
    "TRANSFORMERS_ORDER",
    "breakers",
    "check_samplers",
    "parse_breakers",
    "parse_order",
    "samplers_on",
    "stage_order",
]

# every stage rsdemo can run, by the name the order and the Inside tab use
STAGES = (
    "repetition penalty",
    "no-repeat n-gram",
    "penalties",
    "dry",
    "top-n-sigma",
    "temperature",
    "top-k",
    "top-p",
    "min-p",
    "typical",
    "epsilon",
    "eta",
    "xtc",
    "mirostat",
)
# transformers' order (its processors, then its warpers), with rsdemo's stages where they fit: presence/frequency
# penalties and DRY where ``generate`` puts a caller's ``logits_processor`` (after its own processors, before
# temperature), top-nσ and XTC after the truncations, Mirostat last (it replaces the truncations and samples)
TRANSFORMERS_ORDER = (
    "repetition penalty",
    "no-repeat n-gram",
    "penalties",
    "dry",
    "temperature",
    "top-k",
    "top-p",
    "min-p",
    "typical",
    "epsilon",
    "eta",
    "top-n-sigma",
    "xtc",
    "mirostat",
)
# llama.cpp's default chain (common/common.h, ``common_params_sampling::samplers``): penalties, dry, top_n_sigma,
# top_k, typ_p, top_p, min_p, xtc, temperature; its Mirostat mode is temperature then mirostat. transformers'
# repetition penalty and n-gram ban (llama.cpp has neither as such) go first; epsilon and eta after min-p.
LLAMACPP_ORDER = (
    "repetition penalty",
    "no-repeat n-gram",
    "penalties",
    "dry",
    "top-n-sigma",
    "top-k",
    "typical",
    "top-p",
    "min-p",
    "epsilon",
    "eta",
    "xtc",
    "temperature",
    "mirostat",
)
_NAMED = {"transformers": TRANSFORMERS_ORDER, "llama.cpp": LLAMACPP_ORDER}
_ALIASES = {
    "typ-p": "typical",
    "typical-p": "typical",
    "temp": "temperature",
    "temp-ext": "temperature",
    "dynatemp": "temperature",
    "dynamic-temperature": "temperature",
    "repetition-penalty": "repetition penalty",
    "no-repeat-n-gram": "no-repeat n-gram",
    "no-repeat-ngram": "no-repeat n-gram",
    "epsilon-cutoff": "epsilon",
    "eta-cutoff": "eta",
    "mirostat-v2": "mirostat",
}
DEFAULT_BREAKERS = '"\\n", ":", "\\"", "*"'  # llama.cpp's and text-generation-webui's default


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


_BY_KEY = {_key(s): s for s in STAGES} | _ALIASES


def parse_order(value: str) -> str:
    """``transformers``, ``llama.cpp``, or stage names separated by commas (llama.cpp's ``top_k`` spellings too),
    as the canonical text kept.

    Raises:
        InputError: an unknown or repeated stage name (the message lists the stages).
    """
    if value.strip().lower() in _NAMED:
        return value.strip().lower()
    names = [part for part in value.split(",") if part.strip()]
    if not names:
        raise InputError("Sampler order is empty: write transformers, llama.cpp or stage names.", field="params")
    out: list[str] = []
    for part in names:
        stage = _BY_KEY.get(_key(part))
        if stage is None:
            raise InputError(
                f"Sampler order has no stage {part.strip()[:40]!r}; the stages are: {', '.join(STAGES)} "
                "(or write transformers or llama.cpp).",
                field="params",
            )
        if stage in out:
            raise InputError(f"Sampler order names {stage} twice.", field="params")
        out.append(stage)
    return ", ".join(out)


def stage_order(value: str) -> tuple[str, ...]:
    """The full order for a ``sampler_order`` value: a custom list first, then the stages it leaves out, in
    transformers' order."""
    canonical = parse_order(value)
    if canonical in _NAMED:
        return _NAMED[canonical]
    listed = tuple(canonical.split(", "))
    return listed + tuple(s for s in TRANSFORMERS_ORDER if s not in listed)


def parse_breakers(value: str) -> str:
    r"""DRY's sequence breakers, written as JSON strings separated by commas (text-generation-webui's form,
    ``"\n", ":"``) or as a JSON list; the canonical text kept.

    Raises:
        InputError: not JSON strings, an empty one, one over 40 characters, or more than 16.
    """
    body = value.strip()
    try:
        items = json.loads(body if body.startswith("[") else f"[{body}]")
    except json.JSONDecodeError:
        items = None
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        raise InputError(
            'DRY sequence breakers must be quoted strings separated by commas, e.g. "\\n", ":", "\\"", "*".',
            field="params",
        )
    if len(items) > 16 or any(len(s) > 40 for s in items):
        raise InputError("DRY takes at most 16 sequence breakers of at most 40 characters each.", field="params")
    return ", ".join(json.dumps(s, ensure_ascii=False) for s in items)


def breakers(value: str) -> tuple[str, ...]:
    """The breaker strings of a checked ``dry_sequence_breakers`` value."""
    return tuple(json.loads(f"[{value}]")) if value.strip() else ()


SAMPLER_PARAMS: tuple[Param, ...] = (
    Param(
        "presence_penalty",
        "Presence penalty",
        0.0,
        -2.0,
        2.0,
        0.05,
        info="subtracted from the logit of every token in the last n tokens (OpenAI's definition; 0: off)",
    ),
    Param(
        "frequency_penalty",
        "Frequency penalty",
        0.0,
        -2.0,
        2.0,
        0.05,
        info="subtracted once per occurrence in the last n tokens (OpenAI's definition; 0: off)",
    ),
    Param(
        "penalty_last_n",
        "Penalty window",
        64,
        1,
        4096,
        1,
        "int",
        "how many of the last tokens (prompt and output) the presence and frequency penalties count, "
        "as llama.cpp's penalty_last_n",
    ),
    Param(
        "dry_multiplier",
        "DRY multiplier",
        0.0,
        0.0,
        5.0,
        0.05,
        info="DRY (don't repeat yourself): penalise the token that would extend a repeated sequence by "
        "multiplier × base^(length − allowed length) (0: off)",
    ),
    Param("dry_base", "DRY base", 1.75, 1.0, 4.0, 0.05, info="how fast DRY's penalty grows with the length"),
    Param(
        "dry_allowed_length",
        "DRY allowed length",
        2,
        1,
        20,
        1,
        "int",
        "repeats up to this many tokens go unpenalised",
    ),
    Param(
        "dry_sequence_breakers",
        "DRY sequence breakers",
        DEFAULT_BREAKERS,
        kind="text",
        info="quoted strings; a token containing one ends a repeat (DRY looks no further back)",
        parse=parse_breakers,
    ),
    Param(
        "xtc_probability",
        "XTC probability",
        0.0,
        0.0,
        1.0,
        0.01,
        info="XTC (exclude top choices): the chance, at each step, of removing every token above the threshold "
        "but the least probable of them (0: off)",
    ),
    Param("xtc_threshold", "XTC threshold", 0.1, 0.0, 0.5, 0.01, info="the probability XTC counts as a top choice"),
    Param(
        "top_n_sigma",
        "Top-nσ",
        0.0,
        0.0,
        5.0,
        0.05,
        info="keep the tokens whose logit is at least the highest minus n standard deviations of the logits (0: off)",
    ),
    Param(
        "dynatemp_range",
        "Dynamic temperature range",
        0.0,
        0.0,
        2.0,
        0.05,
        info="the temperature follows the distribution's entropy between temperature ± range "
        "(llama.cpp's temp-ext; 0: fixed temperature)",
    ),
    Param(
        "dynatemp_exponent",
        "Dynamic temperature exponent",
        1.0,
        0.1,
        5.0,
        0.05,
        info="the curve from normalised entropy to temperature",
    ),
    Param(
        "mirostat_tau",
        "Mirostat tau",
        0.0,
        0.0,
        10.0,
        0.1,
        info="Mirostat v2: keep the surprise near tau bits per token, in place of top-k/top-p truncation (0: off)",
    ),
    Param("mirostat_eta", "Mirostat eta", 0.1, 0.001, 1.0, 0.001, info="how fast Mirostat's bound follows the text"),
    Param(
        "sampler_order",
        "Sampler order",
        "transformers",
        kind="text",
        info="the stages' order: transformers, llama.cpp (its default chain), or stage names separated by commas "
        "(the ones left out follow, in transformers' order)",
        parse=parse_order,
    ),
)
SAMPLER_PARAMS = tuple(replace(p, group="samplers") for p in SAMPLER_PARAMS)  # the UI's "More samplers" box
_DEFAULTS = {p.name: p.default for p in SAMPLER_PARAMS}
_SWITCHES = ("presence_penalty", "frequency_penalty", "dry_multiplier", "xtc_probability", "top_n_sigma")
SAMPLING_ONLY = ("xtc_probability", "top_n_sigma", "dynatemp_range", "mirostat_tau")
_TITLES = {p.name: p.title for p in SAMPLER_PARAMS}


def samplers_on(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The sampler parameters (switches and ``sampler_order``) set away from their off value.

    >>> samplers_on({"dry_multiplier": 0.8, "xtc_threshold": 0.2}), samplers_on({})
    (('dry_multiplier',), ())
    """
    names = (*_SWITCHES, "dynatemp_range", "mirostat_tau", "sampler_order")
    return tuple(n for n in names if n in values and values[n] != _DEFAULTS[n])


def check_samplers(spec: Any, values: Mapping[str, Any]) -> None:
    """Refuse sampler settings the method cannot run (``spec``: a ``DecodingMethod``; ``values``: resolved).

    Beam and custom methods take none of them; greedy takes the penalties and DRY; Mirostat v2 replaces the
    truncations, so it runs with plain sampling only, and without XTC, top-nσ or a dynamic temperature (as in
    llama.cpp, whose Mirostat mode is temperature then Mirostat).

    Raises:
        InputError: names the setting and why.
    """
    on = samplers_on(values)
    if not on:
        return
    if not spec.streams or spec.custom is not None:
        raise InputError(
            f"{_TITLES[on[0]]} applies to greedy and the sampling methods, not {spec.label}; "
            f"leave it at {_DEFAULTS[on[0]]}.",
            field="params",
        )
    sampling_only = [n for n in on if n in SAMPLING_ONLY]
    if not spec.samples and sampling_only:
        raise InputError(
            f"{_TITLES[sampling_only[0]]} needs a sampling method ({spec.label} takes the most probable token); "
            f"leave it at {_DEFAULTS[sampling_only[0]]}.",
            field="params",
        )
    if "mirostat_tau" in on:
        if spec.key != "sample":
            raise InputError(
                "Mirostat v2 replaces top-k/top-p-style truncation: choose Sampling (sample) for it, "
                f"not {spec.label}.",
                field="params",
            )
        clash = [n for n in sampling_only if n != "mirostat_tau"]
        if clash:
            raise InputError(f"Mirostat v2 does not combine with {_TITLES[clash[0]]}.", field="params")
