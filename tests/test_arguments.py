"""The one checking layer for what callers send (``rsdemo.arguments``): the API's parameters, the decoding parameters
(``Param.check``), the page's number fields; and seed -1, which asks for a random seed that the run reports."""

from __future__ import annotations

import dataclasses
import math

import pytest
from tiny_models import TINY_KEY, build_model, build_tokenizer, tiny_bundle

from rsdemo.arguments import ENDPOINTS, check_call, whole
from rsdemo.backend import Backend
from rsdemo.core.errors import InputError
from rsdemo.core.runtime import detect_runtime
from rsdemo.core.settings import Settings
from rsdemo.decoding import COMMON_PARAMS, METHODS, SEED, resolve_params

# (endpoint, arguments, the parameter's name, what the message must also say): the cases of the user report
WRONG = [
    ("generate", {"method": None}, "method", "got None"),
    ("generate", {"method": 123}, "method", "got 123"),
    ("generate", {"method": ["greedy"]}, "method", "got ['greedy']"),
    ("generate", {"prompt": 123}, "prompt", "must be a string; got 123"),
    ("generate", {"prompt": " \n"}, "prompt", "to generate from"),
    ("generate", {"stop": 5}, "stop", "got 5"),
    ("generate", {"engine": 7}, "engine", "got 7"),
    ("generate", {"chat": "maybe"}, "chat", "true or false"),
    ("generate", {"params": [1, 2]}, "params", "must be an object"),
    ("branch", {"prefix": [10**12, -1]}, "prefix", "item 1 is 1000000000000"),
    ("branch", {"prefix": [3, -1]}, "prefix", "item 2 is -1"),
    ("branch", {"prefix": "3 4"}, "prefix", "got '3 4'"),
    ("next_token", {"position": -5}, "position", "got -5"),
    ("next_token", {"position": 2.5}, "position", "got 2.5"),
    ("next_token", {"position": True}, "position", "got True"),
    ("next_token", {"probes": 5}, "probes", "got 5"),
    ("surprisal", {"prompt": ""}, "prompt", "to score"),
    ("arena", {"methods": ["greedy", None]}, "methods", "item 2 is None"),
    ("arena", {"methods": "greedy"}, "methods", "got 'greedy'"),
    ("arena", {"engines": "llama.cpp"}, "engines", "got 'llama.cpp'"),
    ("beam_tree", {"model": None}, "model", "got None"),
    ("tokenize", {"tokenizer": 42}, "tokenizer", "got 42"),
    ("tokenize", {"text": 42}, "text", "got 42"),
    ("compare", {"tokenizers": ["gpt2", 3]}, "tokenizers", "item 2 is 3"),
    ("decode", {"ids": 15496}, "ids", "got 15496"),
    ("decode", {"ids": ["a"]}, "ids", "item 1 is 'a'"),
]


@pytest.mark.parametrize(
    ("endpoint", "arguments", "name", "said"),
    WRONG,
    ids=[f"{e}-{next(iter(a))}-{a[next(iter(a))]!r}"[:50] for e, a, _, _ in WRONG],
)
def test_a_wrong_value_gets_one_sentence_naming_the_parameter(
    endpoint: str, arguments: dict, name: str, said: str
) -> None:
    with pytest.raises(InputError) as err:
        check_call(endpoint, arguments)
    message = str(err.value)
    assert message.startswith(name + " ") and said in message, message
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence


def test_every_decoding_parameter_names_itself_and_its_range() -> None:
    for method in METHODS:
        with pytest.raises(
            InputError,
            match=r"Max new tokens \(max_new_tokens\) must be a whole number between 1 "
            r"and \d+; got 8\.7\.",
        ):
            resolve_params(method=method, params={"max_new_tokens": 8.7})
    with pytest.raises(InputError, match=r"^Temperature must be a number between 0\.05 and 2; got 'hot'\.$"):
        resolve_params(method="sample", params={"temperature": "hot"})
    with pytest.raises(InputError, match=r"^Early stopping \(early_stopping\) must be true or false; got 'perhaps'"):
        resolve_params(method="beam", params={"early_stopping": "perhaps"})


@pytest.mark.parametrize("value", ["8", " 8 ", 8, 8.0, "8.0"])
def test_a_number_spelled_as_text_is_that_number_everywhere(value: object) -> None:
    assert resolve_params(method="greedy", params={"max_new_tokens": value})["max_new_tokens"] == 8
    assert check_call("next_token", {"position": value})["position"] == 8
    assert check_call("branch", {"prefix": [value]})["prefix"] == [8]
    assert whole(value, name="At token #", minimum=1) == 8


@pytest.mark.parametrize("value", [1.5, "1.5", 2.5, True, None, "", "eight", math.nan, math.inf, "inf", [8], {}])
def test_a_whole_number_is_never_rounded_or_guessed(value: object) -> None:
    with pytest.raises(
        InputError,
        match=r"^Seed must be a whole number between 0 and 2,147,483,647, or -1 for a "
        r"random seed; got ",
    ):
        SEED.check(value)
    with pytest.raises(InputError, match="^position must be a whole number from 0 up"):
        check_call("next_token", {"position": value})


def test_seed_minus_one_is_a_random_seed_and_nothing_else_below_zero_is() -> None:
    assert SEED.check(-1) == -1 == SEED.check("-1") == SEED.check(-1.0)
    for wrong in (-2, 2**31, 99_999_999_999):
        with pytest.raises(InputError, match="or -1 for a random seed"):
            SEED.check(wrong)
    assert "-1" in SEED.help and "2,147,483,647" in SEED.help  # the page's help text, from the preset data
    assert SEED in COMMON_PARAMS


def test_the_table_checks_only_parameters_it_knows_and_normalises_them() -> None:
    checked = check_call(
        "generate",
        {
            "request": object,
            "chat": "yes",
            "params": None,
            "engine": None,
            "stop": None,
            "method": "greedy",
            "prompt": "hi",
            "model": "m",
        },
    )
    assert checked["chat"] is True and checked["params"] == {} and checked["engine"] == "" and checked["stop"] == ""
    assert checked["request"] is object  # Gradio's request passes as it is
    assert set(ENDPOINTS) == {
        "tokenize",
        "compare",
        "decode",
        "language_cost",
        "explain",
        "vocab",
        "generate",
        "branch",
        "beam_tree",
        "arena",
        "surprisal",
        "next_token",
        "logit_lens",
        "lens_probe",
        "attention",
        "model_diff",
    }


CPU = detect_runtime(environ={}, cuda_available=False, mps_available=False)


@pytest.fixture(scope="module")
def tiny_backend(settings: Settings) -> Backend:
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    return Backend(
        settings=dataclasses.replace(settings),
        runtime=CPU,
        model_loader=lambda key: tiny_bundle(model, tokenizer, key=key),
    )


def _final(backend: Backend, **kwargs):
    *_, final = backend.generate(model=TINY_KEY, prompt="Hello world", **kwargs)
    return final


def test_seed_minus_one_draws_a_seed_the_run_reports_and_that_seed_repeats_the_run(tiny_backend: Backend) -> None:
    params = {"max_new_tokens": 8, "seed": -1, "top_p": 0.95}
    drawn = [_final(tiny_backend, method="top_p", params=params) for _ in range(3)]
    seeds = [run.seed for run in drawn]
    assert all(0 <= s <= SEED.maximum for s in seeds) and len(set(seeds)) == 3, seeds
    first = drawn[0]
    assert first.params["seed"] == first.seed and f"torch.manual_seed({first.seed})" in first.code
    again = _final(tiny_backend, method="top_p", params={**params, "seed": first.seed})
    assert [t.id for t in again.tokens] == [t.id for t in first.tokens]


def test_an_arenas_runs_share_the_seed_drawn_for_it(tiny_backend: Backend) -> None:
    *_, last = tiny_backend.arena(
        model=TINY_KEY, prompt="Hello world", methods=["top_k", "top_p"], params={"max_new_tokens": 4, "seed": "-1"}
    )
    assert len({run.seed for run in last.runs}) == 1 and last.runs[0].seed >= 0


def test_the_backend_names_a_wrong_branch_or_position(tiny_backend: Backend) -> None:
    with pytest.raises(InputError, match=r"^prefix must be a list of token ids.*item 2 is -1\.$"):
        _final(tiny_backend, method="greedy", params={"max_new_tokens": 2}, prefix=[5, -1])
    with pytest.raises(InputError, match=r"^position must be a whole number from 0 up .*; got -5\.$"):
        tiny_backend.next_token(model=TINY_KEY, prompt="Hello world", position=-5)
    with pytest.raises(InputError, match="Type a prompt to score"):
        tiny_backend.surprisal(model=TINY_KEY, prompt="  ")
