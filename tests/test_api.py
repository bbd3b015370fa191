"""Wiring: the real app on 127.0.0.1, every named endpoint called through gradio_client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server_url: str) -> Client:
    return Client(server_url, verbose=False)


def test_the_named_endpoints_are_the_api(client: Client) -> None:
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {
        "/tokenize",
        "/compare",
        "/decode",
        "/generate",
        "/surprisal",
        "/next_token",
        "/arena",
        "/branch",
        "/beam_tree",
        "/language_cost",
        "/explain",
        "/vocab",
        "/logit_lens",
        "/lens_probe",
        "/attention",
        "/model_diff",
    }  # the page's own events are private


EXPECTED_KEYS = {
    "/tokenize": "'segments'",
    "/compare": "'differing'",
    "/decode": "'Hello world'",
    "/generate": "'finish_reason'",
    "/surprisal": "'perplexity'",
    "/next_token": "'entropy_bits'",
    "/arena": "'diverges_at'",
    "/branch": "'finish_reason'",
    "/beam_tree": "'status'",
    "/language_cost": "'relative_to_english'",
    "/explain": "'chunk_tokens'",
    "/vocab": "'entries'",
    "/logit_lens": "'cells'",
    "/lens_probe": "'top'",
    "/attention": "'attended_to'",
    "/model_diff": "'segments'",
}


@pytest.fixture(scope="module")
def api_info(server_url: str) -> dict:
    return httpx.get(f"{server_url}/gradio_api/info", timeout=30).json()["named_endpoints"]


def test_the_api_page_names_and_types_every_parameter_and_return(api_info: dict) -> None:
    for name, endpoint in api_info.items():
        # every parameter has a working example: the page never shows "..." (or None) as a value to send
        assert all(
            p["parameter_has_default"] and p["example_input"] not in ("...", None) for p in endpoint["parameters"]
        ), name
        (reply,) = endpoint["returns"]
        assert reply["python_type"]["type"].startswith("dict("), name  # a typed reply, not "Any"
        assert reply["label"] in {
            "tokenized",
            "comparison",
            "decoded",
            "generation",
            "surprisal",
            "next_token",
            "arena",
            "beam_tree",
            "language_cost",
            "explanation",
            "vocabulary",
            "logit_lens",
            "lens_probe",
            "attention",
            "model_diff",
        }, name
        assert endpoint["description"], name
    tokens = api_info["/tokenize"]["returns"][0]["python_type"]["type"]
    assert "ids: list[int]" in tokens and "segments: list[dict(text: str" in tokens


@pytest.mark.parametrize("endpoint", sorted(EXPECTED_KEYS))
def test_every_python_example_on_the_api_page_runs_as_shown(api_info: dict, endpoint: str) -> None:
    snippet = api_info[endpoint]["code_snippets"]["python"]
    ran = subprocess.run(
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert EXPECTED_KEYS[endpoint] in ran.stdout


@pytest.mark.parametrize("endpoint", ["/tokenize", "/decode", "/compare"])
def test_every_curl_example_on_the_api_page_runs(api_info: dict, endpoint: str) -> None:
    """The curl example reads the event id with ``| read EVENT_ID``: it runs in zsh, or in bash with lastpipe."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    snippet = api_info[endpoint]["code_snippets"]["bash"]
    ran = subprocess.run(["bash", "-O", "lastpipe", "-c", snippet], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "event: complete" in ran.stdout and EXPECTED_KEYS[endpoint].strip("'") in ran.stdout


def test_the_readme_api_example_runs(server_url: str) -> None:
    readme = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    block = readme.split("**API**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code = block.replace("http://127.0.0.1:7860/", server_url.rstrip("/") + "/")
    ran = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Hello world" in ran.stdout and "'raw_prob'" in ran.stdout


def test_insight_endpoints(client: Client) -> None:
    scored = client.predict("The capital of France is", "smollm2-135m-instruct", False, api_name="/surprisal")
    assert scored["tokens"][0]["text"] == "<|endoftext|>"  # a plain text is scored as a document starts
    assert scored["tokens"][0]["logprob"] is None and all(t["logprob"] < 0 for t in scored["tokens"][1:])
    assert scored["tokens"][1]["text"] == "The"  # so the first word is scored too
    assert scored["perplexity"] > 1 and scored["most_surprising"]
    staged = client.predict(
        "The capital of France is",
        "smollm2-135m-instruct",
        False,
        "top_p",
        {"top_p": 0.5},
        "Paris",
        api_name="/next_token",
    )
    names = [stage["name"] for stage in staged["stages"]]
    assert names[0] == "raw" and "top-p" in names and staged["samples"]
    top_p = staged["stages"][names.index("top-p")]
    assert top_p["survivors"] < staged["stages"][0]["survivors"]
    if top_p["survivors"] <= 10:  # every survivor is listed: renormalised, they sum to 1
        assert sum(c["prob"] for c in top_p["top"]) == pytest.approx(1.0, abs=1e-3)
    assert staged["stages"][0]["top"][0]["text"] == " Paris"  # the embedded model knows
    probes = {p["typed"]: p for p in staged["stages"][0]["probes"]}
    assert set(probes) == {"Paris", " Paris"}  # a word is also tried with a leading space
    assert probes[" Paris"]["rank"] == 1 and probes[" Paris"]["id"] == staged["stages"][0]["top"][0]["id"]
    assert probes["Paris"]["rank"] > 1


def test_layers_endpoints(client: Client) -> None:
    """The lens' last row is the model's own next-token choice (as /next_token's raw stage says); /lens_probe re-reads
    the kept pass; /attention's rows sum to 1 and carry the note."""
    prompt = "The capital of France is"
    lens = client.predict(prompt, "smollm2-135m-instruct", False, "Paris", -1, api_name="/logit_lens")
    staged = client.predict(prompt, "smollm2-135m-instruct", False, "greedy", {}, "", api_name="/next_token")
    raw = staged["stages"][0]["top"][0]
    assert lens["layers"][0] == "emb" and len(lens["layers"]) == 31  # the embeddings and 30 layers
    assert lens["final"][-1]["id"] == raw["id"] and lens["cells"][-1][-1]["id"] == raw["id"]
    assert lens["final"][-1]["prob"] == pytest.approx(raw["prob"], abs=2e-3)
    assert all(row[-1]["final_rank"] == 1 for row in lens["cells"])  # the last row's top is the final choice
    probe = {p["text"]: p for p in lens["probes"]}
    assert probe["Paris"]["exact"] and len(probe["Paris"]["probs"]) == 31
    cell = client.predict(prompt, "smollm2-135m-instruct", False, "London", -1, 0, api_name="/lens_probe")
    assert cell["layer"] == "emb" and len(cell["top"]) == 10 and cell["probes"][0]["text"] == "London"
    last = client.predict(prompt, "smollm2-135m-instruct", False, "", -1, -1, api_name="/lens_probe")
    assert last["top"][0]["id"] == raw["id"] and last["probes"] == []
    att = client.predict(prompt, "smollm2-135m-instruct", False, 3, -1, -1, api_name="/attention")
    assert att["layer"] == 3 and "not explanations" in att["note"] and len(att["weights"]) == len(att["kv_head"])
    n = len(att["ids"])
    for matrix in att["weights"].values():
        assert len(matrix) == n and all(sum(row) == pytest.approx(1.0, abs=2e-2) for row in matrix)
    assert sum(att["attended_to"]) == pytest.approx(1.0, abs=2e-2) and len(att["attended_to"]) == n
    one = client.predict(prompt, "smollm2-135m-instruct", False, 3, 4, 2, api_name="/attention")
    assert list(one["weights"]) == ["4"] and one["attended_to"] == one["weights"]["4"][2][:3]
    with pytest.raises(Exception, match="position"):
        client.predict(prompt, "smollm2-135m-instruct", False, 3, -1, 999, api_name="/attention")
    with pytest.raises(Exception, match="layer"):
        client.predict(prompt, "smollm2-135m-instruct", False, 99, -1, -1, api_name="/attention")


def test_model_diff_endpoint(client: Client) -> None:
    """One model on two engines: the same tokens on both sides, nearly the same bits (other arithmetic); a wrong
    engine is one sentence."""
    text = "The capital of France is Paris."
    reply = client.predict(text, "smollm2-135m-instruct", "smollm2-135m-instruct", "transformers", "llama.cpp",
                           api_name="/model_diff")  # fmt: skip
    a, b = reply["a"], reply["b"]
    assert (a["engine"], b["engine"]) == ("transformers", "llama.cpp")
    assert [t["id"] for t in a["tokens"]] == [t["id"] for t in b["tokens"]]
    assert "".join(t["text"] for t in a["tokens"]) == text
    assert all(abs(seg["delta_bits"]) < 0.5 for seg in reply["segments"] if seg["delta_bits"] is not None)
    with pytest.raises(Exception, match="engine"):
        client.predict(text, "smollm2-135m-instruct", "smollm2-135m-instruct", "transformers", "warp-drive",
                       api_name="/model_diff")  # fmt: skip


def test_arena_endpoint(client: Client) -> None:
    result = client.predict(
        "Name a colour.",
        "smollm2-135m-instruct",
        ["greedy", "top_k"],
        {"max_new_tokens": 12, "seed": 5},
        True,
        api_name="/arena",
    )
    assert result["done"] and [o["method"] for o in result["outputs"]] == ["greedy", "top_k"]
    greedy = client.predict(
        "Name a colour.",
        "smollm2-135m-instruct",
        "greedy",
        {"max_new_tokens": 12, "seed": 5},
        True,
        "",
        "",
        api_name="/generate",
    )
    assert result["outputs"][0]["tokens"] == [t["id"] for t in greedy["tokens"]]  # as the method alone gives
    for output in result["outputs"]:
        assert 0 < output["distinct_1"] <= 1 and output["length"] == len(output["tokens"]) <= 12


def test_branch_endpoint(client: Client) -> None:
    prompt, params = "Name a colour.", {"max_new_tokens": 10}
    original = client.predict(prompt, "smollm2-135m-instruct", "greedy", params, True, "", "", api_name="/generate")
    ids = [t["id"] for t in original["tokens"]]
    same = client.predict(
        prompt,
        "smollm2-135m-instruct",
        "greedy",
        {"max_new_tokens": 7},
        True,
        original["engine"],
        ids[:3],
        api_name="/branch",
    )
    assert [t["id"] for t in same["tokens"]] == ids[3:]  # the original's own tokens: the original's rest
    other = client.predict(
        prompt,
        "smollm2-135m-instruct",
        "greedy",
        {"max_new_tokens": 7},
        True,
        original["engine"],
        ids[:2] + [504],
        api_name="/branch",
    )
    assert other["done"] and [t["id"] for t in other["tokens"]] != ids[3:]


def test_tokenize_endpoint(client: Client) -> None:
    result = client.predict("Hello world, 你好", "gpt2", False, api_name="/tokenize")
    assert result["ids"] == [15496, 995, 11, 220, 19526, 254, 25001, 121]
    assert [s["text"] for s in result["segments"]] == ["Hello", " world", ",", " ", "你", "好"]
    assert result["stats"]["tokens"] == 8 and result["tokenizer"] == "gpt2" and not result["truncated"]


def test_tokenize_endpoint_adds_special_tokens(client: Client) -> None:
    result = client.predict("hi 🇫", "mistral-v1", True, api_name="/tokenize")
    assert result["ids"] == [1, 12014, 28705, 243, 162, 138, 174]
    assert result["segments"][0]["kind"] == "special"
    assert client.predict(text="hi", tokenizer="char", api_name="/tokenize")["ids"] == [104, 105]  # by name


def test_compare_endpoint(client: Client) -> None:
    result = client.predict("Hello world", ["gpt2", "char", "byte"], False, api_name="/compare")
    assert result["done"] and [r["tokenizer"] for r in result["results"]] == ["gpt2", "char", "byte"]
    assert [r["stats"]["tokens"] for r in result["results"]] == [2, 11, 11]
    assert [r["differing"] for r in result["results"]] == [0, 10, 10]  # every letter but the space


def test_compare_does_not_mark_unknown_tokens_as_disagreements(client: Client) -> None:
    result = client.predict("Hi \U0001f44b there", ["gpt2", "bert-base-uncased"], False, api_name="/compare")
    assert [r["differing"] for r in result["results"]] == [0, 0]  # both split at the same places


def test_decode_endpoint(client: Client) -> None:
    result = client.predict("[15496, 995]", "gpt2", api_name="/decode")
    assert result["text"] == "Hello world"
    assert [t["piece"] for t in result["tokens"]] == ["Hello", "Ġworld"]


# issue 18, item 10: each wrong type or range is one sentence naming the parameter, what it got and what it takes
WRONG_ARGUMENTS = [
    ("/generate", {"method": None}, "method", "got None"),
    ("/generate", {"method": 123}, "method", "got 123"),
    ("/generate", {"method": ["greedy"]}, "method", "got ['greedy']"),
    ("/generate", {"prompt": 123}, "prompt", "got 123"),
    ("/generate", {"params": {"max_new_tokens": 8.7}}, "max_new_tokens", "a whole number between 1 and"),
    ("/generate", {"method": "top_p", "params": {"seed": 1.5}}, "Seed", "or -1 for a random seed; got 1.5"),
    ("/branch", {"prefix": [10**12, -1]}, "prefix", "item 1 is 1000000000000"),
    ("/next_token", {"position": -5}, "position", "a whole number from 0 up (0: after the whole prompt); got -5"),
    ("/surprisal", {"prompt": ""}, "prompt", "type a prompt to score"),
    ("/arena", {"methods": ["greedy", None]}, "methods", "item 2 is None"),
    ("/beam_tree", {"chat": "perhaps"}, "chat", "true or false; got 'perhaps'"),
    ("/tokenize", {"tokenizer": 42}, "tokenizer", "got 42"),
    ("/compare", {"tokenizers": "gpt2"}, "tokenizers", "got 'gpt2'"),
    ("/decode", {"ids": 15496}, "ids", "got 15496"),
]


@pytest.mark.parametrize(
    ("endpoint", "arguments", "name", "said"), WRONG_ARGUMENTS, ids=[f"{e}-{a}"[:60] for e, a, _, _ in WRONG_ARGUMENTS]
)
def test_a_wrong_argument_is_named_in_one_sentence(
    client: Client, endpoint: str, arguments: dict, name: str, said: str
) -> None:
    import re

    with pytest.raises(Exception) as err:
        client.submit(**arguments, api_name=endpoint).result()
    message = str(err.value)
    assert re.search(rf"(^|\W){re.escape(name)}\W", message) and said in message, message
    assert "Something went wrong" not in message and "must be a int" not in message, message


def test_a_number_sent_as_digits_is_taken_as_that_number_everywhere(client: Client) -> None:
    """ "8" is 8 for max_new_tokens in params and for position alike (one rule, in rsdemo.arguments)."""
    run = client.submit(
        prompt="Name a colour.", method="greedy", params={"max_new_tokens": "3"}, api_name="/generate"
    ).result()
    assert run["done"] and len(run["tokens"]) <= 3
    staged = client.predict(
        prompt="The capital of France is", method="greedy", params={}, position="3", api_name="/next_token"
    )
    assert staged["stages"][0]["top"]
    branched = client.submit(
        prompt="Name a colour.",
        method="greedy",
        params={"max_new_tokens": 2},
        prefix=[str(t["id"]) for t in run["tokens"][:1]],
        api_name="/branch",
    ).result()
    assert branched["done"]


def test_seed_minus_one_draws_a_seed_and_the_reply_says_which(client: Client) -> None:
    params = {"max_new_tokens": 4, "seed": -1}
    first = client.submit(prompt="Name a colour.", method="top_k", params=params, api_name="/generate").result()
    assert 0 <= first["seed"] <= 2**31 - 1
    again = client.submit(
        prompt="Name a colour.",
        method="top_k",
        params={**params, "seed": first["seed"]},
        engine=first["engine"],
        api_name="/generate",
    ).result()
    assert [t["id"] for t in again["tokens"]] == [t["id"] for t in first["tokens"]]


def test_every_parameter_of_every_endpoint_is_checked_by_the_one_table(api_info: dict) -> None:
    from rsdemo.arguments import ENDPOINTS

    assert {f"/{name}" for name in ENDPOINTS} == set(api_info)
    for name, checks in ENDPOINTS.items():
        assert {p["parameter_name"] for p in api_info[f"/{name}"]["parameters"]} == set(checks), name


@pytest.mark.parametrize(
    ("endpoint", "args", "message"),
    [
        ("/tokenize", ("", "gpt2", False), "empty"),
        ("/tokenize", ("hi", "gpt5", False), "Known: gpt2"),
        ("/tokenize", ("hi", "../../etc/passwd", False), "not a Hugging Face Hub repo id"),
        ("/tokenize", ("hi", "Qwen/Qwen2.5-0.5B", False), "HF_HUB_OFFLINE"),
        ("/decode", ("[1, two]", "gpt2"), "not a token id"),
        ("/decode", ("[99999999]", "gpt2"), "not an id of the gpt2 vocabulary"),
        ("/compare", ("hi", ["gpt2"], False), "2 to 6"),
    ],
)
def test_bad_input_gets_a_message_and_the_app_keeps_serving(
    client: Client, endpoint: str, args: tuple, message: str
) -> None:
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name=endpoint)
    assert client.predict("ok", "char", False, api_name="/tokenize")["ids"] == [111, 107]


def test_paced_updates_keep_the_first_and_the_last_token_and_a_leaving_client_closes_the_run() -> None:
    """/generate and /branch send at most one update every 0.08 s; each carries the run so far, so the last one
    and the final result always go out, and closing the stream closes the run (its finally stops generation)."""
    import time

    from rsdemo.generation import GenerationResult, PromptInfo
    from rsdemo.generation.results import Beam, GeneratedToken
    from rsdemo.ui import _STREAM_EVERY_S, _paced

    closed: list[bool] = []

    def run(n: int, *, pause: float = 0.0):
        try:
            tokens: tuple[GeneratedToken, ...] = ()
            for i in range(n):
                tokens += (GeneratedToken(i, "a", 0.5, None, (), (), "a", b"a"),)
                yield GenerationResult(
                    model="m",
                    method="greedy",
                    params={},
                    seed=0,
                    prompt=PromptInfo("p", (), True),
                    beams=(Beam("a" * len(tokens), tokens, None),),
                    done=False,
                )
                time.sleep(pause)
            yield GenerationResult(
                model="m",
                method="greedy",
                params={},
                seed=0,
                prompt=PromptInfo("p", (), True),
                beams=(Beam("a" * n, tokens, None),),
                done=True,
            )
        finally:
            closed.append(True)

    fast = list(_paced(run(200)))
    assert len(fast[0].tokens) == 1 and fast[-1].done and len(fast[-1].tokens) == 200 and len(fast) < 10
    slow = list(_paced(run(4, pause=_STREAM_EVERY_S * 1.5)))
    assert [len(r.tokens) for r in slow] == [1, 2, 3, 4, 4]  # a slow run loses no update
    stream = _paced(run(1000, pause=0.001))
    next(stream)
    stream.close()
    assert closed == [True, True, True]


def test_the_server_does_not_search_for_an_absent_matplotlib_on_every_event() -> None:
    """Gradio tries ``import matplotlib`` twice per event call and per streamed step; when it is not installed
    each try walked sys.path (6 % of the app's CPU under load). After ``configure_queue`` a try fails at once,
    with the same ImportError; with matplotlib installed nothing changes."""
    script = r"""
import importlib.machinery, importlib.util, sys
import gradio as gr
from gradio.utils import MatplotlibBackendMananger
from rsdemo.core.settings import Settings
from rsdemo.ui import configure_queue

present = importlib.util.find_spec("matplotlib") is not None
import os
configure_queue(gr.Blocks(), Settings.from_env(os.environ))
searched = []
original = importlib.machinery.PathFinder.find_spec
def counting(name, *args, **kwargs):
    searched.append(name)
    return original(name, *args, **kwargs)
importlib.machinery.PathFinder.find_spec = counting
for _ in range(3):
    with MatplotlibBackendMananger():
        pass
try:
    import matplotlib
    failed = False
except ImportError:
    failed = True
print(present, failed, sorted(set(searched)))
"""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    present, failed, searched = out.stdout.strip().splitlines()[-1].split(" ", 2)
    if present == "True":  # installed: imports as before
        assert failed == "False"
    else:
        assert failed == "True" and searched == "[]", out.stdout
