"""Decoding methods as data: one preset per method, every parameter with its range, label and default.

The UI sliders, the CLI flags and the validation are all generated from these presets, so a default or
a range is stated exactly once. Each preset pins every strategy field of ``GenerationConfig``: a field
left unset would be filled from the model's own ``generation_config`` (a "greedy" preset that does not
say ``do_sample=False`` samples on a model whose defaults say ``do_sample=True``).

>>> config = generation_config(method="top_p", params={"top_p": 0.8}, max_new_tokens=16)
>>> (config.do_sample, config.top_p, config.top_k, config.temperature)
(True, 0.8, 0, 1.0)
>>> get_method("top_p").expected_mode
'sample'
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..arguments import mapping
from ..core.errors import InputError
from ..core.registry import Registry
from ..core.settings import get_settings
from .param import Param
from .samplers import SAMPLER_PARAMS, check_samplers

__all__ = [
    "COMMON_PARAMS",
    "INSIDE_PARAMS",
    "METHODS",
    "RANDOM_SEED",
    "SAMPLER_PARAMS",
    "SEED",
    "BEAM_DEFAULTS",
    "SAMPLING_DEFAULTS",
    "STRATEGY_DEFAULTS",
    "DecodingMethod",
    "Param",
    "asks_random_seed",
    "draw_seed",
    "generation_config",
    "get_method",
    "resolve_params",
]


# Every strategy field at the value that switches its effect off. Fields left None would be filled from
# the model's generation_config (and then transformers' global defaults, e.g. top_k=50), so each is pinned;
# the sampling-only and beam-only ones are pinned when they can act and left None (inert) otherwise,
# because GenerationConfig.validate(strict=True) refuses sampling flags on a greedy config.
STRATEGY_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "do_sample": False,
        "num_beams": 1,
        "num_return_sequences": 1,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
    }
)
SAMPLING_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "temperature": 1.0,
        "top_k": 0,
        "top_p": 1.0,
        "min_p": 0.0,
        "typical_p": 1.0,
        "epsilon_cutoff": 0.0,
        "eta_cutoff": 0.0,
    }
)
BEAM_DEFAULTS: Mapping[str, Any] = MappingProxyType({"length_penalty": 1.0, "early_stopping": False})

TEMPERATURE = Param(
    "temperature",
    "Temperature",
    1.0,
    0.05,
    2.0,
    0.05,
    info="divides the logits: below 1 sharpens the distribution, above 1 flattens it",
)
NUM_BEAMS = Param("num_beams", "Beams", 4, 2, 8, 1, "int", "hypotheses kept at every step")
LENGTH_PENALTY = Param(
    "length_penalty",
    "Length penalty",
    1.0,
    -2.0,
    2.0,
    0.1,
    info="score = log-prob / length^penalty; above 0 favours longer outputs",
)
EARLY_STOPPING = Param(
    "early_stopping", "Early stopping", True, kind="bool", info="stop when every beam has a finished hypothesis"
)
RANDOM_SEED = -1  # the seed that asks for a random one: each run draws its own, and reports it
SEED = Param(
    "seed",
    "Seed",
    0,
    0,
    2**31 - 1,
    1,
    "int",
    "the same seed reproduces the run; -1 draws a new one for each run, shown after it",
    RANDOM_SEED,
)

COMMON_PARAMS: tuple[Param, ...] = (
    Param("max_new_tokens", "Max new tokens", 64, 1, get_settings().max_new_tokens, 1, "int"),
    Param(
        "repetition_penalty",
        "Repetition penalty",
        1.0,
        1.0,
        2.0,
        0.05,
        info="divides the logits of tokens already in the text (CTRL paper)",
    ),
    Param(
        "no_repeat_ngram_size",
        "No-repeat n-gram size",
        0,
        0,
        10,
        1,
        "int",
        info="forbid any n-gram of this size from appearing twice (0: off)",
    ),
    SEED,
    *SAMPLER_PARAMS,  # rsdemo's own stages (DRY, XTC, Mirostat ...: ``rsdemo.decoding.samplers``), off by default
)
# the common parameters the Inside tab's stage view takes (no length; the seed is XTC's draw)
INSIDE_PARAMS: tuple[Param, ...] = tuple(
    p for p in COMMON_PARAMS if p.name in ("repetition_penalty", "seed") or p in SAMPLER_PARAMS
)


@dataclass(frozen=True, slots=True)
class DecodingMethod:
    """A decoding method.

    Attributes:
        key: the registry key (``top_p``).
        label: what the UI shows.
        description: one sentence on what it does.
        params: the method's own parameters (shown only for this method).
        fixed: ``GenerationConfig`` fields the method pins (over ``STRATEGY_DEFAULTS``).
        expected_mode: what ``GenerationConfig.get_generation_mode()`` must say (``custom`` for ours).
        streams: single-sequence: tokens stream as they are chosen; beam methods stream their leading candidate
            (no probabilities yet) and show all beams at the end.
        custom: key of a project-implemented decoding loop (``rsdemo.custom_decoding``), or None.
        samples: the method draws random numbers (the seed matters).
    """

    key: str
    label: str
    description: str
    params: tuple[Param, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    expected_mode: str = "greedy_search"
    streams: bool = True
    custom: str | None = None
    samples: bool = False


_SAMPLE = {"do_sample": True}
_METHODS = (
    DecodingMethod("greedy", "Greedy", "Always the most probable next token.", ()),
    DecodingMethod(
        "beam",
        "Beam search",
        "Keep the best `beams` partial outputs by total log-probability; all are returned.",
        (NUM_BEAMS, LENGTH_PENALTY, EARLY_STOPPING),
        expected_mode="beam_search",
        streams=False,
    ),
    DecodingMethod(
        "sample",
        "Sampling",
        "Draw the next token from the whole distribution (after temperature).",
        (TEMPERATURE,),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "top_k",
        "Top-k sampling",
        "Sample among the k most probable tokens.",
        (TEMPERATURE, Param("top_k", "Top-k", 50, 1, 500, 1, "int")),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "top_p",
        "Top-p (nucleus) sampling",
        "Sample among the fewest tokens whose probabilities add up to p.",
        (TEMPERATURE, Param("top_p", "Top-p", 0.9, 0.01, 1.0, 0.01)),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "min_p",
        "Min-p sampling",
        "Keep tokens at least min_p times as probable as the most probable one.",
        (TEMPERATURE, Param("min_p", "Min-p", 0.05, 0.001, 1.0, 0.001)),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "typical",
        "Typical sampling",
        "Keep tokens whose surprisal is closest to the distribution's entropy, up to mass p.",
        (TEMPERATURE, Param("typical_p", "Typical-p", 0.9, 0.01, 1.0, 0.01)),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "epsilon",
        "Epsilon sampling",
        "Drop tokens below a fixed probability epsilon.",
        (TEMPERATURE, Param("epsilon_cutoff", "Epsilon", 3e-4, 1e-5, 0.05, 1e-5)),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "eta",
        "Eta sampling",
        "Drop tokens below an entropy-dependent threshold eta.",
        (TEMPERATURE, Param("eta_cutoff", "Eta", 1e-3, 1e-5, 0.05, 1e-5)),
        _SAMPLE,
        "sample",
        samples=True,
    ),
    DecodingMethod(
        "beam_sample",
        "Beam sampling",
        "Beam search whose candidates are drawn by sampling.",
        (NUM_BEAMS, TEMPERATURE, LENGTH_PENALTY, EARLY_STOPPING),
        _SAMPLE,
        "beam_sample",
        streams=False,
        samples=True,
    ),
    DecodingMethod(
        "contrastive",
        "Contrastive search",
        "Among the top-k tokens, trade probability against similarity to the text so far (Su et al., 2022).",
        (
            Param("penalty_alpha", "Penalty alpha", 0.6, 0.0, 1.0, 0.05, info="0 is greedy"),
            Param("top_k", "Top-k candidates", 4, 1, 20, 1, "int"),
        ),
        expected_mode="custom",
        custom="contrastive",
    ),
    DecodingMethod(
        "diverse_beam",
        "Diverse beam search",
        "Beam groups penalised for picking what earlier groups picked (Vijayakumar et al., 2016).",
        (
            NUM_BEAMS,
            Param("num_beam_groups", "Beam groups", 2, 1, 8, 1, "int"),
            Param("diversity_penalty", "Diversity penalty", 0.5, 0.0, 5.0, 0.1),
            LENGTH_PENALTY,
            EARLY_STOPPING,
        ),
        expected_mode="custom",
        streams=False,
        custom="diverse_beam",
    ),
)

METHODS: Registry[DecodingMethod] = Registry("decoding method", ((m.key, m) for m in _METHODS))
_COMMON = {p.name: p for p in COMMON_PARAMS}


def get_method(key: str) -> DecodingMethod:
    """Look a method up by key.

    Raises:
        UnknownKeyError: lists the known methods.
    """
    return METHODS.get(key)


def resolve_params(*, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The method's parameters and the common ones, defaults filled in and every value range-checked.

    Unknown names are refused, so a typo never silently falls back to a default.

    Raises:
        InputError: an unknown parameter name or a value out of range.
    """
    spec = get_method(method)
    own = {p.name: p for p in spec.params}
    given = mapping(params, name="params", example='{"max_new_tokens": 32}')
    unknown = set(given) - set(own) - set(_COMMON)
    if unknown:
        shown = sorted(str(name)[:40] for name in unknown)[:5]
        raise InputError(
            f"{spec.label} has no parameter {', '.join(shown)}; it takes: {', '.join([*own, *_COMMON])}.",
            field="params",
        )
    resolved = {}
    for name, param in {**_COMMON, **own}.items():
        resolved[name] = param.check(given[name]) if given.get(name) is not None else param.default
    if method in {"beam", "beam_sample", "diverse_beam"}:
        resolved["num_return_sequences"] = resolved["num_beams"]
    if method == "diverse_beam" and resolved["num_beams"] % resolved["num_beam_groups"]:
        raise InputError(
            f"Beams ({resolved['num_beams']}) must be a multiple of beam groups ({resolved['num_beam_groups']}).",
            field="params",
        )
    check_samplers(spec, resolved)
    return resolved


def asks_random_seed(params: object) -> bool:
    """Whether ``params`` asks for a random seed (``seed`` is -1, as a number or as text); a wrong seed does not.

    >>> asks_random_seed({"seed": -1.0}), asks_random_seed({"seed": "-1"}), asks_random_seed({"seed": 3})
    (True, True, False)
    """
    if not isinstance(params, Mapping) or params.get("seed") is None:
        return False
    try:
        return SEED.check(params["seed"]) == RANDOM_SEED
    except InputError:
        return False


def draw_seed(params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``params`` with a seed of -1 replaced by one drawn now (a new dict), else ``params`` itself.

    Called once per request, before the run, so every stage of it (the engine, the reproduce code, the reply's
    ``seed``) sees the same seed, and an arena's runs share it.

    >>> 0 <= draw_seed({"seed": -1, "top_p": 0.9})["seed"] <= SEED.maximum
    True
    >>> draw_seed({"seed": 5})
    {'seed': 5}
    """
    if not asks_random_seed(params):
        return params
    return {**params, "seed": secrets.randbelow(int(SEED.maximum) + 1)}  # type: ignore[arg-type, dict-item]


def generation_config(
    *, method: str, params: Mapping[str, Any] | None = None, max_new_tokens: int | None = None, **extra: Any
) -> Any:
    """Build and validate the ``GenerationConfig`` for a method (strict: contradictory settings raise).

    Every strategy field is pinned. Custom methods (contrastive, diverse beam) get a greedy/beam base
    config here; their own parameters travel to their decoding loop (see ``custom_kwargs``).

    Raises:
        InputError: bad parameters, or a combination ``GenerationConfig.validate(strict=True)`` refuses.
    """
    from transformers import GenerationConfig

    spec = get_method(method)
    given = dict(params or {})
    if max_new_tokens is not None:
        given["max_new_tokens"] = max_new_tokens
    values = resolve_params(method=method, params=given)
    fields: dict[str, Any] = {**STRATEGY_DEFAULTS, **spec.fixed}
    if fields["do_sample"]:
        fields.update(SAMPLING_DEFAULTS)
    if "num_beams" in values:
        fields.update(BEAM_DEFAULTS)
    custom_only = set(custom_kwarg_names(method)) | {p.name for p in SAMPLER_PARAMS}  # not GenerationConfig's
    for name, value in values.items():
        if name not in custom_only and name != "seed" and not (spec.custom == "contrastive" and name == "top_k"):
            fields[name] = value
    fields.update(extra)
    try:
        config = GenerationConfig(**fields)
        config.validate(strict=True)
    except ValueError as err:
        raise InputError(f"These {spec.label} settings do not work together: {err}", field="params") from None
    return config


def custom_kwarg_names(method: str) -> tuple[str, ...]:
    """Parameters that go to a project-implemented decoding loop rather than ``GenerationConfig``."""
    return {"contrastive": ("penalty_alpha", "top_k"), "diverse_beam": ("num_beam_groups", "diversity_penalty")}.get(
        get_method(method).custom or "", ()
    )
