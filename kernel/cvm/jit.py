"""The JIT: closure bodies compiled to Python functions once they are hot.

Walking an op tree costs a Python call per op plus juice and depth bookkeeping on each; a
body compiled to one Python function (kernel/jit_gen.py) does the same work in straight-line
code. The interpreter stays the reference semantics: compiled code must give the same
values, errors, traces, juice (at every point a program or the caller can observe it),
*result* updates and depth errors, and falls back to the interpreter wherever it would not.

`Fn.invoke` runs its body through `run_body`. The compiled function is cached on the body
op, which every closure made from the same `fn` form shares. Calls from compiled code to a
closure whose body is compiled skip `Fn.invoke`: they enter its direct entry
(kernel/jit_calls.py), compiled on demand by `compile_direct`. `THRESHOLD` is the number of
interpreted calls of a body before it is compiled: 0 compiles on the first call, None turns
the JIT off (tests run programs both ways and compare).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from kernel.cvm.context import Context
from kernel.cvm.ops import Op

THRESHOLD: Optional[int] = 2
INLINE = 6      # recursive calls a direct entry inlines at most (each copies the body)


def run_body(body: Any, ctx: Context, env: list, d: int) -> Any:
    """`body.ex(ctx, env, d)`, compiled once the body is hot."""
    if THRESHOLD is not None:
        code = getattr(body, "jit_code", None)
        if code is not None or (code := _warm(body, len(env))) is not None:
            return code(ctx, env, d)
    return body.ex(ctx, env, d)


def _warm(body: Any, nlocals: int) -> Optional[Callable]:
    """Count a call of a body; compile it when it reaches the threshold."""
    if not isinstance(body, Op):
        return None
    calls = getattr(body, "jit_calls", 0)
    try:
        if calls < THRESHOLD:
            body.jit_calls = calls + 1
            return None
        code = body.jit_code = compile_body(body, nlocals)
    except AttributeError:      # an op that cannot carry the cache: always interpreted
        return None
    return code


def compile_body(body: Op, nlocals: int) -> Callable:
    """The compiled form of a body for calls with `nlocals` bindings, or the interpreter's
    `body.ex` when Python cannot compile the generated code (nesting beyond its limits)."""
    from kernel.cvm.jit_gen import generate

    try:
        return generate(body, nlocals)
    except (SyntaxError, RecursionError, MemoryError):
        return body.ex


def compile_direct(body: Op, captured: int, nparams: int) -> Optional[Callable]:
    """The direct entry of a body for closures capturing `captured` bindings and taking
    `nparams` arguments (without inlined recursive calls if Python cannot compile it with
    them), or None when Python cannot compile it."""
    from kernel.cvm.jit_gen import generate

    for inline in (INLINE, 0):
        try:
            return generate(body, captured + nparams, captured, inline)
        except (SyntaxError, RecursionError, MemoryError):
            pass
    return None


@contextmanager
def threshold(n: Optional[int]) -> Iterator[None]:
    """Run with another THRESHOLD (0: compile every body on its first call; None: JIT off)."""
    global THRESHOLD
    saved = THRESHOLD
    THRESHOLD = n
    try:
        yield
    finally:
        THRESHOLD = saved
