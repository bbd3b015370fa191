"""The command line: the same backend as the app.

    python -m rsdemo tokenizers
    python -m rsdemo tokenize -t gpt2 "Hello world"
    echo "Hello world" | python -m rsdemo tokenize -t llama3 --json
    python -m rsdemo decode -t gpt2 "[15496, 995]"
    python -m rsdemo explain -t gpt2 --index 1 "Hello unbelievable world"
    python -m rsdemo vocab -t gpt2 --search " the"
    python -m rsdemo models
    python -m rsdemo generate -m smollm2-135m-instruct --method top_p --top-p 0.9 --seed 1 "Tell me a joke"
    python -m rsdemo surprisal "The cat sat on the mat."
    python -m rsdemo next-token --method top_p --top-p 0.9 --probe Paris "The capital of France is"
    python -m rsdemo lens --probe Paris "The capital of France is"
    python -m rsdemo attention --layer 3 --head 4 "The capital of France is"
    python -m rsdemo diff-models --model-b gemma3-270m "The capital of France is Paris."
    python -m rsdemo languages --tokenizers gpt2,llama3 --json
    python -m rsdemo settings

Errors print one clear line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..api import decode_reply, next_token_reply, surprisal_reply, tokenize_reply
from ..backend import Backend
from ..catalog import DEFAULT_MODEL, DEFAULT_TOKENIZER, MODELS, TOKENIZERS
from ..core.errors import InputError, RsdemoError
from ..core.settings import Settings, get_settings, settings_table
from ..decoding import COMMON_PARAMS, METHODS, Param
from ..generation import default_engines
from ..generation.servers import SERVER_KINDS
from ..loading import converted_checkpoint, model_installed
from .explain import COMMANDS as EXPLAIN_COMMANDS
from .explain import add_commands as add_explain_commands
from .explain import run as run_explain
from .export import add_export_flags, export_run, export_tokens
from .languages import add_languages_command, run_languages
from .lens import COMMANDS as LENS_COMMANDS
from .lens import add_commands as add_lens_commands
from .lens import run as run_lens
from .model_diff import COMMANDS as MODEL_DIFF_COMMANDS
from .model_diff import add_commands as add_model_diff_commands
from .model_diff import run as run_model_diff

__all__ = ["main"]

_COLOURS = ("\x1b[43m", "\x1b[46m", "\x1b[42m", "\x1b[45m")
_RESET = "\x1b[0m"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rsdemo", description="Look inside tokenizers, offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tokenizers", help="list the built-in tokenizer keys")
    tok = sub.add_parser("tokenize", help="split TEXT (or standard input) into tokens")
    tok.add_argument(
        "-t",
        "--tokenizer",
        default=DEFAULT_TOKENIZER,
        help=f"a key from `tokenizers` or a Hub repo id (default {DEFAULT_TOKENIZER})",
    )
    tok.add_argument("--special", action="store_true", help="add the tokenizer's special tokens (BOS/CLS/SEP)")
    tok.add_argument("--json", action="store_true", help="print one JSON object: ids, segments, stats")
    add_export_flags(tok)
    tok.add_argument("text", nargs="?", help="the text; read from standard input when omitted")
    dec = sub.add_parser("decode", help="decode token ids to text")
    dec.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER)
    dec.add_argument("--json", action="store_true")
    dec.add_argument("ids", nargs="?", help='ids such as "[15496, 995]" or "15496 995"; standard input when omitted')
    sub.add_parser("models", help="list the decoder models")
    sub.add_parser("settings", help="the limits and defaults in force (set them with RSDEMO_* variables)")
    ckpt = sub.add_parser(
        "checkpoint",
        help="convert an embedded model once into a Hugging Face checkpoint folder "
        "(what vLLM serves) and print its path",
    )
    ckpt.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    gen = sub.add_parser(
        "generate",
        help="generate text with a decoder model",
        description="Generate text. Decoding methods: "
        + " ".join(f"[{m.key}] {m.description}" for m in METHODS.values()),
    )
    gen.add_argument(
        "-m", "--model", default=DEFAULT_MODEL, help=f"a key from `models` or a Hub repo id (default {DEFAULT_MODEL})"
    )
    gen.add_argument("--method", default="greedy", choices=list(METHODS), help="decoding method (default greedy)")
    engines = default_engines()
    gen.add_argument(
        "--engine",
        default=None,
        choices=[*(e.capabilities.name for e in engines), "remote"],
        help="generation engine (default: the fastest that can run the method here): "
        + "; ".join(f"{e.capabilities.name}: {e.capabilities.note}" for e in engines)
        + "; remote: a serving engine at --base-url (or RSDEMO_REMOTE_URL)",
    )
    gen.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="the serving engine's base URL, such as http://127.0.0.1:8000/v1 (implies --engine remote)",
    )
    gen.add_argument(
        "--server",
        default=None,
        choices=list(SERVER_KINDS),
        help="what the server at --base-url is (default: RSDEMO_REMOTE_SERVER, vllm)",
    )
    gen.add_argument(
        "--chat",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="apply the model's chat template (default on)",
    )
    gen.add_argument("--stop", action="append", default=[], help="a stop string (repeatable)")
    gen.add_argument("--no-probs", action="store_true", help="skip per-token probabilities (plain generate)")
    gen.add_argument("--json", action="store_true", help="print one JSON object: text, tokens (id, text, prob), ...")
    for param in _all_params():
        _add_param_flag(gen, param)
    add_export_flags(gen)
    gen.add_argument("prompt", nargs="?", help="the prompt; read from standard input when omitted")
    _insight_commands(sub)
    add_languages_command(sub)
    add_explain_commands(sub)
    add_lens_commands(sub)
    add_model_diff_commands(sub)
    return parser


def _insight_commands(sub: Any) -> None:
    """The ``surprisal`` and ``next-token`` subcommands."""
    sur = sub.add_parser("surprisal", help="how surprising each token of TEXT is to a model (log-probabilities)")
    sur.add_argument("-m", "--model", default=DEFAULT_MODEL)
    sur.add_argument(
        "--chat",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="score the text wrapped in the chat template (default off)",
    )
    sur.add_argument("--json", action="store_true")
    sur.add_argument("text", nargs="?", help="the text; read from standard input when omitted")
    nxt = sub.add_parser(
        "next-token",
        help="the next-token distribution after TEXT, through each decoding stage",
        description="The model's next-token distribution after the text, after each stage of the "
        "method's pipeline, in the order transformers applies them.",
    )
    nxt.add_argument("-m", "--model", default=DEFAULT_MODEL)
    nxt.add_argument("--method", default="top_p", choices=list(METHODS), help="decoding method (default top_p)")
    nxt.add_argument("--chat", action=argparse.BooleanOptionalAction, default=False)
    nxt.add_argument("--probe", action="append", default=[], help="a word or token to follow through (repeatable)")
    nxt.add_argument("--json", action="store_true")
    for param in _all_params():
        if param.name not in {"max_new_tokens", "seed"}:
            _add_param_flag(nxt, param)
    nxt.add_argument("text", nargs="?", help="the text; read from standard input when omitted")


def _all_params() -> list[Param]:
    """Every decoding parameter once (first definition wins for the help text; ranges are checked per method)."""
    seen: dict[str, Param] = {p.name: p for p in COMMON_PARAMS}
    for method in METHODS.values():
        for param in method.params:
            seen.setdefault(param.name, param)
    return list(seen.values())


def _add_param_flag(parser: argparse.ArgumentParser, param: Param) -> None:
    users = [m.key for m in METHODS.values() if any(p.name == param.name for p in m.params)]
    where = f" [{', '.join(users)}]" if users else ""
    flag = "--" + param.name.replace("_", "-")
    if param.kind == "bool":
        parser.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{param.label} (default {param.default}){where}",
        )
        return
    # taken as typed: the method's Param.check (rsdemo.arguments) reads it, with the app's and the API's rules
    # and messages ("8" is 8, 1.5 is no whole number, seed -1 draws one)
    parser.add_argument(
        flag,
        type=str,
        default=None,
        metavar="TEXT" if param.kind == "text" else "N",
        help=f"{param.label}: {param.takes}, default {param.default}{where}"
        + (f" — {param.info}" if param.info else ""),
    )


def _show_segments(result_segments: Sequence[object], out: TextIO, *, colour: bool) -> str:
    parts = []
    for n, seg in enumerate(result_segments):
        text = getattr(seg, "text", "")
        kind = getattr(seg, "kind", "token")
        if kind == "gap":
            parts.append(text)
        elif colour:
            parts.append(f"{_COLOURS[n % len(_COLOURS)]}{text or '∅'}{_RESET}")
        else:
            parts.append(f"[{text}]" if text else "[∅]")
    return "".join(parts)


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    try:
        backend = Backend(settings=_settings_for(args))
        if args.command == "tokenizers":
            width = max(map(len, TOKENIZERS))
            for key, spec in TOKENIZERS.items():
                out.write(f"{key:<{width}}  {spec.family:<22}  {spec.label}\n")
            return 0
        if args.command == "tokenize":
            text = args.text if args.text is not None else stdin.read()
            result = backend.tokenize(
                text=text, tokenizer=args.tokenizer, add_special_tokens=args.special, display_limit=None
            )
            export_tokens(args, result)
            if args.json:
                out.write(json.dumps(tokenize_reply(result), ensure_ascii=False) + "\n")
            else:
                colour = out.isatty()
                out.write(_show_segments(result.segments, out, colour=colour) + "\n")
                out.write(f"ids: {result.ids}\n")
                s = result.stats
                out.write(
                    f"{s.tokens} tokens, {s.chars} chars, {s.bytes} bytes, {s.words} words, "
                    f"{s.chars_per_token} chars/token, vocabulary {s.vocab_size:,}\n"
                )
            return 0
        if args.command == "models":
            width = max(map(len, MODELS))
            for key, spec in MODELS.items():
                where = "offline" if spec.source == "gguf" else f"Hub: {spec.repo_id}"
                if not model_installed(spec):  # an opt-in model: how to get it
                    where = f"not installed: {spec.install}"
                out.write(f"{key:<{width}}  {spec.params_m:>5}M  {where:<40}  {spec.label}\n")
            return 0
        if args.command in EXPLAIN_COMMANDS:
            return run_explain(args, backend, stdin, out)
        if args.command in LENS_COMMANDS:
            return run_lens(args, backend, stdin, out)
        if args.command in MODEL_DIFF_COMMANDS:
            return run_model_diff(args, backend, stdin, out)
        if args.command == "generate":
            return _generate(args, backend, stdin, out)
        if args.command == "surprisal":
            return _surprisal(args, backend, stdin, out)
        if args.command == "next-token":
            return _next_token(args, backend, stdin, out)
        if args.command == "languages":
            return run_languages(args, backend, out)
        if args.command == "checkpoint":
            out.write(f"{converted_checkpoint(key=args.model, settings=backend.settings)}\n")
            return 0
        if args.command == "settings":
            values = dataclasses.asdict(backend.settings)
            for (env, default, meaning), value in zip(settings_table(), values.values()):
                out.write(f"{env:<28} {str(value):<24} (default {default}) {meaning}\n")
            return 0
        raw = args.ids if args.ids is not None else stdin.read()
        decoded = backend.decode(ids=raw, tokenizer=args.tokenizer)
        if args.json:
            payload = decode_reply(decoded)
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        else:
            out.write(decoded.text + "\n")
        return 0
    except RsdemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _method_params(args: argparse.Namespace) -> dict[str, object]:
    method = METHODS[args.method]
    allowed = {p.name for p in method.params} | {p.name for p in COMMON_PARAMS}
    params = {}
    for param in _all_params():
        value = getattr(args, param.name, None)
        if value is None:
            continue
        if param.name not in allowed:
            raise InputError(f"--{param.name.replace('_', '-')} does not apply to {method.label}.")
        params[param.name] = value
    return params


def _surprisal(args: argparse.Namespace, backend: Backend, stdin: TextIO, out: TextIO) -> int:
    text = args.text if args.text is not None else stdin.read()
    result = backend.surprisal(model=args.model, prompt=text, chat=args.chat)
    if args.json:
        out.write(json.dumps(surprisal_reply(result), ensure_ascii=False) + "\n")
        return 0
    s = result.surprisal
    for token, logprob in zip(result.tokens, s.logprobs):
        shown = "" if logprob is None else f"{logprob:8.3f}  {'#' * min(40, round(-logprob * 4))}"
        out.write(f"{token.id:>7}  {json.dumps(token.text, ensure_ascii=False):<20} {shown}\n")
    if s.mean_logprob is not None:
        out.write(f"mean log-prob {s.mean_logprob:.3f}, perplexity {s.perplexity:.2f} over {len(s.ids) - 1} tokens\n")
    return 0


def _next_token(args: argparse.Namespace, backend: Backend, stdin: TextIO, out: TextIO) -> int:
    text = args.text if args.text is not None else stdin.read()
    result = backend.next_token(
        model=args.model,
        prompt=text,
        chat=args.chat,
        method=args.method,
        params=_method_params(args),
        probes="\n".join(args.probe),
    )
    if args.json:
        out.write(json.dumps(next_token_reply(result), ensure_ascii=False) + "\n")
        return 0
    out.write("stages: " + " -> ".join(result.order) + "\n")
    for row in result.view.rows:
        out.write(f"== {row.name}: {row.survivors:,} tokens left, entropy {row.entropy_bits:.2f} bits\n")
        for token_id, prob in row.top:
            text_shown = json.dumps(result.pieces.get(token_id, ""), ensure_ascii=False)
            out.write(f"  {prob * 100:6.2f}%  {'#' * round(prob * 30):<30} {text_shown} ({token_id})\n")
        for typed, token_id in result.probes:
            prob, rank = row.probes.get(token_id, (0.0, None))
            where = f"rank {rank:,}" if rank is not None else "removed"
            out.write(f"  probe {json.dumps(typed, ensure_ascii=False)} ({token_id}): {prob * 100:.4f}%, {where}\n")
    return 0


def _settings_for(args: argparse.Namespace) -> Settings:
    """The settings in force, with ``--base-url`` / ``--server`` / ``--model`` naming the serving engine.

    On the command line the person typing is the operator, so a URL may come from a flag; in the app it comes
    from the operator's settings only.
    """
    settings = get_settings()
    if getattr(args, "base_url", None) or getattr(args, "engine", None) == "remote":
        changes: dict[str, object] = {"remote_model": args.model}
        if args.base_url:
            changes["remote_url"] = args.base_url
            args.engine = "remote"
        if args.server:
            changes["remote_server"] = args.server
        settings = dataclasses.replace(settings, **changes)
        if not settings.remote_url:
            raise InputError("--engine remote needs --base-url URL (or RSDEMO_REMOTE_URL).", field="engine")
    return settings


def _generate(args: argparse.Namespace, backend: Backend, stdin: TextIO, out: TextIO) -> int:
    prompt = args.prompt if args.prompt is not None else stdin.read()
    params = _method_params(args)
    final = None
    streamed = 0
    for result in backend.generate(
        model=args.model,
        prompt=prompt,
        method=args.method,
        params=params,
        chat=args.chat,
        stop="\n".join(args.stop) or None,
        details=not args.no_probs,
        engine=args.engine,
    ):
        if result.waiting is not None:
            continue  # another run holds the slot (several runs share this backend only inside the app)
        if not result.done and not args.json:
            text = result.text
            out.write(text[streamed:])
            out.flush()
            streamed = len(text)
        final = result
    assert final is not None
    export_run(args, final)
    if args.json:
        payload = {
            "model": final.model,
            "method": final.method,
            "params": final.params,
            "seed": final.seed,
            "prompt": final.prompt.text,
            "text": final.text,
            "tokens": [
                {
                    "id": t.id,
                    "text": t.text,
                    "piece": t.piece,
                    "prob": _num(t.prob if t.prob is not None else t.raw_prob),
                    "raw_prob": _num(t.raw_prob),
                }
                for t in final.tokens
            ],
            "beams": [{"text": b.text, "score": b.score} for b in final.beams],
            "finish_reason": final.finish_reason,
            "logprob": _num(final.logprob),
            "perplexity": _num(final.perplexity),
            "tokens_per_s": final.tokens_per_s,
            "engine": final.engine,
            "engine_reason": final.engine_reason,
            "notes": list(final.notes),
        }
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return 0
    if len(final.beams) > 1 or streamed == 0:
        for n, beam in enumerate(final.beams):
            score = f" (score {beam.score:.3f})" if beam.score is not None else ""
            out.write((f"--- beam {n + 1}{score}\n" if len(final.beams) > 1 else "") + beam.text + "\n")
    else:
        out.write(final.text[streamed:] + "\n")
    stats = f"[{final.engine}: {len(final.tokens)} tokens, {final.finish_reason}"
    if final.tokens_per_s:
        stats += f", {final.tokens_per_s:.1f} tokens/s"
    if final.perplexity is not None and final.perplexity == final.perplexity:
        stats += f", perplexity {final.perplexity:.2f}"
    sys.stderr.write(stats + f", seed {final.seed}]\n")
    for note in final.notes:
        sys.stderr.write(f"note: {note}\n")
    return 0


def _num(value: float | None) -> float | None:
    return None if value is None or value != value else value
