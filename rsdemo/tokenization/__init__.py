"""Text to tokens and back: one adapter per tokenizer library, and the pure views of a tokenisation.

adapters.py   tiktoken, sentencepiece, tokenizers (Hugging Face), characters, bytes: ids + char offsets
long_runs.py  tiktoken on million-character whitespace runs, with tiktoken's own ids
segments.py   tokens + offsets -> segments that tile the text (byte-exact)
compare.py    which token boundaries several tokenizers do not share
stats.py      counts over a tokenised text
"""
