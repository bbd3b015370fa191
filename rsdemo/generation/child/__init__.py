"""The entry points of generation's child processes; each is started by module name (``core.children``).

worker.py    a generation worker: loads a model, runs what the app sends (``rsdemo.generation.worker``)
probe.py     the llama.cpp self-check where a crash costs nothing (``engine_check.probe``)
quantize.py  llama.cpp's quantizer, building a GGUF file of other weights (``llamacpp_weights``)

They import the engines; nothing imports them back, so the engines and the app's side of the worker never
import the code that runs in the children.
"""
