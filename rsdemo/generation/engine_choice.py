"""Which engine runs a request, and which models there are: the engines' capabilities weighed, no run started.

The engine asked for runs a request if it can, or the fastest that can; a model only the operator's server has
runs there or nowhere. Every engine answers every question (``GenerationEngine`` declares each with a default):
``serving``, ``exclusive``, ``serves``, ``refuses``, ``config``, ``set_aside``; no attribute is guessed at.

>>> resolve_key("hf:Qwen/Qwen2.5-0.5B", registry={"gpt2": None}, kind="model")
'Qwen/Qwen2.5-0.5B'
>>> resolve_key("gpt2", registry={"gpt2": None}, kind="model")
'gpt2'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..catalog import MODELS
from ..core.errors import EngineFailedError, InputError, UnknownKeyError
from ..decoding import METHODS, resolve_params
from ..loading import model_installed, parse_hub_ref, require_installed
from .engine import GenerationEngine
from .model_pool import ModelPool

__all__ = [
    "EngineChoice",
    "is_exclusive",
    "is_serving",
    "method_refusal",
    "model_refusal",
    "refusal",
    "resolve_key",
    "served_config",
    "set_aside",
]


def is_serving(engine: GenerationEngine) -> bool:
    """Whether ``engine`` is the operator's server (a ``ServingEngine``): no weights here, no local slot."""
    return engine.serving


def is_exclusive(engine: GenerationEngine, name: str) -> bool:
    """Whether ``engine`` alone has ``name`` (a model only the operator's server serves)."""
    return engine.exclusive(name)


def served_config(engine: GenerationEngine) -> Any:
    """The server configuration of a serving engine (its ``config``), or None."""
    return engine.config


def model_refusal(engine: GenerationEngine, model: str) -> str | None:
    """Why ``engine`` does not serve ``model`` (its ``serves``), or None."""
    return engine.serves(model)


def method_refusal(engine: GenerationEngine, method: str, values: dict | None) -> str | None:
    """Why ``engine`` cannot run ``method`` with these parameter values (its ``refuses``), or None."""
    return engine.refuses(method=method, values=values or {})


def set_aside(engine: GenerationEngine, err: EngineFailedError) -> None:
    """Set ``engine`` aside for the process after a crash of the machine's doing (its ``set_aside``)."""
    if err.machine:
        engine.set_aside(err)


def refusal(engine: GenerationEngine, model: str, method: str, device: str, values: dict | None = None) -> str | None:
    """Why ``engine`` cannot run this request here (None: it can)."""
    return (
        engine.missing()
        or model_refusal(engine, model)
        or method_refusal(engine, method, values)
        or engine.capabilities.refuses(method=method, device=device)
    )


def resolve_key(name: str | None, *, registry: Mapping[str, object], kind: str) -> str:
    """A registry key as it is, or a Hub ref (``owner/name[@rev]``, ``hf:name``) validated and normalised."""
    if name is not None and not isinstance(name, str):
        raise UnknownKeyError(kind=kind, key=repr(name), known=registry)
    name = (name or "").strip()
    if name in registry:
        return name
    if "/" in name or name.startswith("hf:"):
        ref = parse_hub_ref(name)
        return f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id
    raise UnknownKeyError(kind=kind, key=name, known=registry)


class EngineChoice:
    """The engines, and the models they have, weighed for a request.

    Args:
        engines: the generation engines by name, fastest first.
        models: the model pool (its ``runtime`` says which device the engines run on).
    """

    def __init__(self, *, engines: Mapping[str, GenerationEngine], models: ModelPool) -> None:
        self.engines = engines
        self.models = models

    def served_only(self, name: str) -> GenerationEngine | None:
        """The engine that alone has this model (a model only the operator's server serves), or None."""
        for engine in self.engines.values():
            if is_exclusive(engine, name):
                return engine
        return None

    def needs_weights(self, name: str, what: str) -> None:
        """Refuse a view that needs the model's weights here for a model only a server has."""
        engine = self.served_only(name)
        if engine is not None:
            raise InputError(
                f"{what} needs the model's weights on this machine; {name} is only served by "
                f"{engine.capabilities.label}.",
                field="model",
            )

    def resolve_model(self, model: str) -> str:
        """A catalog model key, a model only the operator's server has, or a validated Hub ref.

        Raises:
            UnknownKeyError: neither a catalog key nor shaped like a repo id.
            InvalidRepoIdError: shaped like a path or repo id but not a valid one.
            AssetMissingError: an opt-in embedded model whose packages are not installed (the message says how).
        """
        if isinstance(model, str) and self.served_only(model.strip()) is not None:
            return model.strip()
        key = resolve_key(model, registry=MODELS, kind="model")
        if key in MODELS:
            require_installed(MODELS[key])  # an opt-in model not installed here: how to install it
        return key

    def model_choices(self) -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the model dropdown (a model only the operator's server has comes last)."""
        choices = [(spec.label, spec.key) for spec in MODELS.values() if model_installed(spec)]
        for engine in self.engines.values():
            config = served_config(engine)
            if config is not None and config.model not in MODELS:
                choices.append((f"{config.model} (served by {config.kind.label})", config.model))
        return choices

    def model_choices_here(self, *, hub_problem: str = "") -> list[tuple[str, str]]:
        """``model_choices`` less the Hub's models when ``hub_problem`` says the Hub cannot be used."""
        if not hub_problem:
            return self.model_choices()
        hub_models = {spec.key for spec in MODELS.values() if spec.source == "hub"}
        return [(label, key) for label, key in self.model_choices() if key not in hub_models]

    def choose_engine(
        self, *, model: str, method: str, engine: str | None = None, params: dict | None = None
    ) -> tuple[GenerationEngine, str]:
        """The engine that runs a request, and why: the one asked for, or the fastest that can.

        A model only the operator's server has runs there or nowhere: a method the server cannot run is
        refused with the server's reason.

        Raises:
            UnknownKeyError: an engine name that does not exist.
            InputError: the engine asked for cannot run this method, model or device here (the message says why).
        """
        runtime = self.models.runtime
        device = "cuda" if runtime.kind == "zerogpu" else runtime.device
        name = self.resolve_model(model)
        values = resolve_params(method=method, params=params)
        only = self.served_only(name)
        if only is not None and engine and engine != only.capabilities.name:
            raise InputError(f"{name} is only served by {only.capabilities.label}.", field="engine")
        if engine:
            chosen = self.engines.get(engine)
            if chosen is None:
                raise UnknownKeyError(kind="engine", key=engine, known=self.engines)
            reason = refusal(chosen, name, method, device, values)
            if reason:
                raise InputError(reason, field="engine")
            return chosen, f"{chosen.capabilities.label}, as asked."
        if only is not None:
            reason = refusal(only, name, method, device, values)
            if reason:
                raise InputError(f"{METHODS[method].label} is not available for {name}: {reason}", field="method")
            return only, f"{only.capabilities.label}: the only engine that has {name}."
        passed_over: list[str] = []
        for candidate in self.engines.values():
            reason = refusal(candidate, name, method, device, values)
            if reason is None:
                why = f"{candidate.capabilities.label}: the fastest engine for {method} on {device} here"
                return candidate, why + (f" ({' '.join(passed_over)})" if passed_over else ".")
            passed_over.append(reason)
        raise InputError(f"No engine can run {method} here: {' '.join(passed_over)}", field="engine")

    def served(self, request: Mapping[str, Any]) -> bool:
        """Whether the operator's server takes this generation request (on ZeroGPU it then asks for no GPU); a
        request the run will refuse counts as not served (the run raises the clear error)."""
        try:
            chosen, _ = self.choose_engine(
                model=request["model"],
                method=request.get("method", "greedy"),
                engine=request.get("engine"),
                params=request.get("params"),
            )
        except Exception:  # noqa: BLE001 - the run itself raises the clear error
            return False
        return is_serving(chosen)
