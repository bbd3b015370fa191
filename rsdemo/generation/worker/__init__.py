"""Generation in worker processes of their own, at a low CPU priority: llama.cpp's decode loop, transformers' runs.

Why: generation does Python work for every token (the softmax, transformers' decoding stages, the draw, the
alternatives; transformers' whole ``generate`` loop). On a thread of the app that work takes the app's one
interpreter lock, and a thread holding it at a low priority stalls every tokenize / compare / decode request
behind it: on 2 cores two generations cut the light throughput to 55-70 % (``benchmarks/README.md``). In a child
process generation has an interpreter of its own, and the kernel's priorities work: each run reads its prompt
and draws its first token at ``generation_nice`` (``generation_boost``: at the app's priority), then its threads
(its own, and the OpenMP teams llama.cpp and torch started from it) go under ``SCHED_IDLE``
(``generation_idle``, the default) or stay at the nice value, so the rest of the run takes only the CPU that
light requests leave idle. Where Linux's autogroup scheduler is on (a desktop, a VM; not inside a container's
cgroup), the CPU is first shared between sessions and only then between the tasks of one: a worker in the
app's session gets its ``SCHED_IDLE`` time out of the app's share, so with other sessions busy (a browser, or
load-test clients on the same machine) it still took CPU the app wanted. With ``generation_idle`` the worker
therefore starts a session of its own and sets its group's nice (``/proc/self/autogroup``, which needs no
privilege): 0 while it loads its model, while a run reads its prompt (a long prompt is read at the group's
full weight) or a view asks for logits, 19 once every run has its first token (``scheduling.Autogroup``).
Its threads also ask for the kernel's shortest time slice (``scheduling.short_slice``, 0.1 ms): a task that
wakes on a core a decode holds waits at most about that long when the two are in different groups (instead of up to the
default slice, 1.4 ms on the 2-core machine measured). Without ``generation_idle`` it stays in the app's
session, where its nice values count against the app's threads.

One worker per loaded model. llama.cpp's (``LlamaCppWorkerModel``) loads the same GGUF file (memory-mapped, so
the page cache is shared) and the tokenizer, and runs one thread per run, as many at once as there are
generation slots; the app keeps the tokenizer too (it builds the prompt and names the alternatives), sends each
run as a ``DecodeJob`` and reads the same events the thread version yields: ``token`` per token, then ``end``
or ``error``. transformers' (``TransformersWorker``) loads its own copy of the model and runs
``generate_stream`` whole; streamed updates cross as their new tokens only (a whole update when a beam search's
leading candidate changes), and a ``tick`` a second tells the app the run is alive. Stop, a visitor leaving and
the time limit reach the child as a ``cancel`` message. The child ends with the app: when the app exits or is
killed, the kernel closes the app's end of the pipe and the child's read ends (``PR_SET_PDEATHSIG`` would not
do: it fires when the *thread* that started the child ends, and Gradio's worker threads come and go). A worker
that dies mid-run fails that run with a clear message, and the next run starts a new one.

scheduling.py  the priorities: lowered threads, ``SCHED_IDLE``, the autogroup's nice, the short time slice
protocol.py    what crosses the pipe: messages, events, errors as plain data
client.py      the app's side: ``spawn``, ``DecodeWorker``, ``LlamaCppWorkerModel``, ``TransformersWorker``

The worker's own entry point is ``rsdemo.generation.child.worker``: it imports the engines, which import this
package, so it lives outside it.
"""
